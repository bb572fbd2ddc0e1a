//! `process-import-job`: imports a job's file when it lands in S3. One design for every kind of
//! master data: the worker is generic over [`MasterKind`], and `with_kind` picks the kind of
//! the job's type.
//!
//! Two streaming passes over the object. The first only reads, validates and gathers the keys
//! the records name (for duplicates within the file, and a full sync), so a file that
//! cannot be imported as a whole (not UTF-8, no header, broken JSON, over [`MAX_RECORDS`]
//! records or [`MAX_FILE_BYTES`] bytes) fails the job before any record changes. The second
//! upserts: valid records in blocks of 100, one consistent BatchGetItem to classify each as
//! created / updated / unchanged, then BatchWriteItem for the ones that change (25 per call,
//! UnprocessedItems retried), and one keys-only BatchGetItem per kind the block names to
//! cross-check its references (a warning for each that is not there). The second pass reads
//! the very version the first one read (the ETag is pinned), so a file replaced meanwhile
//! fails the job instead of mixing two files. A `REPLACE` job then reads the company's records
//! of the type page by page and deactivates the active ones the file did not name; a dry run
//! does all of it and writes no record.
//!
//! One worker at a time: the worker takes the job's lease at pick-up (see
//! `store::import_jobs`); a second delivery of the event finds it held and leaves. Progress
//! (counts and a checkpoint) is written at most once per block and at most every
//! [`PROGRESS_EVERY`], renewing the lease; when that write finds the job ended by someone else
//! (the sweep) or the lease gone, the worker stops writing cards at once.
//!
//! Idempotent and resumable: every card written records the job and whether the write created
//! or updated it, so a rerun classifies each record exactly as the first run did; a retried
//! invocation resumes after the checkpoint (pass one gathers the file's keys again, and records
//! before the checkpoint are only re-read, to rebuild the error report) and reaches the same
//! end state with no duplicates. The keys stay within bounded memory whatever the file's size
//! (see `file_keys`).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use futures_util::{StreamExt, TryStreamExt};

use super::file_keys::{FileKeys, FileKeysBuilder};
use super::reader::{FileError, ParsedRecord, RecordReader};
use super::{
    MAX_FILE_BYTES, MAX_RECORDS, MAX_REPORTED_ERRORS, MAX_REPORTED_ERROR_BYTES,
    MAX_REPORTED_WARNING_BYTES,
};
use crate::app::AppState;
use crate::domain::master_data::{
    key_label, kind_info, storage_key, with_kind, KindVisitor, MasterKind, Reference, Stored,
    WriteOutcome,
};
use crate::domain::{CompanyId, ImportMode, ImportType, JobId, Timestamp};
use crate::domain::{Counts, ImportJob, JobStatus, RecordError};
use crate::foundation::error::ApiError;
use crate::store::import_files::{object_key, parse_object_key, Opened};
use crate::store::import_jobs::{Ending, Guard, Lease};
use crate::store::master_data::{key_of, meta_for, BATCH_GET_MAX};
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

    match import_as_its_kind(state, &job, &lease).await {
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

type Imported<'a> = Pin<Box<dyn Future<Output = Result<Ending, Stop>> + Send + 'a>>;

/// Runs [`import`] for the kind of the job's type.
fn import_as_its_kind<'a>(
    state: &'a AppState,
    job: &'a ImportJob,
    lease: &'a Lease,
) -> Imported<'a> {
    struct Run<'a> {
        state: &'a AppState,
        job: &'a ImportJob,
        lease: &'a Lease,
    }
    impl<'a> KindVisitor for Run<'a> {
        type Output = Imported<'a>;
        fn visit<K: MasterKind>(self) -> Imported<'a> {
            Box::pin(import::<K>(self.state, self.job, self.lease))
        }
    }
    with_kind(job.import_type, Run { state, job, lease })
}

