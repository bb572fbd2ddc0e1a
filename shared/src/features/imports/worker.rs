//! `process-import-job`: imports a job's file when it lands in S3.
//!
//! Two streaming passes over the object. The first only reads and validates, so a file that
//! cannot be imported as a whole (not UTF-8, no header, broken JSON, over [`MAX_RECORDS`]
//! records or [`MAX_FILE_BYTES`] bytes) fails the job before any card changes. The second
//! upserts: valid cards in blocks of 100, one consistent BatchGetItem to classify each as
//! created / updated / unchanged, then BatchWriteItem for the ones that change (25 per call,
//! UnprocessedItems retried). The second pass reads the very version the first one read (the
//! ETag is pinned), so a file replaced meanwhile fails the job instead of mixing two files.
//!
//! One worker at a time: the worker takes the job's lease at pick-up (see
//! `store::import_jobs`); a second delivery of the event finds it held and leaves. Progress
//! (counts and a checkpoint) is written at most once per block and at most every
//! [`PROGRESS_EVERY`], renewing the lease; when that write finds the job ended by someone else
//! (the sweep) or the lease gone, the worker stops writing cards at once.
//!
//! Idempotent and resumable: every card written records the job and whether the write created
//! or updated it, so a rerun classifies each record exactly as the first run did; a retried
//! invocation resumes after the checkpoint (records before it are only re-read, to rebuild the
//! duplicate set and the error report) and reaches the same end state with no duplicates.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;

use super::reader::{FileError, ParsedRecord, RecordReader};
use super::{MAX_FILE_BYTES, MAX_RECORDS, MAX_REPORTED_ERRORS, MAX_REPORTED_ERROR_BYTES};
use crate::app::AppState;
use crate::domain::supplier::SupplierCard;
use crate::domain::supplier::{StoredSupplier, SupplierMeta, WriteOutcome};
use crate::domain::{CompanyId, JobId, Timestamp};
use crate::domain::{Counts, ImportJob, JobStatus, RecordError};
use crate::foundation::error::ApiError;
use crate::store::import_files::{object_key, parse_object_key, Opened};
use crate::store::import_jobs::{Ending, Guard, Lease};
use crate::store::suppliers::BATCH_GET_MAX;
use crate::store::BATCH_WRITE_MAX;

/// Minimum time between two progress writes of one job.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// What one delivery of an object event came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// The key is not an import file, or its job does not exist.
    Ignored(String),
    /// The job had already ended (a repeated event, or the sweep got there first).
    AlreadyEnded(JobStatus),
    /// Another worker holds the job (a second delivery of the same event).
    HeldElsewhere,
    /// This run ended the job.
    Ended(JobStatus, Counts),
}

/// Handles an object-created event for `key`.
pub async fn process_object(state: &AppState, key: &str) -> Result<Processed, ApiError> {
    match parse_object_key(key) {
        Some((company, job)) => process_job(state, company, job).await,
        None => Ok(Processed::Ignored(format!("{key} is not an import file"))),
    }
}

pub async fn process_job(
    state: &AppState,
    company: CompanyId,
    job_id: JobId,
) -> Result<Processed, ApiError> {
    let Some(job) = state.import_jobs.get(company, job_id).await? else {
        return Ok(Processed::Ignored(format!(
            "import job {job_id} does not exist"
        )));
    };
    if job.status != JobStatus::InProgress {
        return Ok(Processed::AlreadyEnded(job.status));
    }
    let now = Timestamp::now();
    let deadline = now.plus(state.config.import_processing_deadline);
    let lease = Lease::new(state.config.import_lease);
    if !state
        .import_jobs
        .start_processing(company, job_id, &lease, now, deadline)
        .await?
    {
        return standing(state, company, job_id).await;
    }
    tracing::info!(%job_id, %company, resume_after = ?job.resume_after_record, "import started");

    match import(state, &job, &lease).await {
        Ok(ending) => end(state, &job, &lease, ending).await,
        Err(Stop::File(reason)) => {
            let failed = Ending::Failed {
                reason: reason.0,
                counts: Counts::default(),
            };
            end(state, &job, &lease, failed).await
        }
        Err(Stop::Lost) => {
            tracing::warn!(%job_id, "the job ended elsewhere or its lease was lost; stopped");
            standing(state, company, job_id).await
        }
        Err(Stop::Retry(e)) => {
            // The retry (Lambda's, a minute or more later) may start at once.
            if let Err(release) = state.import_jobs.release(company, job_id, &lease).await {
                tracing::warn!(%job_id, error = ?release, "the lease was not released; it lapses");
            }
            Err(e)
        }
    }
}

