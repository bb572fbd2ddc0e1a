//! Subcommands of the `ledgerdock` binary that are big enough for a module of their own.

pub mod clients;
