//! The integration suite, as one test binary (one link of the whole dev stack, not seven). Each
//! module drives the API over HTTP as a connector would, through the named helpers in
//! `ledgerdock_tests` (the `support/` folder).
//!
//! `sam_local` needs Docker and is `#[ignore]`d here; CI runs it as its own step with
//! `cargo test -p ledgerdock-tests --test api -- --ignored sam_local`.

mod auth_and_errors;
mod bulk;
mod dev_stack;
mod export;
mod imports;
mod least_privilege;
mod round_trips;
mod runtime_emulator;
mod sam_local;
mod tenancy_and_limits;
mod webhook_dispatch;
mod webhook_store;
mod webhooks;
