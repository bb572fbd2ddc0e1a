//! Logging. In Lambda: JSON lines (CloudWatch adds the timestamp), each carrying the request
//! span's requestId, companyId and clientId. Secrets, tokens and pre-signed URLs are never logged.

use tracing_subscriber::EnvFilter;

pub fn init_json() {
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = json_subscriber(std::io::stdout).try_init();
}

/// The Lambda log format, writing to `writer` (stdout in Lambda; a buffer in tests).
pub fn json_subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .without_time()
        .with_target(false)
        .with_writer(writer)
        .finish()
}