/// Why processing stopped early.
enum Stop {
    /// The file cannot be imported: the job fails with this reason.
    File(FileError),
    /// The job ended (the sweep) or another worker took it over: write nothing more.
    Lost,
    /// A dependency failed: the event is retried.
    Retry(ApiError),
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Self {
        Self::Retry(e)
    }
}

impl From<FileError> for Stop {
    fn from(e: FileError) -> Self {
        Self::File(e)
    }
}

/// A write to the job that required the lease: `false` means the job ended elsewhere or
/// another worker took it over, so this one stops.
fn held(kept: bool) -> Result<(), Stop> {
    if kept {
        Ok(())
    } else {
        Err(Stop::Lost)
    }
}

/// How often the lease is renewed while pass one reads (pass two renews with its progress).
fn renew_every(lease: &Lease) -> Duration {
    lease.duration / 3
}

async fn import(state: &AppState, job: &ImportJob, lease: &Lease) -> Result<Ending, Stop> {
    // Pass one: read everything, write nothing.
    let mut received = 0u64;
    let mut file = FileRecords::open(state, job, None).await?;
    let pinned = file.etag.clone();
    let mut renewed = Instant::now();
    while let Some(records) = file.next_batch().await? {
        received += records.len() as u64;
        if received > MAX_RECORDS {
            return Err(FileError(format!(
                "the file holds more than {MAX_RECORDS} records; split it into several jobs"
            ))
            .into());
        }
        if renewed.elapsed() >= renew_every(lease) {
            renewed = Instant::now();
            held(
                state
                    .import_jobs
                    .renew(job.company_id, job.job_id, lease)
                    .await?,
            )?;
        }
    }
    // Pass two: import, from the checkpoint of an interrupted run if there is one.
    let mut import = Import::new(state, job, lease, received);
    import.record_progress().await?;
    let mut file = FileRecords::open(state, job, pinned.as_deref()).await?;
    while let Some(records) = file.next_batch().await? {
        for record in records {
            import.take(record).await?;
        }
        import.keep_lease().await?;
    }
    import.flush().await?;
    import.warnings = file.reader.warnings().to_vec();
    Ok(import.into_ending())
}

/// The job's file, streamed from S3 through its format's reader.
struct FileRecords {
    reader: Box<dyn RecordReader>,
    etag: Option<String>,
    body: aws_sdk_s3::primitives::ByteStream,
    done: bool,
}

impl FileRecords {
    /// Opens the file; with `pinned`, only the very version read before.
    async fn open(state: &AppState, job: &ImportJob, pinned: Option<&str>) -> Result<Self, Stop> {
        let file = match state
            .import_files
            .open(&object_key(&job.company_id, &job.job_id), pinned)
            .await?
        {
            Opened::File(file) => file,
            Opened::Missing => {
                return Err(FileError(
                    "the import file is no longer in storage; start a new job".into(),
                )
                .into())
            }
            Opened::Changed => {
                return Err(FileError(
                    "the import file was replaced while it was being imported; start a new job"
                        .into(),
                )
                .into())
            }
        };
        if file.size > MAX_FILE_BYTES {
            return Err(FileError(format!(
                "the file is {} bytes; an import file may be at most {MAX_FILE_BYTES} bytes",
                file.size
            ))
            .into());
        }
        Ok(Self {
            reader: super::reader::for_format(job.content_type),
            etag: file.etag,
            body: file.body,
            done: false,
        })
    }

    /// The records completed by the next chunk of the file; `None` after the last.
    async fn next_batch(&mut self) -> Result<Option<Vec<ParsedRecord>>, Stop> {
        let mut records = Vec::new();
        while records.is_empty() && !self.done {
            match self.body.next().await {
                Some(chunk) => {
                    let chunk = chunk.map_err(|e| {
                        ApiError::internal(format!("reading the import file failed: {e}"))
                    })?;
                    self.reader.push(&chunk, &mut records)?;
                }
                None => {
                    self.done = true;
                    self.reader.finish(&mut records)?;
                }
            }
        }
        Ok((!records.is_empty()).then_some(records))
    }
}

