//! `process-import-job`: imports a job's file when it lands in S3.
//!
//! Two streaming passes over the object. The first only reads and validates, so a file that
//! cannot be imported as a whole (not UTF-8, no header, broken JSON) fails the job before any
//! card changes. The second upserts: valid cards in blocks of 100, one consistent BatchGetItem
//! to classify each as created / updated / unchanged, then BatchWriteItem for the ones that
//! change (25 per call, UnprocessedItems retried). Progress counts are written at most once
//! per block and at most every [`PROGRESS_EVERY`].
//!
//! Idempotent: every card written records the job and whether the write created or updated
//! it, so a second delivery of the event, or a rerun after a crash halfway, classifies each
//! record exactly as the first run did and reaches the same end state with no duplicates.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;

use super::reader::{FileError, ParsedRecord, RecordReader};
use super::{
    parse_object_key, Counts, ImportJob, JobStatus, RecordError, MAX_FILE_BYTES,
    MAX_REPORTED_ERRORS, MAX_REPORTED_ERROR_BYTES,
};
use crate::app::AppState;
use crate::domain::supplier::SupplierCard;
use crate::domain::{CompanyId, JobId, Timestamp};
use crate::error::ApiError;
use crate::store::import_jobs::Ending;
use crate::store::suppliers::{StoredSupplier, SupplierMeta, WriteOutcome, BATCH_GET_MAX};
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
    if !state
        .import_jobs
        .start_processing(company, job_id, now, deadline)
        .await?
    {
        return Ok(Processed::AlreadyEnded(
            current_status(state, company, job_id).await?,
        ));
    }
    tracing::info!(%job_id, %company, "import started");

    match import(state, &job).await {
        Ok(ending) => end(state, &job, ending).await,
        Err(Stop::File(reason)) => {
            let failed = Ending::Failed {
                reason: reason.0,
                counts: Counts::default(),
            };
            end(state, &job, failed).await
        }
        Err(Stop::Retry(e)) => Err(e),
    }
}

/// Why processing stopped early.
enum Stop {
    /// The file cannot be imported: the job fails with this reason.
    File(FileError),
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

async fn import(state: &AppState, job: &ImportJob) -> Result<Ending, Stop> {
    // Pass one: read everything, write nothing.
    let mut received = 0u64;
    let mut file = FileRecords::open(state, job).await?;
    while let Some(records) = file.next_batch().await? {
        received += records.len() as u64;
    }
    // Pass two: import.
    let mut import = Import::new(state, job, received);
    state
        .import_jobs
        .progress(job.company_id, job.job_id, import.counts)
        .await?;
    let mut file = FileRecords::open(state, job).await?;
    while let Some(records) = file.next_batch().await? {
        for record in records {
            import.take(record).await?;
        }
    }
    import.flush().await?;
    import.warnings = file.reader.warnings().to_vec();
    Ok(import.into_ending())
}

/// The job's file, streamed from S3 through its format's reader.
struct FileRecords {
    reader: Box<dyn RecordReader>,
    body: aws_sdk_s3::primitives::ByteStream,
    done: bool,
}

impl FileRecords {
    async fn open(state: &AppState, job: &ImportJob) -> Result<Self, Stop> {
        let Some(file) = state.import_files.open(&job.object_key()).await? else {
            return Err(FileError(
                "the import file is no longer in storage; start a new job".into(),
            )
            .into());
        };
        if file.size > MAX_FILE_BYTES {
            return Err(FileError(format!(
                "the file is {} bytes; an import file may be at most {MAX_FILE_BYTES} bytes",
                file.size
            ))
            .into());
        }
        Ok(Self {
            reader: job.content_type.reader(),
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

async fn current_status(
    state: &AppState,
    company: CompanyId,
    job: JobId,
) -> Result<JobStatus, ApiError> {
    Ok(state
        .import_jobs
        .get(company, job)
        .await?
        .map_or(JobStatus::Failed, |j| j.status))
}

async fn end(state: &AppState, job: &ImportJob, ending: Ending) -> Result<Processed, ApiError> {
    let (status, counts) = match &ending {
        Ending::Finished { counts, .. } => (JobStatus::Finished, *counts),
        Ending::Failed { counts, .. } => (JobStatus::Failed, *counts),
    };
    let finished = match state
        .import_jobs
        .finish(job.company_id, job.job_id, &ending, None)
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
                .finish(job.company_id, job.job_id, &failed, None)
                .await?
            {
                true => Ok(Processed::Ended(JobStatus::Failed, counts)),
                false => Ok(Processed::AlreadyEnded(
                    current_status(state, job.company_id, job.job_id).await?,
                )),
            };
        }
        other => other?,
    };
    if finished {
        tracing::info!(job_id = %job.job_id, ?status, ?counts, "import ended");
        Ok(Processed::Ended(status, counts))
    } else {
        Ok(Processed::AlreadyEnded(
            current_status(state, job.company_id, job.job_id).await?,
        ))
    }
}

/// Pass two's state: counts, reported errors, and the block of cards waiting to be written.
struct Import<'a> {
    state: &'a AppState,
    job: &'a ImportJob,
    counts: Counts,
    errors: Vec<RecordError>,
    /// The kept errors' size as JSON.
    error_bytes: usize,
    errors_truncated: bool,
    /// externalId → the record that first carried it: a later duplicate is an error.
    seen: HashMap<String, u64>,
    block: Vec<SupplierCard>,
    last_progress: Instant,
    warnings: Vec<crate::error::FieldError>,
}

impl<'a> Import<'a> {
    fn new(state: &'a AppState, job: &'a ImportJob, received: u64) -> Self {
        Self {
            state,
            job,
            counts: Counts {
                received,
                ..Counts::default()
            },
            errors: Vec::new(),
            error_bytes: 0,
            errors_truncated: false,
            seen: HashMap::new(),
            block: Vec::with_capacity(BATCH_GET_MAX),
            last_progress: Instant::now(),
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

    async fn take(&mut self, record: ParsedRecord) -> Result<(), ApiError> {
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
                if let Some(first) = self.seen.get(&card.external_id) {
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
                self.seen.insert(card.external_id.clone(), record.number);
                self.block.push(card);
                if self.block.len() >= BATCH_GET_MAX {
                    self.flush().await?;
                }
            }
        }
        Ok(())
    }

    /// Classifies and writes the waiting block, then maybe records progress.
    async fn flush(&mut self) -> Result<(), ApiError> {
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
            self.last_progress = Instant::now();
            self.state
                .import_jobs
                .progress(company, self.job.job_id, self.counts)
                .await?;
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
