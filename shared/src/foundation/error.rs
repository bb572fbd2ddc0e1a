//! The one error model of the API: every failure a handler can meet becomes an [`ApiError`], and
//! [`ApiError::into_response`] is the single place that turns it into a status and JSON body.

use http::StatusCode;
use serde::Serialize;
use serde_json::json;

/// One problem with one input field, reported back to the client by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Everything that can go wrong while serving a request.
///
/// Messages are safe to show a client: AWS error text and internal causes are only logged.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    Validation {
        message: String,
        details: Vec<FieldError>,
    },
    #[error("{0}")]
    InvalidContinuationKey(String),
    #[error("{0}")]
    NotFound(String),
    /// A state-machine transition that the resource's current state does not allow.
    #[error("{message}")]
    InvalidStateTransition {
        message: String,
        current_status: String,
    },
    /// An Idempotency-Key sent again with a different request (or by another client).
    #[error("{0}")]
    IdempotencyKeyReused(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The company has as many import jobs in progress as it may.
    #[error("{message}")]
    TooManyOpenJobs {
        message: String,
        retry_after_secs: u64,
    },
    /// The caller already holds as many of something as it may (webhook subscriptions).
    #[error("{0}")]
    LimitReached(String),
    /// Another call changed the resource in a way this one cannot be applied on top of (two
    /// secret rotations at once): nothing was changed, and the call may be sent again.
    #[error("{0}")]
    Conflict(String),
    /// A dependency is overloaded (DynamoDB throttling after the SDK's own retries).
    #[error("the service is temporarily unavailable")]
    Unavailable {
        retry_after_secs: u64,
        cause: String,
    },
    /// A bug or an unexpected dependency failure. The cause is logged, never returned.
    #[error("internal error")]
    Internal(String),
}

/// A field that failed to parse is a 400 naming it (so `?` turns a domain type's refusal into
/// the API's answer).
impl From<FieldError> for ApiError {
    fn from(detail: FieldError) -> Self {
        Self::fields(vec![detail])
    }
}

impl ApiError {
    /// A 400 for a single named field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let detail = FieldError::new(field, message);
        Self::Validation {
            message: format!("{}: {}", detail.field, detail.message),
            details: vec![detail],
        }
    }

    /// A 400 for several fields at once, so a client can fix everything in one round.
    pub fn fields(details: Vec<FieldError>) -> Self {
        let message = match details.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        Self::Validation { message, details }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Validation { .. } | Self::InvalidContinuationKey(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::InvalidStateTransition { .. } | Self::LimitReached(_) | Self::Conflict(_) => {
                StatusCode::CONFLICT
            }
            Self::IdempotencyKeyReused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } | Self::TooManyOpenJobs { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Validation { .. } => "VALIDATION_ERROR",
            Self::InvalidContinuationKey(_) => "INVALID_CONTINUATION_KEY",
            Self::NotFound(_) => "NOT_FOUND",
            Self::InvalidStateTransition { .. } => "INVALID_STATE_TRANSITION",
            Self::IdempotencyKeyReused(_) => "IDEMPOTENCY_KEY_REUSED",
            Self::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::TooManyOpenJobs { .. } => "TOO_MANY_OPEN_JOBS",
            Self::LimitReached(_) => "LIMIT_REACHED",
            Self::Conflict(_) => "CONFLICT",
            Self::Unavailable { .. } => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited {
                retry_after_secs, ..
            }
            | Self::TooManyOpenJobs {
                retry_after_secs, ..
            }
            | Self::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The JSON error document: `{"error": {"code", "message", "details"?, "requestId", …}}`.
    pub fn body(&self, request_id: &str) -> serde_json::Value {
        let mut error = self.error_object();
        error["requestId"] = json!(request_id);
        json!({ "error": error })
    }

    /// The error object itself (`code`, `message`, and `details` or `currentStatus` where
    /// they apply): a response's `error`, or one item's in a bulk call's answer.
    pub fn error_object(&self) -> serde_json::Value {
        let mut error = json!({
            "code": self.code(),
            "message": self.to_string(),
        });
        match self {
            Self::Validation { details, .. } if !details.is_empty() => {
                error["details"] = json!(details);
            }
            Self::InvalidStateTransition { current_status, .. } => {
                error["currentStatus"] = json!(current_status);
            }
            _ => {}
        }
        error
    }

    /// Logs the cause where there is one worth an operator's attention, or else that a
    /// request (or one item of it) was refused.
    pub fn log(&self) {
        match self {
            Self::Internal(cause) => tracing::error!(%cause, "request failed"),
            Self::Unavailable { cause, .. } => tracing::warn!(%cause, "dependency unavailable"),
            // `reason`, not `message`: the JSON log line's `message` is the event's own text.
            other => tracing::info!(code = other.code(), reason = %other, "request rejected"),
        }
    }

    /// Logs the cause where there is one worth an operator's attention and builds the response.
    pub fn into_response(self, request_id: &str) -> http::Response<lambda_http::Body> {
        self.log();
        let mut builder = http::Response::builder()
            .status(self.status())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("x-request-id", request_id);
        if let Some(secs) = self.retry_after() {
            builder = builder.header(http::header::RETRY_AFTER, secs.to_string());
        }
        let body = lambda_http::Body::Text(self.body(request_id).to_string());
        builder.body(body).unwrap_or_else(|_| {
            // Only reachable if a header value were invalid, which the values above never are.
            http::Response::new(lambda_http::Body::Text(String::from(
                "{\"error\":{\"code\":\"INTERNAL\"}}",
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_request_logs_one_line_with_one_message_key() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = crate::foundation::telemetry::json_subscriber(move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let _ = ApiError::not_found("invoice x not found").into_response("r-1");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line = text.lines().next().unwrap();
        // Log tools keep one of two equal keys: each key appears once.
        assert_eq!(line.matches("\"message\":").count(), 1, "{line}");
        let parsed: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(parsed["message"], "request rejected");
        assert_eq!(parsed["reason"], "invoice x not found");
        assert_eq!(parsed["code"], "NOT_FOUND");
    }

    #[test]
    fn validation_error_names_the_field() {
        let body = ApiError::field("reason", "must not be blank").body("req-1");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(body["error"]["details"][0]["field"], "reason");
        assert_eq!(body["error"]["requestId"], "req-1");
    }

    #[test]
    fn internal_errors_never_leak_their_cause() {
        let err = ApiError::internal("dispatch failure: secret endpoint xyz");
        let body = err.body("r");
        assert_eq!(body["error"]["message"], "internal error");
        assert!(!body.to_string().contains("xyz"));
    }

    #[test]
    fn throttling_sets_retry_after() {
        let resp = ApiError::Unavailable {
            retry_after_secs: 2,
            cause: "x".into(),
        }
        .into_response("r");
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "2");
    }
}
