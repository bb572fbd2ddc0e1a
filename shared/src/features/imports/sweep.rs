//! `sweep-import-jobs`: settles every job still IN_PROGRESS past its deadline, so no job is left
//! hanging. A file that landed but was never picked up (its S3 event lost) is announced again
//! once, with a fresh deadline; otherwise the job fails with a reason: an upload URL never used
//! (deadline = URL expiry + grace), or a worker that crashed or timed out on every retry
//! (deadline = pick-up + processing deadline). Scheduled in AWS; the dev stack runs the same
//! sweep on a timer.

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::domain::{JobSource, JobStatus};
use crate::foundation::error::ApiError;
use crate::store::import_jobs::{Ending, Guard, Overdue};

/// Jobs read per Query page.
const PAGE: i32 = 100;
/// Bounds one run; the next scheduled run continues.
const MAX_PAGES: usize = 50;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Swept {
    pub failed: usize,
    pub announced_again: usize,
    /// Jobs that could not be settled this time (a dependency failed); the next run retries
    /// them. One such job never stops the sweep from settling the others.
    pub errors: usize,
}

/// What settling one overdue job came to.
enum Settled {
    Failed,
    AnnouncedAgain,
    /// Already ended, or moved on meanwhile.
    Nothing,
}

/// Settles the overdue jobs.
pub async fn sweep(state: &AppState, now: Timestamp) -> Result<Swept, ApiError> {
    let mut swept = Swept::default();
    for _ in 0..MAX_PAGES {
        let overdue = state.import_jobs.overdue(now, PAGE).await?;
        let full_page = overdue.len() == PAGE as usize;
        for entry in overdue {
            match settle(state, &entry, now).await {
                Ok(Settled::Failed) => swept.failed += 1,
                Ok(Settled::AnnouncedAgain) => swept.announced_again += 1,
                Ok(Settled::Nothing) => {}
                Err(e) => {
                    tracing::error!(job_id = %entry.job, company = %entry.company, error = ?e, "overdue import job not settled; the next sweep retries it");
                    swept.errors += 1;
                }
            }
        }
        if !full_page || swept.errors > 0 {
            // Errors mean the same jobs would head the next page again: leave them to the
            // next run rather than loop on them.
            break;
        }
    }
    Ok(swept)
}

async fn settle(state: &AppState, entry: &Overdue, now: Timestamp) -> Result<Settled, ApiError> {
    let Some(job) = state.import_jobs.get(entry.company, entry.job).await? else {
        return Ok(Settled::Nothing);
    };
    if job.status != JobStatus::InProgress {
        return Ok(Settled::Nothing);
    }
    let never_picked_up = job.processing_started_at.is_none();
    if never_picked_up
        && job.announced_again_at.is_none()
        && state.import_files.exists(&job).await?
    {
        let deadline = now.plus(state.config.import_processing_deadline);
        if state
            .import_jobs
            .announced_again(job.company_id, job.job_id, now, deadline, &entry.position)
            .await?
        {
            state.import_files.announce_again(&job).await?;
            tracing::warn!(job_id = %job.job_id, "import file never picked up; announced again");
            return Ok(Settled::AnnouncedAgain);
        }
        return Ok(Settled::Nothing);
    }
    let reason = match (job.source, job.processing_started_at, job.upload_expires_at) {
        (_, None, _) if job.announced_again_at.is_some() => {
            "the file arrived but no worker picked it up, even after it was announced again; start a new job".to_string()
        }
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
    // Conditional on the deadline we read: a worker that just picked the file up (and moved
    // the deadline) wins.
    if state
        .import_jobs
        .finish(
            job.company_id,
            job.job_id,
            &ending,
            Guard::Position(&entry.position),
        )
        .await?
    {
        tracing::warn!(job_id = %job.job_id, company = %job.company_id, "overdue import job failed");
        return Ok(Settled::Failed);
    }
    Ok(Settled::Nothing)
}
