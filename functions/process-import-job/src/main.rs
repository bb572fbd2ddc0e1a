//! Lambda entry point for the S3 "object created" notification on `imports/`. The event and
//! its handling live in `ledgerdock_shared::handlers::process_import_job`.

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use ledgerdock_shared::handlers::process_import_job::{handle, S3Event};
use ledgerdock_shared::AppState;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ledgerdock_shared::telemetry::init_json();
    let state: &'static AppState = Box::leak(Box::new(AppState::from_env().await?));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let request_id = event.context.request_id.clone();
            let parsed: S3Event = serde_json::from_value(event.payload)
                .map_err(|e| lambda_runtime::Error::from(format!("not an S3 event: {e}")))?;
            // An error makes Lambda retry the event; the worker is idempotent, so that is safe.
            let results = handle(state, parsed)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.body(&request_id).to_string()))?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "handled": results.len() }))
        },
    ))
    .await
}
