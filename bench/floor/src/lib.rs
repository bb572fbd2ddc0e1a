//! The floor every ledgerdock function stands on, and the bench measures each one against: a
//! `lambda_http` function that does what any function of this design must do and nothing of
//! ledgerdock's own.
//!
//! - At init: the AWS configuration from the environment (credentials, region) with the same
//!   timeouts and retries the functions set, a DynamoDB client (and, in `floor-s3`, an S3
//!   client as the functions that presign or read objects build one), and the same warm-up
//!   GetItem that opens the DynamoDB connection before the first request.
//! - Per request: one GetItem, and a small JSON answer.
//!
//! It reads the two settings it needs under the functions' own names (`LEDGERDOCK_TABLE`, and
//! the endpoint override the local stack sets), so the bench runs it with any function's
//! environment. It does not depend on `ledgerdock-shared`: nothing of ours is in the floor.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use lambda_http::{service_fn, Body, Request, Response};

/// The same bounds the functions put on every SDK call (shared/src/foundation/sdk.rs).
fn sdk_bounds() -> (TimeoutConfig, RetryConfig) {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(6))
        .build();
    (timeouts, RetryConfig::standard().with_max_attempts(3))
}

pub async fn sdk_config() -> SdkConfig {
    let (timeouts, retries) = sdk_bounds();
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(retries)
        .load()
        .await
}

/// An S3 client configured as the functions configure theirs (path style when told to).
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let mut s3 = aws_sdk_s3::config::Builder::from(sdk).force_path_style(
        std::env::var("LEDGERDOCK_S3_FORCE_PATH_STYLE").is_ok_and(|v| v == "true"),
    );
    if let Ok(url) = std::env::var("LEDGERDOCK_S3_ENDPOINT_URL") {
        s3 = s3.endpoint_url(url);
    }
    aws_sdk_s3::Client::from_conf(s3.build())
}

/// The DynamoDB side of the floor: a client, the table, and the one key it reads.
pub struct Floor {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl Floor {
    pub fn new(sdk: &SdkConfig) -> Self {
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk);
        if let Ok(url) = std::env::var("LEDGERDOCK_DYNAMODB_ENDPOINT_URL") {
            dynamodb = dynamodb.endpoint_url(url);
        }
        Self {
            client: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            table: std::env::var("LEDGERDOCK_TABLE").unwrap_or_else(|_| "ledgerdock".into()),
        }
    }

    /// One GetItem of an item nobody writes (the key the functions' warm-up reads): whether
    /// it was there.
    async fn get_item(&self) -> Result<bool, String> {
        let key = HashMap::from([
            ("pk".to_string(), AttributeValue::S("CLIENT#-".into())),
            (
                "sk".to_string(),
                AttributeValue::S("COMPANY#00000000-0000-0000-0000-000000000000".into()),
            ),
        ]);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .projection_expression("scopes")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(out.item.is_some())
    }

    /// The warm-up: the same GetItem, answered or refused within 2 s (either will do).
    pub async fn open_connection(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.get_item()).await;
    }

    /// Serves every request with one GetItem.
    pub async fn run(&'static self) -> Result<(), lambda_http::Error> {
        lambda_http::run(service_fn(move |_: Request| async move {
            let (status, body) = match self.get_item().await {
                Ok(found) => (200, format!(r#"{{"found":{found}}}"#)),
                Err(_) => (503, r#"{"error":"UNAVAILABLE"}"#.to_string()),
            };
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = lambda_http::http::StatusCode::from_u16(status).unwrap();
            response.headers_mut().insert(
                "content-type",
                lambda_http::http::HeaderValue::from_static("application/json"),
            );
            Ok::<_, Infallible>(response)
        }))
        .await
    }
}