/// What a delivery that did not (or no longer) run the job finds.
async fn standing(state: &AppState, company: CompanyId, job: JobId) -> Result<Processed, ApiError> {
    Ok(match state.import_jobs.get(company, job).await? {
        Some(job) if job.status == JobStatus::InProgress => Processed::HeldElsewhere,
        Some(job) => Processed::AlreadyEnded(job.status),
        None => Processed::AlreadyEnded(JobStatus::Failed),
    })
}

async fn end(
    state: &AppState,
    job: &ImportJob,
    lease: &Lease,
    ending: Ending,
) -> Result<Processed, ApiError> {
    let (status, counts) = match &ending {
        Ending::Finished { counts, .. } => (JobStatus::Finished, *counts),
        Ending::Failed { counts, .. } => (JobStatus::Failed, *counts),
    };
    let finished = match state
        .import_jobs
        .finish(job.company_id, job.job_id, &ending, Guard::Lease(&lease.id))
        .await
    {
        // DynamoDB refused the report itself (not a passing fault): end the job all the same,
        // saying truly what happened, rather than leave it to the sweep's deadline.
        Err(ApiError::Internal(cause)) if matches!(ending, Ending::Finished { .. }) => {
            tracing::error!(job_id = %job.job_id, %cause, "the import's report was refused");
            let failed = Ending::Failed {
                reason: format!(
                    "every record was processed ({} created, {} updated, {} unchanged, {} failed) \
                     but the job's report could not be stored; the cards written stay imported",
                    counts.created, counts.updated, counts.unchanged, counts.failed
                ),
                counts,
            };
            return match state
                .import_jobs
                .finish(job.company_id, job.job_id, &failed, Guard::Lease(&lease.id))
                .await?
            {
                true => Ok(Processed::Ended(JobStatus::Failed, counts)),
                false => standing(state, job.company_id, job.job_id).await,
            };
        }
        other => other?,
    };
    if finished {
        tracing::info!(job_id = %job.job_id, ?status, ?counts, "import ended");
        Ok(Processed::Ended(status, counts))
    } else {
        standing(state, job.company_id, job.job_id).await
    }
}

/// A record's externalId in the duplicate set: 128 bits of its SHA-256, so the set costs a
/// fixed 16 bytes a record (about 40 MB at [`MAX_RECORDS`] with the map's overhead) however
/// long the ids are. Two ids sharing 128 bits of SHA-256 will not occur in practice.
fn id_digest(external_id: &str) -> u128 {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(external_id.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&hash[..16]);
    u128::from_le_bytes(first)
}

/// Pass two's state: counts, reported errors, and the block of cards waiting to be written.
struct Import<'a> {
    state: &'a AppState,
    job: &'a ImportJob,
    lease: &'a Lease,
    counts: Counts,
    errors: Vec<RecordError>,
    /// The kept errors' size as JSON.
    error_bytes: usize,
    errors_truncated: bool,
    /// externalId (its [`id_digest`]) → the record that first carried it: a later duplicate
    /// is an error.
    seen: HashMap<u128, u64>,
    /// Records up to this one were written and counted by an earlier, interrupted run.
    resume_after: u64,
    /// The last record taken; once the block is written, the checkpoint.
    position: u64,
    block: Vec<SupplierCard>,
    last_progress: Instant,
    /// The last write that renewed the lease (a progress write or a renewal).
    last_renewal: Instant,
    warnings: Vec<crate::foundation::error::FieldError>,
}

impl<'a> Import<'a> {
    /// A fresh run, or the resumption of an interrupted one: its checkpoint's created /
    /// updated / unchanged counts stand for the records before it; failures are counted again
    /// as those records are re-read.
    fn new(state: &'a AppState, job: &'a ImportJob, lease: &'a Lease, received: u64) -> Self {
        let resume_after = job.resume_after_record.unwrap_or(0);
        let counts = if resume_after > 0 {
            Counts {
                received,
                failed: 0,
                ..job.counts
            }
        } else {
            Counts {
                received,
                ..Counts::default()
            }
        };
        Self {
            state,
            job,
            lease,
            counts,
            errors: Vec::new(),
            error_bytes: 0,
            errors_truncated: false,
            seen: HashMap::new(),
            resume_after,
            position: resume_after,
            block: Vec::with_capacity(BATCH_GET_MAX),
            last_progress: Instant::now(),
            last_renewal: Instant::now(),
            warnings: Vec::new(),
        }
    }

