//! Import files in S3 (`imports/<companyId>/<jobId>`): stored by the start call, uploaded by
//! clients through a pre-signed PUT, streamed by the worker.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use serde::Serialize;

use super::{s3_denied, s3_error, S3Result};
use crate::domain::{CompanyId, ImportJob, JobId, Timestamp};
use crate::foundation::error::ApiError;

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

/// The `upload` member of a start call's 202: how to PUT the file.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadInstructions {
    pub url: String,
    pub method: &'static str,
    /// Headers the PUT must carry exactly (they are part of the signature).
    pub headers: BTreeMap<&'static str, String>,
    pub expires_at: Timestamp,
}

/// An import file opened for streaming.
pub struct OpenedFile {
    pub size: u64,
    /// The version read, so a second read can insist on the very same bytes.
    pub etag: Option<String>,
    pub body: ByteStream,
}

/// What opening an import file came to.
pub enum Opened {
    File(OpenedFile),
    /// Not there (also S3's 403 for a missing key).
    Missing,
    /// There, but no longer the version `open` was pinned to.
    Changed,
}

#[derive(Clone)]
pub struct ImportFiles {
    client: Client,
    bucket: String,
}

impl ImportFiles {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// Stores an inline payload; its landing starts the worker.
    pub async fn put(&self, job: &ImportJob, bytes: Vec<u8>) -> Result<(), ApiError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(object_key(&job.company_id, &job.job_id))
            .content_type(job.content_type.content_type())
            .body(ByteStream::from(bytes))
            .send()
            .await
            .in_s3("PutObject")?;
        Ok(())
    }

    /// A pre-signed PUT for the job's file, valid until `expires_at`, signed locally. The
    /// signature covers `Content-Type`, `Content-Length` (the size the start call declared: a
    /// larger file is refused by S3) and `If-None-Match: *` (S3 refuses a second PUT once the
    /// file is there: one job, one file).
    pub async fn upload_url(
        &self,
        job: &ImportJob,
        expires_at: Timestamp,
    ) -> Result<UploadInstructions, ApiError> {
        let now = SystemTime::now();
        let remaining = (expires_at.as_datetime() - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_secs(1));
        let config = PresigningConfig::builder()
            .start_time(now)
            .expires_in(remaining)
            .build()
            .map_err(ApiError::internal)?;
        let content_type = job.content_type.content_type();
        let length = job
            .upload_bytes
            .ok_or_else(|| ApiError::internal("an upload job without its declared size"))?;
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(object_key(&job.company_id, &job.job_id))
            .content_type(content_type)
            .content_length(i64::try_from(length).map_err(ApiError::internal)?)
            .if_none_match("*")
            .presigned(config)
            .await
            .map_err(|e| ApiError::internal(format!("presigning failed: {e}")))?;
        let signed: Vec<&str> = presigned.headers().map(|(name, _)| name).collect();
        for required in ["content-length", "if-none-match"] {
            if !signed.iter().any(|h| h.eq_ignore_ascii_case(required)) {
                return Err(ApiError::internal(format!(
                    "the upload URL's signature does not cover {required}"
                )));
            }
        }
        Ok(UploadInstructions {
            url: presigned.uri().to_string(),
            method: "PUT",
            headers: BTreeMap::from([
                ("Content-Type", content_type.to_string()),
                ("Content-Length", length.to_string()),
                ("If-None-Match", "*".to_string()),
            ]),
            expires_at,
        })
    }

    /// Whether the job's file has landed (a 403 is S3's answer for a missing key to a caller
    /// without `s3:ListBucket`).
    pub async fn exists(&self, job: &ImportJob) -> Result<bool, ApiError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(object_key(&job.company_id, &job.job_id))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) || s3_denied(&e) => {
                Ok(false)
            }
            Err(e) => Err(s3_error("HeadObject", e)),
        }
    }

    /// Copies the job's file onto itself, which makes S3 announce it again (ObjectCreated:Copy)
    /// and so runs the worker once more. S3 only allows a self-copy that replaces metadata.
    pub async fn announce_again(&self, job: &ImportJob) -> Result<(), ApiError> {
        let key = object_key(&job.company_id, &job.job_id);
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(&key)
            .copy_source(format!("{}/{key}", self.bucket))
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .content_type(job.content_type.content_type())
            .metadata("ledgerdock-announced", "again")
            .send()
            .await
            .in_s3("CopyObject")?;
        Ok(())
    }

    /// Opens the job's file for streaming, optionally only if it is still the version with
    /// ETag `pinned` (S3 answers 412 otherwise).
    pub async fn open(&self, key: &str, pinned: Option<&str>) -> Result<Opened, ApiError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_if_match(pinned.map(str::to_string))
            .send()
            .await
        {
            // S3 enforces If-Match itself (412, below); the ETag is compared here as well, for
            // stores that ignore the header (the local engine does).
            Ok(out) if pinned.is_some() && out.e_tag.as_deref() != pinned => Ok(Opened::Changed),
            Ok(out) => Ok(Opened::File(OpenedFile {
                size: out.content_length.unwrap_or_default().max(0) as u64,
                etag: out.e_tag,
                body: out.body,
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) || s3_denied(&e) => {
                Ok(Opened::Missing)
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
                Ok(Opened::Changed)
            }
            Err(e) => Err(s3_error("GetObject", e)),
        }
    }
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
}
