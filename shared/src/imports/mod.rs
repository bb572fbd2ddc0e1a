//! Import jobs: an AP/ERP system pushes supplier cards (JSON records, a CSV body, or a large
//! file through a pre-signed upload URL); every path stores one file at
//! `imports/<companyId>/<jobId>` and the worker ([`worker`]) imports it when it lands.
//! A job is IN_PROGRESS until it is FINISHED (counts and per-record errors) or FAILED (a
//! reason); [`sweep`] fails jobs that pass their deadline, so none is left hanging.

pub mod files;
pub mod reader;
pub mod sweep;
pub mod worker;

use serde::{Deserialize, Serialize};

use crate::domain::{CompanyId, JobId, Timestamp};
use crate::error::FieldError;

/// Largest body `POST /v1/import-jobs` takes inline (JSON records or CSV). Lambda's synchronous
/// payload limit is 6 MB; larger files go through an upload URL.
pub const MAX_INLINE_BYTES: usize = 5 * 1024 * 1024;
/// Largest import file, and most records in one. Both are set so that a file at either limit
/// finishes well inside one 900 s Lambda invocation (README "Limits" has the measurements);
/// the checkpoint lets a retried invocation resume all the same.
pub const MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;
pub const MAX_RECORDS: u64 = 1_000_000;
/// Per-record errors kept on a job; `errorsTruncated` says when more were cut.
pub const MAX_REPORTED_ERRORS: usize = 1000;
/// Bytes of per-record errors kept on a job (as JSON, an upper bound of their DynamoDB size),
/// so the job item stays well under DynamoDB's 400 KB item limit whatever the errors quote.
pub const MAX_REPORTED_ERROR_BYTES: usize = 200 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImportType {
    SupplierCards,
}

impl ImportType {
    pub const ALL: [ImportType; 1] = [ImportType::SupplierCards];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::SupplierCards => "SUPPLIER_CARDS",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not an import type; the API knows SUPPLIER_CARDS"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    InProgress,
    Finished,
    Failed,
}

/// The file format of an import, named by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportFormat {
    #[serde(rename = "text/csv")]
    Csv,
    #[serde(rename = "application/json")]
    Json,
}

impl ImportFormat {
    pub fn content_type(&self) -> &'static str {
        match self {
            Self::Csv => "text/csv",
            Self::Json => "application/json",
        }
    }

    /// Parses a Content-Type header value (parameters such as charset are ignored).
    pub fn from_content_type(value: &str) -> Option<Self> {
        let essence = value.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "text/csv" => Some(Self::Csv),
            "application/json" => Some(Self::Json),
            _ => None,
        }
    }

    pub fn reader(&self) -> Box<dyn reader::RecordReader> {
        match self {
            Self::Csv => Box::new(reader::CsvReader::new()),
            Self::Json => Box::new(reader::JsonReader::new()),
        }
    }
}

/// How the job's file arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobSource {
    /// In the start call's body (JSON records or CSV).
    Inline,
    /// Through a pre-signed upload URL.
    Upload,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub received: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
}

/// One problem with one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordError {
    /// 1-based position of the record in the JSON array, or of the data row in the CSV.
    pub record: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub field: String,
    pub message: String,
}

/// An import job as stored (and, through [`ImportJob::view`], as the API shows it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportJob {
    pub job_id: JobId,
    pub company_id: CompanyId,
    #[serde(rename = "type")]
    pub import_type: ImportType,
    pub status: JobStatus,
    pub source: JobSource,
    pub content_type: ImportFormat,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    #[serde(default)]
    pub counts: Counts,
    #[serde(default)]
    pub errors: Vec<RecordError>,
    #[serde(default)]
    pub errors_truncated: bool,
    #[serde(default)]
    pub warnings: Vec<FieldError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Upload jobs: when the upload URL stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_expires_at: Option<Timestamp>,
    /// When a worker first picked the file up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_started_at: Option<Timestamp>,
    /// When the sweep found the file landed but never picked up (its S3 event lost) and had
    /// S3 announce it again. Done once per job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced_again_at: Option<Timestamp>,
    /// The sweep fails the job if it is still IN_PROGRESS after this.
    pub deadline: Timestamp,
    /// The checkpoint of an interrupted import: every card up to this record is written and
    /// counted (see `store::import_jobs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_after_record: Option<u64>,
    /// Upload jobs: the file's size, which the upload URL is signed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl ImportJob {
    pub fn object_key(&self) -> String {
        object_key(&self.company_id, &self.job_id)
    }

    /// The job as `GET /v1/import-jobs/{jobId}` shows it: every documented field present.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "jobId": self.job_id,
            "type": self.import_type,
            "status": self.status,
            "source": self.source,
            "contentType": self.content_type,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "processingStartedAt": self.processing_started_at,
            "finishedAt": self.finished_at,
            "counts": self.counts,
            "errors": self.errors,
            "errorsTruncated": self.errors_truncated,
            "warnings": self.warnings,
            "failureReason": self.failure_reason,
        })
    }

    pub fn location(&self) -> String {
        format!("/v1/import-jobs/{}", self.job_id)
    }
}

/// Where a job's file lives in the bucket.
pub fn object_key(company: &CompanyId, job: &JobId) -> String {
    format!("imports/{company}/{job}")
}

/// The job an object key belongs to, if it is an import file's key.
pub fn parse_object_key(key: &str) -> Option<(CompanyId, JobId)> {
    let rest = key.strip_prefix("imports/")?;
    let (company, job) = rest.split_once('/')?;
    Some((company.parse().ok()?, job.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_round_trip_and_reject_strangers() {
        let (c, j) = (CompanyId::new_random(), JobId::new_random());
        assert_eq!(parse_object_key(&object_key(&c, &j)), Some((c, j)));
        assert_eq!(parse_object_key("documents/x/y"), None);
        assert_eq!(parse_object_key(&format!("imports/{c}/{j}/extra")), None);
    }

    #[test]
    fn content_types_and_import_types_parse() {
        assert_eq!(
            ImportFormat::from_content_type("text/csv; charset=utf-8"),
            Some(ImportFormat::Csv)
        );
        assert_eq!(ImportFormat::from_content_type("text/plain"), None);
        assert!(ImportType::parse("SUPPLIER_CARDS").is_ok());
        assert!(ImportType::parse("supplier_cards").is_err());
    }
}