    /// Keeps an error while the report stays within [`MAX_REPORTED_ERRORS`] and
    /// [`MAX_REPORTED_ERROR_BYTES`]; past either, it is counted and the report marked cut.
    fn report(&mut self, record: u64, external_id: Option<String>, field: String, message: String) {
        if self.errors_truncated || self.errors.len() >= MAX_REPORTED_ERRORS {
            self.errors_truncated = true;
            return;
        }
        let error = RecordError {
            record,
            external_id,
            field,
            message,
        };
        let bytes = serde_json::to_vec(&error).map_or(usize::MAX, |json| json.len());
        if self.error_bytes.saturating_add(bytes) > MAX_REPORTED_ERROR_BYTES {
            self.errors_truncated = true;
            return;
        }
        self.error_bytes += bytes;
        self.errors.push(error);
    }

    async fn take(&mut self, record: ParsedRecord) -> Result<(), Stop> {
        let resumed_past = record.number <= self.resume_after;
        if !resumed_past {
            self.position = record.number;
        }
        match record.card {
            Err(problems) => {
                self.counts.failed += 1;
                for e in problems.errors {
                    self.report(
                        record.number,
                        problems.external_id.clone(),
                        e.field,
                        e.message,
                    );
                }
            }
            Ok(card) => {
                let digest = id_digest(&card.external_id);
                if let Some(first) = self.seen.get(&digest) {
                    self.counts.failed += 1;
                    let message = format!(
                        "appears more than once in this file; record {first} has it and was imported"
                    );
                    self.report(
                        record.number,
                        Some(card.external_id),
                        "externalId".into(),
                        message,
                    );
                    return Ok(());
                }
                self.seen.insert(digest, record.number);
                if resumed_past {
                    // Written and counted before the interruption.
                    return Ok(());
                }
                self.block.push(card);
                if self.block.len() >= BATCH_GET_MAX {
                    self.flush().await?;
                }
            }
        }
        Ok(())
    }

    /// Counts and checkpoint, renewing the lease; stops when the job ended or the lease is
    /// lost.
    async fn record_progress(&mut self) -> Result<(), Stop> {
        self.last_progress = Instant::now();
        self.last_renewal = self.last_progress;
        let kept = self
            .state
            .import_jobs
            .progress(
                self.job.company_id,
                self.job.job_id,
                self.lease,
                self.counts,
                self.position,
            )
            .await?;
        held(kept)
    }

    /// Renews the lease where nothing was written for a while (re-reading the records before
    /// a checkpoint writes nothing).
    async fn keep_lease(&mut self) -> Result<(), Stop> {
        if self.last_renewal.elapsed() < renew_every(self.lease) {
            return Ok(());
        }
        self.last_renewal = Instant::now();
        let kept = self
            .state
            .import_jobs
            .renew(self.job.company_id, self.job.job_id, self.lease)
            .await?;
        held(kept)
    }

    /// Classifies and writes the waiting block, then maybe records progress.
    async fn flush(&mut self) -> Result<(), Stop> {
        if self.block.is_empty() {
            return Ok(());
        }
        let block = std::mem::take(&mut self.block);
        let company = self.job.company_id;
        let ids: Vec<&str> = block.iter().map(|c| c.external_id.as_str()).collect();
        let existing = self.state.suppliers.get_many(company, &ids).await?;
        let now = Timestamp::now();
        let mut writes = Vec::new();
        for card in block {
            let outcome = match existing.get(&card.external_id) {
                // This job wrote it before (a rerun): count it as the first run did.
                Some(old) if old.meta.last_import_job_id == self.job.job_id => {
                    if old.card != card {
                        writes.push(StoredSupplier {
                            card,
                            meta: old.meta.clone(),
                        });
                    }
                    Some(old.meta.last_import_outcome)
                }
                Some(old) if old.card == card => None,
                Some(old) => {
                    writes.push(StoredSupplier {
                        card,
                        meta: self.meta(old.meta.created_at, now, WriteOutcome::Updated),
                    });
                    Some(WriteOutcome::Updated)
                }
                None => {
                    writes.push(StoredSupplier {
                        card,
                        meta: self.meta(now, now, WriteOutcome::Created),
                    });
                    Some(WriteOutcome::Created)
                }
            };
            match outcome {
                Some(WriteOutcome::Created) => self.counts.created += 1,
                Some(WriteOutcome::Updated) => self.counts.updated += 1,
                None => self.counts.unchanged += 1,
            }
        }
        // The block's writes go out together: up to four BatchWriteItem calls in flight.
        try_join_all(
            writes
                .chunks(BATCH_WRITE_MAX)
                .map(|chunk| self.state.suppliers.put_many(company, chunk)),
        )
        .await?;
        if self.last_progress.elapsed() >= PROGRESS_EVERY {
            self.record_progress().await?;
        }
        Ok(())
    }

