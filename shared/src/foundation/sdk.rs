//! How every AWS SDK client behaves on the wire, set once for the functions and the dev stack
//! alike: bounded timeouts and a bounded number of attempts, so a DynamoDB or S3 endpoint that
//! accepts a connection and never answers becomes a 503 `UNAVAILABLE` well inside an API
//! function's 10 s timeout, instead of hanging until Lambda kills the invocation.
//!
//! DynamoDB answers in milliseconds and S3's first byte in tens of them; an attempt that has
//! heard nothing for [`ATTEMPT_TIMEOUT`] is as good as lost, and the SDK's standard retry mode
//! tries again (with backoff) up to [`MAX_ATTEMPTS`] times within [`OPERATION_TIMEOUT`].
//! The operation timeout covers a call until its response starts; a streamed S3 body (the
//! import worker's file) then reads at its own pace.

use std::time::Duration;

use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

/// Time to open a TCP (and TLS) connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time one attempt may take, first byte of the response included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time one call may take, every retry included: a stalled dependency is a 503 after this.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);
/// Attempts per call (the first one and two retries) for throttling and transient errors.
pub const MAX_ATTEMPTS: u32 = 3;

pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

pub fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

/// Whether an SDK failure means the service did not answer in time or could not be reached:
/// a 503 with Retry-After, not a 500.
/// (DynamoDB's and S3's `SdkError` are one and the same type.)
pub(crate) fn unreachable<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool {
    use aws_sdk_dynamodb::error::SdkError;
    matches!(
        err,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stall_is_bounded_inside_an_api_functions_timeout() {
        let t = timeouts();
        assert_eq!(t.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert!(t.operation_attempt_timeout().is_some() && t.connect_timeout().is_some());
        // API functions run for at most 10 s (template.yaml Globals): the 503 comes first.
        assert!(OPERATION_TIMEOUT < Duration::from_secs(10));
        assert_eq!(retries().max_attempts(), MAX_ATTEMPTS);
    }
}
