//! Domain types: parsed and validated at the edge, so handlers work with meaning, not strings.

pub mod claims;
pub mod events;
mod export;
pub mod history;
pub mod idempotency;
mod ids;
mod import_job;
mod invoice;
pub mod iso;
pub mod master_data;
mod money;
mod scope;
pub mod supplier;
pub mod text;
mod time;
pub mod webhook;
pub mod webhook_signing;

pub use events::{EventId, FeedCursor};
pub use export::*;
pub use ids::{CompanyId, InvoiceId, JobId, SubscriptionId};
pub use import_job::*;
pub use invoice::*;
pub use money::{CurrencyCode, Decimal2, Money, Quantity, MAX_SCALE};
pub use scope::{Scope, RESOURCE_SERVER};
pub use time::Timestamp;

/// A JSON number that is a whole number, as JSON Schema counts one: `30` and `30.0` alike
/// (some JSON encoders write every number with a fraction).
pub fn whole_number(value: &serde_json::Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 9_007_199_254_740_992.0)
            .map(|f| f as u64)
    })
}
