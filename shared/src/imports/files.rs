//! Import files in S3 (`imports/<companyId>/<jobId>`): stored by the start call, uploaded by
//! clients through a pre-signed PUT, streamed by the worker.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use serde::Serialize;

use super::ImportJob;
use crate::documents::{s3_denied, s3_error};
use crate::domain::Timestamp;
use crate::error::ApiError;

/// The `upload` member of a start call's 202: how to PUT the file.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadInstructions {
    pub url: String,
    pub method: &'static str,
    /// Headers the PUT must carry exactly (they are part of the signature).
    pub headers: BTreeMap<&'static str, &'static str>,
    pub expires_at: Timestamp,
}

/// An import file opened for streaming.
pub struct OpenedFile {
    pub size: u64,
    pub body: ByteStream,
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
            .key(job.object_key())
            .content_type(job.content_type.content_type())
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| s3_error("PutObject", e))?;
        Ok(())
    }

    /// A pre-signed PUT for the job's file, valid until `expires_at`, signed locally.
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
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(job.object_key())
            .content_type(content_type)
            .presigned(config)
            .await
            .map_err(|e| ApiError::internal(format!("presigning failed: {e}")))?;
        Ok(UploadInstructions {
            url: presigned.uri().to_string(),
            method: "PUT",
            headers: BTreeMap::from([("Content-Type", content_type)]),
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
            .key(job.object_key())
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
        let key = job.object_key();
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
            .map_err(|e| s3_error("CopyObject", e))?;
        Ok(())
    }

    /// Opens the job's file for streaming; `None` when it is not there (yet), also when S3
    /// says so with a 403.
    pub async fn open(&self, key: &str) -> Result<Option<OpenedFile>, ApiError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(OpenedFile {
                size: out.content_length.unwrap_or_default().max(0) as u64,
                body: out.body,
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) || s3_denied(&e) => {
                Ok(None)
            }
            Err(e) => Err(s3_error("GetObject", e)),
        }
    }
}
