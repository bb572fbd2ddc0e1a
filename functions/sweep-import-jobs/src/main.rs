//! Lambda entry point for the scheduled sweep that fails import jobs left IN_PROGRESS past
//! their deadline. Logic: `ledgerdock_shared::handlers::sweep_import_jobs`.

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use ledgerdock_shared::AppState;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ledgerdock_shared::telemetry::init_json();
    let state: &'static AppState = Box::leak(Box::new(AppState::from_env().await?));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let request_id = event.context.request_id.clone();
            let failed = ledgerdock_shared::handlers::sweep_import_jobs::handle(state)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.body(&request_id).to_string()))?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "failedJobs": failed }))
        },
    ))
    .await
}
