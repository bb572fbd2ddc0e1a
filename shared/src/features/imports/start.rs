//! Starting an import job: the workflow behind `POST /v1/import-jobs`.
//!
//! Three ways in, one way on: JSON records in the body, a CSV body (`?type=…`), or, for large
//! files, `{"type", "contentType"}` alone, which returns a pre-signed PUT URL. Every path ends
//! with one file at `imports/<companyId>/<jobId>` whose landing starts the worker.
//! An `Idempotency-Key` makes a retried call return the first job instead of starting another;
//! an inline file that cannot be stored fails its job and frees the key, so the retry works.

use std::time::Duration;

use lambda_http::Request;
use serde::Deserialize;

use super::{MAX_FILE_BYTES, MAX_INLINE_BYTES};
use crate::app::AppState;
use crate::domain::idempotency::{Fingerprint, Idempotency, IdempotencyKey};
use crate::domain::master_data::{with_kind, KindVisitor, MasterKind};
use crate::domain::{CompanyId, JobId, Timestamp};
use crate::domain::{
    Counts, ImportFormat, ImportJob, ImportMode, ImportType, JobSource, JobStatus,
};
use crate::edge;
use crate::foundation::error::ApiError;
use crate::store::import_files::{ImportFiles, UploadInstructions};
use crate::store::import_jobs::{Created, Ending, Guard, ImportJobStore};

const UPLOAD_HINT: &str = "; for a larger file send {\"type\": \"SUPPLIER_CARDS\", \"contentType\": \"text/csv\"} and PUT the file to the upload URL in the answer";

/// The JSON form of the start call.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StartBody {
    #[serde(rename = "type")]
    import_type: Option<String>,
    records: Option<serde_json::Value>,
    content_type: Option<String>,
    /// Upload jobs: the file's exact size in bytes, which the upload URL is signed for.
    content_length: Option<serde_json::Value>,
    mode: Option<serde_json::Value>,
    dry_run: Option<serde_json::Value>,
}

/// What the call asked for, parsed: nothing is stored until a request is one of these.
pub struct StartRequest {
    import_type: ImportType,
    format: ImportFormat,
    /// The file, for inline jobs; `None` asks for an upload URL.
    inline: Option<Vec<u8>>,
    /// Upload jobs: the size the file will have.
    upload_bytes: Option<u64>,
    mode: ImportMode,
    dry_run: bool,
}

/// `mode` from the body or the query (`UPSERT` when neither says), the two agreeing.
fn import_mode(
    body: Option<&serde_json::Value>,
    query: Option<&str>,
) -> Result<ImportMode, ApiError> {
    let from_body = match body {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => {
            Some(ImportMode::parse(s).map_err(|e| ApiError::field("mode", e))?)
        }
        Some(_) => {
            return Err(ApiError::field(
                "mode",
                "must be the string UPSERT or REPLACE",
            ))
        }
    };
    let from_query = query
        .map(|q| ImportMode::parse(q).map_err(|e| ApiError::field("mode", e)))
        .transpose()?;
    match (from_body, from_query) {
        (Some(b), Some(q)) if b != q => Err(ApiError::field(
            "mode",
            "the query parameter and the body name different modes",
        )),
        (b, q) => Ok(b.or(q).unwrap_or_default()),
    }
}

/// `dryRun` from the body (a boolean) or the query (`true`/`false`), the two agreeing.
fn dry_run(body: Option<&serde_json::Value>, query: Option<&str>) -> Result<bool, ApiError> {
    let from_body = match body {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ApiError::field("dryRun", "must be true or false")),
    };
    let from_query = match query {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::field("dryRun", "must be true or false")),
    };
    match (from_body, from_query) {
        (Some(b), Some(q)) if b != q => Err(ApiError::field(
            "dryRun",
            "the query parameter and the body say different things",
        )),
        (b, q) => Ok(b.or(q).unwrap_or(false)),
    }
}

