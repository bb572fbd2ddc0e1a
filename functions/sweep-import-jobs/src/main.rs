//! Lambda entry point for the scheduled sweep that fails import jobs left IN_PROGRESS past
//! their deadline. Logic: `ledgerdock_shared::handlers::imports::sweep_import_jobs`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::lambda_runtime::Error> {
    // The schedule's event carries nothing the sweep needs.
    ledgerdock_shared::runtime::run_event(|state, _event: serde_json::Value| {
        ledgerdock_shared::handlers::imports::sweep_import_jobs::handle(state)
    })
    .await
}
