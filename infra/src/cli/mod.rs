//! The `ledgerdock` commands, one module each; `main.rs` only parses and dispatches.

pub mod clients;
pub mod dev;
pub mod invoices;
