//! An import job: an AP/ERP system pushes master data (supplier cards, GL accounts, tax codes,
//! tracking categories, purchase orders: see `domain::master_data`) as JSON records, a CSV
//! body, or a large file through a pre-signed upload URL. A job is IN_PROGRESS until it is FINISHED (counts and
//! per-record errors) or FAILED (a reason). The job as stored and as the API shows it; how it
//! runs is the `imports` feature, how it is kept is `store::import_jobs`.

use serde::{Deserialize, Serialize};

use super::{CompanyId, JobId, Timestamp};
use crate::foundation::error::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImportType {
    SupplierCards,
    GlAccounts,
    TaxCodes,
    TrackingCategories,
    PurchaseOrders,
}

impl ImportType {
    pub const ALL: [ImportType; 5] = [
        ImportType::SupplierCards,
        ImportType::GlAccounts,
        ImportType::TaxCodes,
        ImportType::TrackingCategories,
        ImportType::PurchaseOrders,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::SupplierCards => "SUPPLIER_CARDS",
            Self::GlAccounts => "GL_ACCOUNTS",
            Self::TaxCodes => "TAX_CODES",
            Self::TrackingCategories => "TRACKING_CATEGORIES",
            Self::PurchaseOrders => "PURCHASE_ORDERS",
        }
    }

    /// Every import type's name, for messages: "SUPPLIER_CARDS, GL_ACCOUNTS, …".
    pub fn names() -> String {
        Self::ALL.map(|t| t.as_str()).join(", ")
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not an import type; the API knows {}",
                    Self::names()
                )
            })
    }
}

/// What an import does with the records of its type that are not in its file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImportMode {
    /// Leaves them as they are: the file adds and changes records.
    #[default]
    Upsert,
    /// A full sync: marks each active one inactive (never deletes it), counted as
    /// `deactivated`. Only once the whole file was read and at least one record was valid, so a
    /// broken upload never deactivates a company's whole chart of accounts.
    Replace,
}

impl ImportMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Upsert => "UPSERT",
            Self::Replace => "REPLACE",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "UPSERT" => Ok(Self::Upsert),
            "REPLACE" => Ok(Self::Replace),
            other => Err(format!(
                "{other:?} is not an import mode; use UPSERT (the default) or REPLACE"
            )),
        }
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
    /// Records of the type absent from a `REPLACE` file, marked inactive.
    #[serde(default)]
    pub deactivated: u64,
    /// Records imported with a warning (they name master data that is not there).
    #[serde(default)]
    pub warned: u64,
}

/// One problem with one record (an error: not imported; or a warning: imported all the same).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordError {
    /// 1-based position of the record in the JSON array, or of the data row in the CSV.
    pub record: u64,
    /// The record's key as far as it could be read (`4000`; a tracking option's
    /// `Department/SALES`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Supplier cards: the key again, under the name the API has always given it.
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
    #[serde(default)]
    pub mode: ImportMode,
    /// Validates and counts what a real run would do, and writes no master data.
    #[serde(default)]
    pub dry_run: bool,
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
    /// Records imported with a warning, and what each warns of.
    #[serde(default)]
    pub record_warnings: Vec<RecordError>,
    #[serde(default)]
    pub record_warnings_truncated: bool,
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
    pub idempotency_key: Option<super::idempotency::IdempotencyKey>,
}

impl ImportJob {
    /// A job as it starts: IN_PROGRESS, nothing counted, nothing reported, due to end by
    /// `deadline`. An upload job then names when its URL expires and the file's size.
    pub fn started(
        company_id: CompanyId,
        import_type: ImportType,
        content_type: ImportFormat,
        source: JobSource,
        now: Timestamp,
        deadline: Timestamp,
    ) -> Self {
        Self {
            job_id: JobId::new_random(),
            company_id,
            import_type,
            status: JobStatus::InProgress,
            source,
            content_type,
            mode: ImportMode::Upsert,
            dry_run: false,
            created_at: now,
            updated_at: now,
            finished_at: None,
            counts: Counts::default(),
            errors: Vec::new(),
            errors_truncated: false,
            warnings: Vec::new(),
            record_warnings: Vec::new(),
            record_warnings_truncated: false,
            failure_reason: None,
            upload_expires_at: None,
            processing_started_at: None,
            announced_again_at: None,
            deadline,
            resume_after_record: None,
            upload_bytes: None,
            idempotency_key: None,
        }
    }

    /// The job as `GET /v1/import-jobs/{jobId}` shows it: every documented field present.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "jobId": self.job_id,
            "type": self.import_type,
            "status": self.status,
            "source": self.source,
            "contentType": self.content_type,
            "mode": self.mode,
            "dryRun": self.dry_run,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "processingStartedAt": self.processing_started_at,
            "finishedAt": self.finished_at,
            "counts": self.counts,
            "errors": self.errors,
            "errorsTruncated": self.errors_truncated,
            "warnings": self.warnings,
            "recordWarnings": self.record_warnings,
            "recordWarningsTruncated": self.record_warnings_truncated,
            "failureReason": self.failure_reason,
        })
    }

    pub fn location(&self) -> String {
        format!("/v1/import-jobs/{}", self.job_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
