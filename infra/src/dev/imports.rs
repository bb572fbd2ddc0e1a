//! The dev stack's stand-ins for the AWS wiring around import jobs: S3's event notification
//! that invokes `process-import-job` (an S3 event, with Lambda's asynchronous retries), and the
//! schedule that runs `sweep-import-jobs`. Both call the handlers the functions run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ledgerdock_shared::domain::Timestamp;
use ledgerdock_shared::features::imports::sweep;
use ledgerdock_shared::handlers::imports::process_import_job::{
    self, S3Entity, S3Event, S3EventRecord, S3Object,
};
use ledgerdock_shared::AppState;
use tokio::sync::{mpsc, watch};

/// Lambda retries a failed asynchronous invocation twice.
const RETRIES: u32 = 2;

/// How long after a failed run the next one starts. Lambda waits a minute, then two; the
/// worker counts on that: a run that failed without releasing its lease (the release failed
/// too) leaves it to lapse, and the template's lease (45 s) lapses before Lambda's first retry,
/// which then takes the job over from its checkpoint. Here the retry comes as soon as the lease
/// has lapsed, the moment that matters, without the rest of the minute. (A retry that came
/// sooner would find the lease held, stand down, and leave the job hanging until its deadline:
/// a failure AWS cannot have.)
fn retry_delay(lease: Duration) -> Duration {
    lease + Duration::from_secs(1)
}

/// The notification S3 sends for a created object (keys are form-encoded in it, as in S3's).
fn object_created(key: &str) -> S3Event {
    let encoded: String = form_urlencoded::byte_serialize(key.as_bytes())
        .collect::<String>()
        .replace("%2F", "/");
    S3Event {
        records: vec![S3EventRecord {
            event_name: "ObjectCreated:Put".into(),
            s3: S3Entity {
                object: S3Object { key: encoded },
            },
        }],
    }
}

/// Runs `process-import-job`'s handler for each created import object, each in its own task,
/// as S3 + Lambda would.
/// While `delivering` is false, notifications are dropped, as a lost S3 event would be.
pub fn dispatch_object_events(
    app: Arc<AppState>,
    mut created: mpsc::UnboundedReceiver<String>,
    delivering: Arc<AtomicBool>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let key = tokio::select! {
                key = created.recv() => match key {
                    Some(key) => key,
                    None => break,
                },
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            if !delivering.load(Ordering::Relaxed) {
                tracing::info!(%key, "object notification dropped (delivery paused)");
                continue;
            }
            let app = app.clone();
            tokio::spawn(async move {
                for attempt in 0..=RETRIES {
                    match process_import_job::handle(&app, object_created(&key)).await {
                        Ok(processed) => {
                            tracing::info!(%key, ?processed, "import object processed");
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(%key, attempt, error = ?e, "import worker failed");
                            tokio::time::sleep(retry_delay(app.config.import_lease)).await;
                        }
                    }
                }
            });
        }
    })
}

/// Runs the sweep every `interval` until shutdown.
pub fn sweep_periodically(
    app: Arc<AppState>,
    interval: Duration,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    super::every(interval, shutdown, move || {
        let app = app.clone();
        async move {
            match sweep::sweep(&app, Timestamp::now()).await {
                Ok(swept) if swept == sweep::Swept::default() => {}
                Ok(swept) => tracing::info!(?swept, "sweep settled overdue import jobs"),
                Err(e) => tracing::warn!(error = ?e, "import job sweep failed"),
            }
        }
    })
}
