//! The `ledgerdock` commands, one module each; `main.rs` only parses and dispatches.

pub mod clients;
pub mod connection;
pub mod dev;
pub mod invoices;
pub mod listen;
pub mod poll;
pub mod trigger;