/// An upload job's `contentLength`: a whole number of bytes, 1 to [`MAX_FILE_BYTES`].
fn upload_bytes(raw: Option<serde_json::Value>) -> Result<u64, ApiError> {
    let message = format!(
        "is required for an upload: the file's exact size in bytes, 1 to {MAX_FILE_BYTES} (larger files: split them into several jobs)"
    );
    match raw.as_ref().and_then(crate::domain::whole_number) {
        Some(n) if (1..=MAX_FILE_BYTES).contains(&n) => Ok(n),
        _ => Err(ApiError::field("contentLength", message)),
    }
}

fn import_type(raw: Option<&str>) -> Result<ImportType, ApiError> {
    match raw {
        None | Some("") => Err(ApiError::field(
            "type",
            format!("is required; the API knows {}", ImportType::names()),
        )),
        Some(raw) => ImportType::parse(raw).map_err(|e| ApiError::field("type", e)),
    }
}

/// Reads an inline CSV file of `import_type` through now, so that a file that cannot be
/// imported as a whole (no header row naming the required columns, a column named twice, an
/// oversized row) is a 400 here rather than a job that fails a moment later. A bad row is
/// still the job's to report, with the rest imported. The records read are dropped as they
/// come.
fn check_csv_file(import_type: ImportType, bytes: &[u8]) -> Result<(), ApiError> {
    struct Check<'a>(&'a [u8]);
    impl KindVisitor for Check<'_> {
        type Output = Result<(), ApiError>;
        fn visit<K: MasterKind>(self) -> Result<(), ApiError> {
            const CHUNK: usize = 64 * 1024;
            let mut reader = super::reader::for_format::<K>(ImportFormat::Csv);
            let mut records = Vec::new();
            for chunk in self.0.chunks(CHUNK) {
                reader
                    .push(chunk, &mut records)
                    .map_err(|e| ApiError::field("body", e.0))?;
                records.clear();
            }
            reader
                .finish(&mut records)
                .map_err(|e| ApiError::field("body", e.0))
        }
    }
    with_kind(import_type, Check(bytes))
}

impl TryFrom<&Request> for StartRequest {
    type Error = ApiError;

    fn try_from(req: &Request) -> Result<Self, ApiError> {
        parse(req)
    }
}

fn parse(req: &Request) -> Result<StartRequest, ApiError> {
    let content_type = edge::content_type(req);
    let query_type = edge::query(req, "type");
    let query_mode = edge::query(req, "mode");
    let query_dry_run = edge::query(req, "dryRun");
    match ImportFormat::from_content_type(content_type) {
        Some(ImportFormat::Csv) => {
            let bytes: &[u8] = req.body().as_ref();
            if bytes.len() > MAX_INLINE_BYTES {
                return Err(ApiError::PayloadTooLarge(format!(
                    "the CSV body is {} bytes; the limit is {MAX_INLINE_BYTES} bytes{UPLOAD_HINT}",
                    bytes.len()
                )));
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError::field(
                    "body",
                    "is empty; a CSV import is a header row naming the fields, then one row per record",
                ));
            }
            let import_type = import_type(query_type.as_deref())?;
            let mode = import_mode(None, query_mode.as_deref())?;
            let dry_run = dry_run(None, query_dry_run.as_deref())?;
            check_csv_file(import_type, bytes)?;
            Ok(StartRequest {
                import_type,
                format: ImportFormat::Csv,
                inline: Some(bytes.to_vec()),
                upload_bytes: None,
                mode,
                dry_run,
            })
        }
        Some(ImportFormat::Json) => {
            let body: StartBody =
                edge::json_body_up_to(req, false, MAX_INLINE_BYTES, UPLOAD_HINT)?;
            let import_type = import_type(body.import_type.as_deref())?;
            if query_type.is_some_and(|q| q != import_type.as_str()) {
                return Err(ApiError::field(
                    "type",
                    "the query parameter and the body name different types",
                ));
            }
            let mode = import_mode(body.mode.as_ref(), query_mode.as_deref())?;
            let dry_run = dry_run(body.dry_run.as_ref(), query_dry_run.as_deref())?;
            match (body.records, body.content_type) {
                (Some(serde_json::Value::Array(_)), _) if body.content_length.is_some() => {
                    Err(ApiError::field(
                        "contentLength",
                        "is only for upload jobs; leave it out when sending records",
                    ))
                }
                (Some(serde_json::Value::Array(records)), None) => Ok(StartRequest {
                    import_type,
                    format: ImportFormat::Json,
                    inline: Some(serde_json::to_vec(&records).map_err(ApiError::internal)?),
                    upload_bytes: None,
                    mode,
                    dry_run,
                }),
                (Some(serde_json::Value::Array(_)), Some(_)) => Err(ApiError::field(
                    "contentType",
                    "is only for upload jobs; leave it out when sending records",
                )),
                (Some(_), _) => Err(ApiError::field(
                    "records",
                    format!(
                        "must be an array of {} objects",
                        crate::domain::master_data::kind_info(import_type).noun
                    ),
                )),
                (None, Some(raw)) => match ImportFormat::from_content_type(&raw) {
                    Some(format) if !raw.contains(';') => Ok(StartRequest {
                        import_type,
                        format,
                        inline: None,
                        upload_bytes: Some(upload_bytes(body.content_length)?),
                        mode,
                        dry_run,
                    }),
                    _ => Err(ApiError::field(
                        "contentType",
                        format!("{raw:?} is not an import format; use text/csv or application/json"),
                    )),
                },
                (None, None) => Err(ApiError::field(
                    "records",
                    "is required: send the records, or contentType (text/csv or application/json) alone to get an upload URL",
                )),
            }
        }
        None => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type must be application/json (records, or a request for an upload URL) or text/csv (a CSV body), not {:?}",
            if content_type.is_empty() { "(none)" } else { content_type }
        ))),
    }
}

