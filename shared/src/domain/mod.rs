//! Domain types: parsed and validated at the edge, so handlers work with meaning, not strings.

mod export;
mod ids;
mod import_job;
mod invoice;
pub mod iso;
mod money;
mod scope;
pub mod supplier;
pub mod text;
mod time;

pub use export::*;
pub use ids::{CompanyId, InvoiceId, JobId};
pub use import_job::*;
pub use invoice::*;
pub use money::{CurrencyCode, Decimal2, Money, Quantity, MAX_SCALE};
pub use scope::{Scope, RESOURCE_SERVER};
pub use time::Timestamp;
