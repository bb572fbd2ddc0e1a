//! The reference connector: what `ledgerdock poll` and `ledgerdock listen` run, calling the API
//! over HTTP exactly as any integrating system would (the dev stack or a deployed one).
//!
//! - [`api`]: OAuth2 client credentials, the company header, retries
//! - [`http`]: the HTTP(S) client under it
//! - [`poll`]: claim → write → complete, crash-safe; with [`journal`] (what was claimed and
//!   finished), [`out_dir`] (whole files only) and [`progress`] (the bar)
//! - [`listen`]: the event feed forwarded to a local receiver as signed webhook deliveries

pub mod api;
pub mod http;
pub mod journal;
pub mod listen;
pub mod out_dir;
pub mod poll;
pub mod progress;