/// What the request asks for: the import type, the format, and the file (inline) or the
/// absence of one (upload URL, with the size it will have). The same Idempotency-Key with
/// another fingerprint is another request.
fn fingerprint_of(request: &StartRequest) -> Fingerprint {
    let (how, what) = match &request.inline {
        Some(bytes) => (&b"inline"[..], bytes.clone()),
        None => (
            &b"upload"[..],
            request
                .upload_bytes
                .unwrap_or_default()
                .to_be_bytes()
                .to_vec(),
        ),
    };
    Fingerprint::of(&[
        request.import_type.as_str().as_bytes(),
        request.format.content_type().as_bytes(),
        request.mode.as_str().as_bytes(),
        if request.dry_run { b"dry" } else { b"real" },
        how,
        &what,
    ])
}

/// A started (or, for a repeated Idempotency-Key, the first) job, with its upload URL while
/// its file is awaited.
pub struct Started {
    pub job: ImportJob,
    pub upload: Option<UploadInstructions>,
    /// The job is the one an earlier request with the same Idempotency-Key started.
    pub replayed: bool,
}

/// What starting an import needs: the job items, the import bucket and three durations.
pub struct ImportStarter<'a> {
    pub jobs: &'a ImportJobStore,
    pub files: &'a ImportFiles,
    /// How long an upload URL works.
    pub upload_url_ttl: Duration,
    /// How long after its upload URL expires an upload job may still be running.
    pub upload_grace: Duration,
    /// How long an inline job may take from start to end.
    pub processing_deadline: Duration,
}

impl<'a> From<&'a AppState> for ImportStarter<'a> {
    fn from(app: &'a AppState) -> Self {
        Self {
            jobs: &app.import_jobs,
            files: &app.import_files,
            upload_url_ttl: app.config.upload_url_ttl,
            upload_grace: app.config.import_upload_grace,
            processing_deadline: app.config.import_processing_deadline,
        }
    }
}

