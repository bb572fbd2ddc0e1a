//! Logging. In Lambda: JSON lines (CloudWatch adds the timestamp), each carrying the request
//! span's requestId, companyId and clientId. Secrets, tokens and pre-signed URLs are never logged.

use tracing_subscriber::EnvFilter;

pub fn init_json() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .without_time()
        .with_target(false)
        .try_init();
}