async fn import<K: MasterKind>(
    state: &AppState,
    job: &ImportJob,
    lease: &Lease,
) -> Result<Ending, Stop> {
    // Pass one: read everything, write nothing; note every key the file names.
    let mut received = 0u64;
    let mut file = FileRecords::<K>::open(state, job, None).await?;
    let pinned = file.etag.clone();
    let mut renewed = Instant::now();
    let mut keys = FileKeysBuilder::new(&job.job_id.to_string());
    while let Some(records) = file.next_batch().await? {
        for parsed in &records {
            match &parsed.record {
                Ok(record) => keys.add(key_digest(&key_of::<K>(record)), parsed.number, true)?,
                Err(problems) => {
                    if let Some(parts) = &problems.key {
                        keys.add(key_digest(&storage_key(parts)), parsed.number, false)?;
                    }
                }
            }
        }
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
    let keys = keys.finish()?;
    let mut import = Import::<K>::new(state, job, lease, received, keys);
    import.record_progress().await?;
    let mut file = FileRecords::<K>::open(state, job, pinned.as_deref()).await?;
    while let Some(records) = file.next_batch().await? {
        for record in records {
            import.take(record).await?;
        }
        import.keep_lease().await?;
    }
    import.flush_all().await?;
    if job.mode == ImportMode::Replace {
        import.deactivate_the_absent().await?;
    }
    import.warnings = file.reader.warnings().to_vec();
    Ok(import.into_ending())
}

/// The job's file, streamed from S3 through its format's reader.
struct FileRecords<K: MasterKind> {
    reader: Box<dyn RecordReader<K::Record>>,
    etag: Option<String>,
    body: aws_sdk_s3::primitives::ByteStream,
    done: bool,
}

impl<K: MasterKind> FileRecords<K> {
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
            reader: super::reader::for_format::<K>(job.content_type),
            etag: file.etag,
            body: file.body,
            done: false,
        })
    }

    /// The records completed by the next chunk of the file; `None` after the last.
    async fn next_batch(&mut self) -> Result<Option<Vec<ParsedRecord<K::Record>>>, Stop> {
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

/// A record's key in the file's key index: 128 bits of its SHA-256, so an entry costs a fixed
/// 16 bytes however long the keys are. Two keys sharing 128 bits of SHA-256 will not occur in
/// practice.
fn key_digest(key: &str) -> u128 {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&hash[..16]);
    u128::from_le_bytes(first)
}

/// Most cross-check answers remembered by one job (a PO file names the same few hundred
/// accounts again and again); past it, the memory starts over.
const MAX_KNOWN_REFERENCES: usize = 100_000;
/// Deactivations of a full sync in flight at once.
const DEACTIVATIONS_IN_FLIGHT: usize = 16;

/// A record of a block (its number), with the master data it names, each with its storage key.
type Naming<'r, R> = (u64, &'r R, Vec<(Reference, String)>);

/// What a cross-check found of a record a record names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Active,
    Inactive,
    Missing,
}

/// A report of per-record problems, held within a count and a size so that the job item
/// stays well under DynamoDB's 400 KB whatever the problems quote.
struct Report {
    entries: Vec<RecordError>,
    bytes: usize,
    max_bytes: usize,
    truncated: bool,
}

impl Report {
    fn new(max_bytes: usize) -> Self {
        Self {
            entries: Vec::new(),
            bytes: 0,
            max_bytes,
            truncated: false,
        }
    }

    /// Keeps `entry` while the report stays within [`MAX_REPORTED_ERRORS`] entries and its
    /// byte budget; past either, the report is marked cut.
    fn add(&mut self, entry: RecordError) {
        if self.truncated || self.entries.len() >= MAX_REPORTED_ERRORS {
            self.truncated = true;
            return;
        }
        let bytes = serde_json::to_vec(&entry).map_or(usize::MAX, |json| json.len());
        if self.bytes.saturating_add(bytes) > self.max_bytes {
            self.truncated = true;
            return;
        }
        self.bytes += bytes;
        self.entries.push(entry);
    }
}

/// A block sorted against what is stored: the writes it needs, the counts they come to, and
/// the last record taken with it (the checkpoint once it is written).
struct Classified<K: MasterKind> {
    writes: Vec<Stored<K::Record>>,
    counts: Counts,
    position: u64,
    block: Vec<(u64, K::Record)>,
}

/// Pass two's state: counts, reports, and the blocks of records waiting to be written.
struct Import<'a, K: MasterKind> {
    state: &'a AppState,
    job: &'a ImportJob,
    lease: &'a Lease,
    counts: Counts,
    errors: Report,
    record_warnings: Report,
    /// Every key the file names (by its [`key_digest`]), with the valid record that first
    /// carried it: a later valid record with the key is a duplicate. A full sync keeps every
    /// key named, also by records that failed: it does not deactivate what the file meant to
    /// keep.
    keys: FileKeys,
    /// Records up to this one were written and counted by an earlier, interrupted run.
    resume_after: u64,
    /// The last record taken.
    position: u64,
    /// The last record of the last block written: the checkpoint.
    checkpoint: u64,
    /// The block classified and waiting to be written (with the next block's read).
    pending: Option<Classified<K>>,
    block: Vec<(u64, K::Record)>,
    /// Records before the checkpoint, only to be cross-checked again (their warnings are not
    /// stored with the checkpoint).
    recheck: Vec<(u64, K::Record)>,
    known: HashMap<(ImportType, String), Presence>,
    last_progress: Instant,
    /// The last write that renewed the lease (a progress write or a renewal).
    last_renewal: Instant,
    warnings: Vec<crate::foundation::error::FieldError>,
}

