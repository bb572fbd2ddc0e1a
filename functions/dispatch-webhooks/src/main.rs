//! Lambda entry point for the scheduled webhook dispatch (retries and stranded first attempts).
//! Logic: `ledgerdock_shared::handlers::webhooks::dispatch_webhooks`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::lambda_runtime::Error> {
    // The schedule's event carries nothing the dispatch needs.
    ledgerdock_shared::runtime::run_event(|state, _event: serde_json::Value| {
        ledgerdock_shared::handlers::webhooks::dispatch_webhooks::handle(state)
    })
    .await
}
