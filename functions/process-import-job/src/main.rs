//! Lambda entry point for the S3 "object created" notification on `imports/`. The event and
//! its handling live in `ledgerdock_shared::handlers::imports::process_import_job`. An error makes
//! Lambda retry the event; the worker is idempotent, so that is safe.

// The worker's nested async state machine is deeper than rustc's default layout query limit.
#![recursion_limit = "256"]

use ledgerdock_shared::handlers::imports::process_import_job::{handle, S3Event};

#[tokio::main]
async fn main() -> Result<(), lambda_http::lambda_runtime::Error> {
    ledgerdock_shared::runtime::run_event(|state, event: S3Event| async move {
        let handled = handle(state, event).await?;
        Ok(serde_json::json!({ "handled": handled.len() }))
    })
    .await
}