impl<'a, K: MasterKind> Import<'a, K> {
    /// A fresh run, or the resumption of an interrupted one: its checkpoint's created /
    /// updated / unchanged counts stand for the records before it; failures, warnings and
    /// deactivations are counted again as those records are re-read.
    fn new(
        state: &'a AppState,
        job: &'a ImportJob,
        lease: &'a Lease,
        received: u64,
        keys: FileKeys,
    ) -> Self {
        let resume_after = job.resume_after_record.unwrap_or(0);
        let counts = if resume_after > 0 {
            Counts {
                received,
                failed: 0,
                warned: 0,
                deactivated: 0,
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
            errors: Report::new(MAX_REPORTED_ERROR_BYTES),
            record_warnings: Report::new(MAX_REPORTED_WARNING_BYTES),
            keys,
            resume_after,
            position: resume_after,
            checkpoint: resume_after,
            pending: None,
            block: Vec::with_capacity(BATCH_GET_MAX),
            recheck: Vec::new(),
            known: HashMap::new(),
            last_progress: Instant::now(),
            last_renewal: Instant::now(),
            warnings: Vec::new(),
        }
    }

    /// A report entry for record `record` (with `key`): the key under its kind's name.
    fn entry(
        &self,
        record: u64,
        key: Option<String>,
        field: String,
        message: String,
    ) -> RecordError {
        let external_id = (K::IMPORT_TYPE == ImportType::SupplierCards)
            .then(|| key.clone())
            .flatten();
        RecordError {
            record,
            key,
            external_id,
            field,
            message,
        }
    }

    async fn take(&mut self, parsed: ParsedRecord<K::Record>) -> Result<(), Stop> {
        let resumed_past = parsed.number <= self.resume_after;
        if !resumed_past {
            self.position = parsed.number;
        }
        match parsed.record {
            Err(problems) => {
                self.counts.failed += 1;
                let label = problems.key.as_deref().map(key_label);
                for (row, e) in problems.errors {
                    let entry = self.entry(
                        row.unwrap_or(parsed.number),
                        label.clone(),
                        e.field,
                        e.message,
                    );
                    self.errors.add(entry);
                }
            }
            Ok(record) => {
                let named = self.keys.named(key_digest(&key_of::<K>(&record)))?;
                let first = named.and_then(|n| n.first_valid).ok_or_else(|| {
                    // Pass one read this very version of the file (its ETag is pinned).
                    ApiError::internal("a valid record pass one did not see as valid")
                })?;
                if first != parsed.number {
                    self.counts.failed += 1;
                    let message = format!(
                        "appears more than once in this file; record {first} has it and was imported"
                    );
                    let entry = self.entry(
                        parsed.number,
                        Some(key_label(&K::key_parts(&record))),
                        K::KEY_FIELDS
                            .last()
                            .copied()
                            .unwrap_or("record")
                            .to_string(),
                        message,
                    );
                    self.errors.add(entry);
                    return Ok(());
                }
                if resumed_past {
                    // Written and counted before the interruption; its warnings are not kept.
                    self.recheck.push((parsed.number, record));
                    if self.recheck.len() >= BATCH_GET_MAX {
                        let recheck = std::mem::take(&mut self.recheck);
                        self.cross_check(&recheck).await?;
                    }
                    return Ok(());
                }
                self.block.push((parsed.number, record));
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
                self.checkpoint,
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

    /// Classifies the waiting block while the block before it is written (a dry run only
    /// classifies): the consistent BatchGetItem of one block and the BatchWriteItems of the
    /// one before go out together, so the read costs no round trip of its own. The blocks'
    /// keys are disjoint (a key's later records are duplicates, never written), so reading
    /// the one while writing the other cannot see a half-written record of itself. Once a
    /// block is written it is counted, cross-checked and becomes the checkpoint; progress is
    /// then maybe recorded.
    async fn flush(&mut self) -> Result<(), Stop> {
        if !self.recheck.is_empty() {
            let recheck = std::mem::take(&mut self.recheck);
            self.cross_check(&recheck).await?;
        }
        let block = std::mem::take(&mut self.block);
        let pending = self.pending.take();
        if block.is_empty() && pending.is_none() {
            return Ok(());
        }
        let (classified, written) =
            futures_util::future::join(self.classify(block), self.write(pending.as_ref())).await;
        let classified = classified?;
        written?;
        if let Some(done) = pending {
            self.counts.created += done.counts.created;
            self.counts.updated += done.counts.updated;
            self.counts.unchanged += done.counts.unchanged;
            self.checkpoint = done.position;
            self.cross_check(&done.block).await?;
            if self.last_progress.elapsed() >= PROGRESS_EVERY {
                self.record_progress().await?;
            }
        }
        self.pending = classified;
        Ok(())
    }

    /// Writes every block still waiting (the end of the file).
    async fn flush_all(&mut self) -> Result<(), Stop> {
        while !self.block.is_empty() || !self.recheck.is_empty() || self.pending.is_some() {
            self.flush().await?;
        }
        // Every record has been taken and written: the records after the last block are ones
        // that failed, and a rerun need not read past them again.
        self.checkpoint = self.position;
        Ok(())
    }

    /// Sorts a block into created / updated / unchanged against what is stored (one
    /// consistent BatchGetItem): the writes it needs, and its counts.
    async fn classify(
        &self,
        block: Vec<(u64, K::Record)>,
    ) -> Result<Option<Classified<K>>, ApiError> {
        if block.is_empty() {
            return Ok(None);
        }
        let company = self.job.company_id;
        let job_id = self.job.job_id;
        let keys: Vec<String> = block.iter().map(|(_, r)| key_of::<K>(r)).collect();
        let existing = self.state.master_data.get_many::<K>(company, &keys).await?;
        let now = Timestamp::now();
        let mut counts = Counts::default();
        let mut writes: Vec<Stored<K::Record>> = Vec::new();
        for ((_, record), key) in block.iter().zip(&keys) {
            let record = record.clone();
            let outcome = match existing.get(key) {
                // This job wrote it before (a rerun): count it as the first run did.
                Some(old) if old.meta.last_import_job_id == job_id => {
                    if old.record != record {
                        writes.push(Stored {
                            record,
                            meta: old.meta.clone(),
                        });
                    }
                    Some(old.meta.last_import_outcome)
                }
                Some(old) if old.record == record => None,
                Some(old) => {
                    let meta = meta_for(job_id, old.meta.created_at, now, WriteOutcome::Updated);
                    writes.push(Stored { record, meta });
                    Some(WriteOutcome::Updated)
                }
                None => {
                    let meta = meta_for(job_id, now, now, WriteOutcome::Created);
                    writes.push(Stored { record, meta });
                    Some(WriteOutcome::Created)
                }
            };
            match outcome {
                Some(WriteOutcome::Created) => counts.created += 1,
                // A record this job deactivated and then found in its file cannot happen (it
                // deactivates only what the file lacks); counted as the update it would be.
                Some(WriteOutcome::Updated | WriteOutcome::Deactivated) => counts.updated += 1,
                None => counts.unchanged += 1,
            }
        }
        Ok(Some(Classified {
            writes,
            counts,
            // The last record taken: the block's last, or a failed record after it.
            position: self.position,
            block,
        }))
    }

    /// A classified block's writes, up to four BatchWriteItem calls in flight (none in a dry
    /// run).
    async fn write(&self, classified: Option<&Classified<K>>) -> Result<(), ApiError> {
        let Some(classified) = classified.filter(|_| !self.job.dry_run) else {
            return Ok(());
        };
        let master_data = &self.state.master_data;
        let company = self.job.company_id;
        try_join_all(
            classified
                .writes
                .chunks(BATCH_WRITE_MAX)
                .map(|chunk| master_data.put_many::<K>(company, chunk)),
        )
        .await?;
        Ok(())
    }

    /// Warns of each record in `block` that names master data that is not there (or is
    /// inactive): imported all the same, since master data arrives in any order.
    async fn cross_check(&mut self, block: &[(u64, K::Record)]) -> Result<(), Stop> {
        // Forget before asking, never between asking and reading the answers: past the bound
        // the memory starts over (it then holds at most one block's references beyond it).
        if self.known.len() >= MAX_KNOWN_REFERENCES {
            self.known.clear();
        }
        let named: Vec<Naming<'_, K::Record>> = block
            .iter()
            .map(|(number, record)| {
                let references = K::references(record)
                    .into_iter()
                    .map(|r| {
                        let key = storage_key(&r.key);
                        (r, key)
                    })
                    .collect();
                (*number, record, references)
            })
            .collect();
        let mut wanted: HashMap<ImportType, Vec<String>> = HashMap::new();
        let mut asked: HashSet<(ImportType, &str)> = HashSet::new();
        for (reference, key) in named.iter().flat_map(|(_, _, references)| references) {
            let known = self.known.contains_key(&(reference.kind, key.clone()));
            if !known && asked.insert((reference.kind, key)) {
                wanted.entry(reference.kind).or_default().push(key.clone());
            }
        }
        for (kind, keys) in wanted {
            for chunk in keys.chunks(BATCH_GET_MAX) {
                let found = self
                    .state
                    .master_data
                    .which_exist(self.job.company_id, kind, chunk)
                    .await?;
                for key in chunk {
                    let presence = match found.get(key) {
                        Some(true) => Presence::Active,
                        Some(false) => Presence::Inactive,
                        None => Presence::Missing,
                    };
                    self.known.insert((kind, key.clone()), presence);
                }
            }
        }
        for (number, record, references) in named {
            let mut warned = false;
            for (reference, key) in references {
                let presence = self
                    .known
                    .get(&(reference.kind, key))
                    .copied()
                    .unwrap_or(Presence::Missing);
                let noun = kind_info(reference.kind).noun;
                let label = key_label(&reference.key);
                let message = match presence {
                    Presence::Active => continue,
                    Presence::Inactive => format!("names the {noun} {label:?}, which is inactive"),
                    Presence::Missing => format!(
                        "names the {noun} {label:?}, which has not been imported (import {} to resolve it); the {} was imported all the same",
                        reference.kind.as_str(),
                        K::NOUN
                    ),
                };
                warned = true;
                let entry = self.entry(
                    number,
                    Some(key_label(&K::key_parts(record))),
                    reference.field,
                    message,
                );
                self.record_warnings.add(entry);
            }
            if warned {
                self.counts.warned += 1;
            }
        }
        Ok(())
    }

    /// A full sync's last step: every active record of the type that the file did not name is
    /// marked inactive (a dry run only counts them). Refused when no record of the file was
    /// valid: a file whose every record failed cannot mean "deactivate everything".
    async fn deactivate_the_absent(&mut self) -> Result<(), Stop> {
        if self.keys.valid_keys() == 0 {
            return Err(FileError(format!(
                "a REPLACE import deactivates every {} the file does not name, and no record of this file was valid; nothing was deactivated (fix the records, or send UPSERT)",
                K::NOUN
            ))
            .into());
        }
        let company = self.job.company_id;
        let job_id = self.job.job_id;
        let now = Timestamp::now();
        let mut after = None;
        loop {
            let page = self
                .state
                .master_data
                .list::<K>(company, None, after, 500)
                .await?;
            let mut absent = Vec::new();
            for stored in page.records {
                let digest = key_digest(&key_of::<K>(&stored.record));
                if self.keys.named(digest)?.is_some() {
                    continue;
                }
                if stored.meta.last_import_job_id == job_id
                    && stored.meta.last_import_outcome == WriteOutcome::Deactivated
                {
                    // Deactivated by an earlier, interrupted run of this job.
                    self.counts.deactivated += 1;
                } else if K::is_active(&stored.record) {
                    absent.push(stored);
                }
            }
            if self.job.dry_run {
                self.counts.deactivated += absent.len() as u64;
            } else {
                let master_data = &self.state.master_data;
                let landed: Vec<bool> = futures_util::stream::iter(absent)
                    .map(|stored| async move {
                        master_data
                            .deactivate::<K>(company, &stored, job_id, now)
                            .await
                    })
                    .buffer_unordered(DEACTIVATIONS_IN_FLIGHT)
                    .try_collect()
                    .await?;
                // One that changed since it was read was written by another job: it stays.
                self.counts.deactivated += landed.into_iter().filter(|l| *l).count() as u64;
            }
            self.keep_lease().await?;
            if self.last_progress.elapsed() >= PROGRESS_EVERY {
                self.record_progress().await?;
            }
            after = page.next_position;
            if after.is_none() {
                return Ok(());
            }
        }
    }

    fn into_ending(self) -> Ending {
        Ending::Finished {
            counts: self.counts,
            errors: self.errors.entries,
            errors_truncated: self.errors.truncated,
            warnings: self.warnings,
            record_warnings: self.record_warnings.entries,
            record_warnings_truncated: self.record_warnings.truncated,
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
            ..Counts::default()
        };
        let finished = Ending::Finished {
            counts,
            errors: Vec::new(),
            errors_truncated: false,
            warnings: Vec::new(),
            record_warnings: Vec::new(),
            record_warnings_truncated: false,
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
