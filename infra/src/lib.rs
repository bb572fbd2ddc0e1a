//! Everything about where ledgerdock runs, none of it linked into a Lambda binary:
//! the `ledgerdock` CLI, the dev stack with its embedded engines, bootstrap, demo data.

pub mod bootstrap;
pub mod cli;
pub mod clients;
pub mod dev;
pub mod oauth;
pub mod samples;
pub mod seed;
