//! `sweep-import-jobs`: fails every job still IN_PROGRESS past its deadline, so no job is left
//! hanging: an upload URL never used (deadline = URL expiry + grace), or a worker that crashed
//! or timed out on every retry (deadline = pick-up + processing deadline). Scheduled in AWS;
//! the dev stack runs the same sweep on a timer.

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::error::ApiError;
use crate::imports::{JobSource, JobStatus};
use crate::store::import_jobs::Ending;

/// Jobs read per Query page.
const PAGE: i32 = 100;
/// Bounds one run; the next scheduled run continues.
const MAX_PAGES: usize = 50;

/// Fails the overdue jobs; returns how many it failed.
pub async fn sweep(state: &AppState, now: Timestamp) -> Result<usize, ApiError> {
    let mut failed = 0;
    for _ in 0..MAX_PAGES {
        let overdue = state.import_jobs.overdue(now, PAGE).await?;
        let full_page = overdue.len() == PAGE as usize;
        for entry in overdue {
            let Some(job) = state.import_jobs.get(entry.company, entry.job).await? else {
                continue;
            };
            if job.status != JobStatus::InProgress {
                continue;
            }
            let reason = match (job.source, job.processing_started_at, job.upload_expires_at) {
                (JobSource::Upload, None, Some(expired)) => format!(
                    "no file was uploaded before the upload URL expired at {expired}; start a new job to get a new URL"
                ),
                (_, None, _) => "the import file was never picked up for processing; start a new job".to_string(),
                (_, Some(started), _) => format!(
                    "processing started at {started} did not finish by {}; cards already written stay imported (a new job counts them as unchanged)",
                    job.deadline
                ),
            };
            let ending = Ending::Failed {
                reason,
                counts: job.counts,
            };
            // Conditional on the deadline we read: a worker that just picked the file up
            // (and moved the deadline) wins.
            if state
                .import_jobs
                .finish(job.company_id, job.job_id, &ending, Some(&entry.position))
                .await?
            {
                tracing::warn!(job_id = %job.job_id, company = %job.company_id, "overdue import job failed");
                failed += 1;
            }
        }
        if !full_page {
            break;
        }
    }
    Ok(failed)
}
