//! What every function's `main` does: set up logging, build the state once per container,
//! then serve invocations with it.

use std::convert::Infallible;
use std::future::Future;

use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{service_fn, Request};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::app::AppState;
use crate::error::ApiError;

/// Leaked once: the state lives as long as the container, and invocations borrow it freely.
async fn state() -> Result<&'static AppState, crate::config::ConfigError> {
    crate::telemetry::init_json();
    Ok(Box::leak(Box::new(AppState::from_env().await?)))
}

/// Runs the API Gateway (REST, payload v1) route that `function` serves (see `ROUTES`).
pub async fn run_http(function: &str) -> Result<(), lambda_http::Error> {
    let route = crate::handlers::route(function).ok_or_else(|| {
        format!("{function} serves no route in ledgerdock_shared::handlers::ROUTES")
    })?;
    let state = state().await?;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>((route.handler)(state, route, req).await)
    }))
    .await
}

/// Runs a handler for events that do not come through API Gateway (an S3 notification, a
/// schedule, a direct invoke). The event is parsed here, so a malformed one fails with a
/// message naming the field; an `ApiError` becomes the invocation's error, which makes Lambda
/// retry an asynchronous event.
pub async fn run_event<E, R, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    E: DeserializeOwned,
    R: Serialize,
    F: Fn(&'static AppState, E) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<R, ApiError>> + Send,
{
    let state = state().await?;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let request_id = event.context.request_id.clone();
            let parsed: E = serde_path_to_error::deserialize(event.payload).map_err(|e| {
                lambda_runtime::Error::from(format!("invalid event at {}: {}", e.path(), e.inner()))
            })?;
            let result = handler(state, parsed)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.body(&request_id).to_string()))?;
            serde_json::to_value(result).map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
