//! Tests that reach inside: they drive a function's own state, a feature or a store directly
//! against the same stack's engines (the dev stack hosts the engines, and it depends on the
//! library, so these cannot live in `shared`). Everything outside this folder reaches only the
//! API over HTTP and the `TestStack` steps (`tests/api/main.rs` checks).

mod event_feed;
mod functions;
mod import_worker;
mod invoice_store;
mod least_privilege;
mod round_trips;
mod webhook_dispatch;
mod webhook_store;
