//! What every function's `main` does: set up logging, build the state once per container,
//! then serve invocations with it.

use std::convert::Infallible;

use lambda_http::{service_fn, Request};

use crate::app::AppState;
use crate::handlers::Handler;

/// Runs an API Gateway (REST, payload v1) handler.
pub async fn run_http(handler: Handler) -> Result<(), lambda_http::Error> {
    crate::telemetry::init_json();
    // Leaked once: the state lives as long as the container, and requests borrow it freely.
    let state: &'static AppState = Box::leak(Box::new(AppState::from_env().await?));
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(handler(state, req).await)
    }))
    .await
}
