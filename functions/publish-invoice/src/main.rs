//! Lambda entry point for the internal publish path (invoked directly by the platform, not
//! through API Gateway). The event and its handling live in
//! `ledgerdock_shared::handlers::publish_invoice`.

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use ledgerdock_shared::handlers::publish_invoice::{handle, PublishInvoiceEvent};
use ledgerdock_shared::AppState;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ledgerdock_shared::telemetry::init_json();
    let state: &'static AppState = Box::leak(Box::new(AppState::from_env().await?));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let request_id = event.context.request_id.clone();
            // Parsed here rather than by the runtime so a bad event gets a message naming the field.
            let parsed: PublishInvoiceEvent = serde_json::from_value(event.payload)
                .map_err(|e| lambda_runtime::Error::from(format!("invalid publish event: {e}")))?;
            handle(state, parsed)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.body(&request_id).to_string()))
        },
    ))
    .await
}
