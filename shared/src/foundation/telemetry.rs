//! Logging. In Lambda: JSON lines (CloudWatch adds the timestamp), each carrying the request
//! span's requestId, companyId and clientId. Secrets, tokens and pre-signed URLs are never logged.

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;

pub fn init_json() {
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = json_subscriber(std::io::stdout).try_init();
}

/// The Lambda log format, writing to `writer` (stdout in Lambda; a buffer in tests).
pub fn json_subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .without_time()
        .with_target(false)
        .with_writer(writer)
        .finish()
        .with(log_filter(std::env::var("RUST_LOG").ok().as_deref()))
}

/// What `RUST_LOG` lets through: a level, or targets with levels (`info,aws_smithy_runtime=debug`).
/// `Targets`, not `EnvFilter`: the same directives but for span-field filters, which no one
/// sets on a function, and without the regex engine EnvFilter links into every binary (a size
/// the deployment zip pays, bench/REPORT.md section 5). A value it cannot read means `info`.
fn log_filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .and_then(|directives| Targets::from_str(directives).ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_sets_the_level_by_target_and_anything_unreadable_means_info() {
        let filter = log_filter(Some("warn,ledgerdock_shared=debug"));
        assert!(filter.would_enable("ledgerdock_shared::store", &Level::DEBUG));
        assert!(!filter.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(filter.would_enable("aws_smithy_runtime", &Level::WARN));
        for unset_or_unreadable in [None, Some("info,[span{field=1}]=x=y")] {
            let filter = log_filter(unset_or_unreadable);
            assert!(filter.would_enable("anything", &Level::INFO));
            assert!(!filter.would_enable("anything", &Level::DEBUG));
        }
    }
}
