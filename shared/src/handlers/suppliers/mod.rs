//! The supplier cards import jobs wrote: listing and reading them.

pub mod get_supplier;
pub mod list_suppliers;
