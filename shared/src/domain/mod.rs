//! Domain types: parsed and validated at the edge, so handlers work with meaning, not strings.

mod ids;
mod invoice;
mod money;
mod time;

pub use ids::{CompanyId, InvoiceId};
pub use invoice::*;
pub use money::{CurrencyCode, Decimal2, Money, Quantity, MAX_SCALE};
pub use time::Timestamp;
