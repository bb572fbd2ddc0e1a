//! What every function's `main` does: set up logging, build the state once per container,
//! then serve invocations with it.

use std::convert::Infallible;
use std::future::Future;

use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{service_fn, Request};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::app::AppState;
use crate::foundation::error::ApiError;
use crate::gate::Route;

/// Leaked once: the state lives as long as the container, and invocations borrow it freely.
/// A container that cannot start (a missing or invalid setting) tells Lambda so through the
/// Runtime API's init-error endpoint, logs one line saying what is wrong, and exits: Lambda
/// then reports `Runtime.ConfigError` with that message instead of a crashed process.
async fn state(pages: bool) -> &'static AppState {
    crate::foundation::telemetry::init_json();
    match AppState::from_env(pages).await {
        Ok(state) => Box::leak(Box::new(state)),
        Err(e) => fail_init("Runtime.ConfigError", &e.to_string()).await,
    }
}

/// Reports an init failure to the Lambda Runtime API (when there is one), logs it, exits.
async fn fail_init(error_type: &str, message: &str) -> ! {
    tracing::error!(error_type, reason = message, "function cannot start");
    if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
        if let Err(e) = report_init_error(&api, error_type, message).await {
            tracing::error!(error = %e, "reporting the init error to the Runtime API failed");
        }
    }
    std::process::exit(1)
}

/// `POST /2018-06-01/runtime/init/error` on the Runtime API (`host:port`, plain HTTP/1.1 on
/// the sandbox's loopback), with the error type header and the `{errorMessage, errorType}`
/// body the Runtime API documents.
pub async fn report_init_error(
    runtime_api: &str,
    error_type: &str,
    message: &str,
) -> std::io::Result<u16> {
    let body = serde_json::json!({"errorMessage": message, "errorType": error_type}).to_string();
    let (status, _) = crate::foundation::plain_http::send(
        runtime_api,
        "POST",
        "/2018-06-01/runtime/init/error",
        &[
            ("Lambda-Runtime-Function-Error-Type", error_type),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .await?;
    Ok(status)
}

/// What an event function's failed invocation reports: the API's error code as `errorType`
/// (never a Rust type name) and the error body as `errorMessage`.
pub fn diagnostic(error: &ApiError, request_id: &str) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: error.code().to_string(),
        error_message: error.body(request_id).to_string(),
    }
}

/// Runs one API Gateway (REST, payload v1) route: every request goes through the gate to the
/// route's handler.
pub async fn run_http(route: &'static Route) -> Result<(), lambda_http::Error> {
    let state = state(route.pages).await;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(crate::gate::serve(state, route, req).await)
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
    let state = state(false).await;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let request_id = event.context.request_id.clone();
            let parsed: E = serde_path_to_error::deserialize(event.payload).map_err(|e| {
                let field = e.path().to_string();
                let message = crate::edge::without_type_names(&e.inner().to_string());
                diagnostic(&ApiError::field(field, message), &request_id)
            })?;
            let result = handler(state, parsed)
                .await
                .map_err(|e| diagnostic(&e, &request_id))?;
            serde_json::to_value(result)
                .map_err(|e| diagnostic(&ApiError::internal(e), &request_id))
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_errors_name_the_api_code_never_a_rust_type() {
        let d = diagnostic(&ApiError::field("invoice.currency", "bad"), "r-1");
        assert_eq!(d.error_type, "VALIDATION_ERROR");
        let body: serde_json::Value = serde_json::from_str(&d.error_message).unwrap();
        assert_eq!(body["error"]["details"][0]["field"], "invoice.currency");
        assert_eq!(body["error"]["requestId"], "r-1");
        let d = diagnostic(&ApiError::internal("secret cause"), "r-2");
        assert_eq!(d.error_type, "INTERNAL");
        assert!(!d.error_message.contains("secret cause"));
    }

    #[tokio::test]
    async fn an_init_error_reaches_the_runtime_api_as_documented() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head and the whole body (Content-Length), then answer 202.
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .unwrap()
                        .parse()
                        .unwrap();
                    if body.len() >= length {
                        break;
                    }
                }
            }
            socket
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8(request).unwrap()
        });
        let status = report_init_error(&api, "Runtime.ConfigError", "LEDGERDOCK_TABLE must be set")
            .await
            .unwrap();
        assert_eq!(status, 202);
        let request = server.await.unwrap();
        assert!(request.starts_with("POST /2018-06-01/runtime/init/error HTTP/1.1\r\n"));
        assert!(request.contains("Lambda-Runtime-Function-Error-Type: Runtime.ConfigError\r\n"));
        let body: serde_json::Value =
            serde_json::from_str(request.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"errorMessage": "LEDGERDOCK_TABLE must be set", "errorType": "Runtime.ConfigError"})
        );
    }
}