impl ImportStarter<'_> {
    /// Starts the job `request` asks for, for `client` in `company`; with `key`, a request
    /// already made answers its first job (`replayed`), and the same key with another request
    /// is a 422.
    pub async fn start(
        &self,
        company: CompanyId,
        client: &str,
        key: Option<IdempotencyKey>,
        request: StartRequest,
    ) -> Result<Started, ApiError> {
        let idempotency = key.map(|key| Idempotency {
            client_id: client.to_string(),
            key,
            fingerprint: fingerprint_of(&request),
        });
        if let Some(idempotency) = &idempotency {
            if let Some(first) = self.jobs.idempotent_job(company, idempotency).await? {
                let first = idempotency.replays(first.job, &first.fingerprint)?;
                return self.replay(company, first).await;
            }
        }

        let job = self.new_job(company, &request, idempotency.as_ref());
        if let Created::Existing(first) = self.jobs.create(&job, idempotency.as_ref()).await? {
            let first = match &idempotency {
                Some(idempotency) => idempotency.replays(first.job, &first.fingerprint)?,
                None => first.job,
            };
            return self.replay(company, first).await;
        }
        tracing::info!(job_id = %job.job_id, source = ?job.source, "import job started");

        let upload = match request.inline {
            Some(bytes) => {
                self.store_inline(&job, bytes, idempotency.as_ref()).await?;
                None
            }
            None => {
                let expires = job.upload_expires_at.unwrap_or(job.created_at);
                Some(self.files.upload_url(&job, expires).await?)
            }
        };
        Ok(Started {
            job,
            upload,
            replayed: false,
        })
    }

    /// The job item for `request`: an inline job must end within the processing deadline, an
    /// upload job within its URL's life and the grace after it.
    fn new_job(
        &self,
        company: CompanyId,
        request: &StartRequest,
        idempotency: Option<&Idempotency>,
    ) -> ImportJob {
        let now = Timestamp::now();
        let (source, upload_expires_at, deadline) = match request.inline {
            Some(_) => (JobSource::Inline, None, now.plus(self.processing_deadline)),
            None => {
                let expires = now.plus(self.upload_url_ttl);
                (
                    JobSource::Upload,
                    Some(expires),
                    expires.plus(self.upload_grace),
                )
            }
        };
        let mut job = ImportJob::started(
            company,
            request.import_type,
            request.format,
            source,
            now,
            deadline,
        );
        job.upload_expires_at = upload_expires_at;
        job.upload_bytes = request.upload_bytes;
        job.mode = request.mode;
        job.dry_run = request.dry_run;
        job.idempotency_key = idempotency.map(|i| i.key.clone());
        job
    }

    /// Stores an inline job's file, whose landing starts the worker. If S3 refuses it, nothing
    /// will ever land: the job ends FAILED now and its key is freed for the retry (a 503).
    async fn store_inline(
        &self,
        job: &ImportJob,
        bytes: Vec<u8>,
        idempotency: Option<&Idempotency>,
    ) -> Result<(), ApiError> {
        let Err(e) = self.files.put(job, bytes).await else {
            return Ok(());
        };
        let ending = Ending::Failed {
            reason: "the import file could not be stored; start the job again".into(),
            counts: Counts::default(),
        };
        self.jobs
            .finish(job.company_id, job.job_id, &ending, Guard::None)
            .await?;
        if let Some(idempotency) = idempotency {
            self.jobs
                .release_idempotency_key(job.company_id, idempotency)
                .await?;
        }
        tracing::error!(error = %e, "storing an inline import failed");
        Err(ApiError::Unavailable {
            retry_after_secs: 5,
            cause: e.to_string(),
        })
    }

    /// The answer to a repeated Idempotency-Key: the first job as it is now (with a fresh
    /// upload URL, valid until the original expiry, while its file is still awaited).
    async fn replay(&self, company: CompanyId, job_id: JobId) -> Result<Started, ApiError> {
        let job = self.jobs.get(company, job_id).await?.ok_or_else(|| {
            ApiError::internal(format!("idempotency record points at missing job {job_id}"))
        })?;
        let awaiting_upload = job.status == JobStatus::InProgress
            && job.processing_started_at.is_none()
            && job
                .upload_expires_at
                .is_some_and(|at| at > Timestamp::now());
        let upload = match job.upload_expires_at {
            Some(expires) if awaiting_upload => Some(self.files.upload_url(&job, expires).await?),
            _ => None,
        };
        Ok(Started {
            job,
            upload,
            replayed: true,
        })
    }
}