    fn meta(
        &self,
        created_at: Timestamp,
        updated_at: Timestamp,
        outcome: WriteOutcome,
    ) -> SupplierMeta {
        SupplierMeta {
            created_at,
            updated_at,
            last_import_job_id: self.job.job_id,
            last_import_outcome: outcome,
        }
    }

    fn into_ending(self) -> Ending {
        Ending::Finished {
            counts: self.counts,
            errors: self.errors,
            errors_truncated: self.errors_truncated,
            warnings: self.warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ImportFormat, ImportType, JobSource};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_types::body::SdkBody;

    fn answer(status: u16, body: &str) -> ReplayEvent {
        ReplayEvent::new(
            http::Request::builder()
                .uri("https://dynamodb.eu-west-1.amazonaws.com/")
                .body(SdkBody::empty())
                .unwrap(),
            http::Response::builder()
                .status(status)
                .header("content-type", "application/x-amz-json-1.0")
                .body(SdkBody::from(body.to_string()))
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn a_report_dynamodb_refuses_still_ends_the_job_failed_with_a_true_reason() {
        let replay = StaticReplayClient::new(vec![
            answer(
                400,
                r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"Item size has exceeded the maximum allowed size"}"#,
            ),
            answer(200, "{}"),
        ]);
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "AKIDEXAMPLE",
                    "secret",
                    None,
                    None,
                    "test",
                ))
                .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
                .http_client(replay.clone())
                .build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::new("eu-west-1"))
                .build(),
        );
        let config = crate::edge::config::Config::from_lookup(|name| match name {
            "LEDGERDOCK_TABLE" => Some("t".into()),
            "LEDGERDOCK_BUCKET" => Some("b".into()),
            "LEDGERDOCK_CONTINUATION_SECRET" => Some("0123456789abcdef0123456789abcdef".into()),
            _ => None,
        })
        .unwrap();
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
                .region(aws_sdk_sqs::config::Region::new("eu-west-1"))
                .build(),
        );
        let state = AppState::with_sdk(config, dynamodb, s3, sqs);
        let now = Timestamp::now();
        let mut job = ImportJob::started(
            CompanyId::new_random(),
            ImportType::SupplierCards,
            ImportFormat::Csv,
            JobSource::Inline,
            now,
            now,
        );
        job.processing_started_at = Some(now);
        let counts = Counts {
            received: 3,
            created: 2,
            updated: 0,
            unchanged: 0,
            failed: 1,
        };
        let finished = Ending::Finished {
            counts,
            errors: Vec::new(),
            errors_truncated: false,
            warnings: Vec::new(),
        };
        let lease = Lease::new(Duration::from_secs(45));
        let processed = end(&state, &job, &lease, finished).await.unwrap();
        assert_eq!(processed, Processed::Ended(JobStatus::Failed, counts));
        let requests: Vec<_> = replay.actual_requests().collect();
        assert_eq!(requests.len(), 2);
        let second: serde_json::Value =
            serde_json::from_slice(requests[1].body().bytes().unwrap()).unwrap();
        let values = &second["TransactItems"][0]["Update"]["ExpressionAttributeValues"];
        assert_eq!(values[":status"]["S"], "FAILED");
        let reason = values[":reason"]["S"].as_str().unwrap();
        assert!(
            reason.contains("2 created") && reason.contains("could not be stored"),
            "{reason}"
        );
    }
}
