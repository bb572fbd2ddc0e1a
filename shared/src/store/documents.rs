//! Soft copies in S3: `documents/<companyId>/<invoiceId>/<format>` in the private bucket, the
//! format in lower case (`pdf`, `jpeg`, `png`, `tiff`): see [`object_key`].
//! Download URLs are pre-signed GETs, signed locally (no S3 round trip), short-lived, and carry
//! `response-content-disposition` so the browser or client saves the file under its fileName.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;

use super::{s3_denied, s3_error, S3Result};
use crate::domain::{CompanyId, Document, DocumentFormat, InvoiceId, Timestamp};
use crate::foundation::error::ApiError;

/// RFC 5987 `attr-char`s stay literal; everything else is percent-encoded.
const FILENAME_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

pub fn object_key(company: &CompanyId, invoice: &InvoiceId, format: DocumentFormat) -> String {
    format!(
        "documents/{company}/{invoice}/{}",
        format.as_str().to_ascii_lowercase()
    )
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266).
pub fn content_disposition(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(file_name, FILENAME_ENCODE)
    )
}

/// What `GET /v1/invoices/{id}/download-url` returns.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadUrl {
    pub url: String,
    pub expires_at: Timestamp,
    pub format: DocumentFormat,
    pub content_type: String,
    pub file_name: String,
}

#[derive(Clone)]
pub struct DocumentStore {
    client: Client,
    bucket: String,
    ttl: Duration,
}

impl DocumentStore {
    pub fn new(client: Client, bucket: impl Into<String>, ttl: Duration) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            ttl,
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub async fn download_url(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
        document: &Document,
    ) -> Result<DownloadUrl, ApiError> {
        let now = SystemTime::now();
        let config = PresigningConfig::builder()
            .start_time(now)
            .expires_in(self.ttl)
            .build()
            .map_err(ApiError::internal)?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(object_key(&company, &invoice, document.format))
            .response_content_disposition(content_disposition(&document.file_name))
            .response_content_type(&document.content_type)
            .presigned(config)
            .await
            .map_err(|e| ApiError::internal(format!("presigning failed: {e}")))?;
        Ok(DownloadUrl {
            url: presigned.uri().to_string(),
            expires_at: Timestamp::from(chrono::DateTime::<chrono::Utc>::from(now + self.ttl)),
            format: document.format,
            content_type: document.content_type.clone(),
            file_name: document.file_name.clone(),
        })
    }

    /// The document record of a soft copy already stored at its canonical key (one
    /// HeadObject): a 400 naming `documents` when nothing is there.
    pub async fn describe(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
        format: DocumentFormat,
        file_name: String,
    ) -> Result<Document, ApiError> {
        let key = object_key(&company, &invoice, format);
        let bucket = &self.bucket;
        let head = self
            .client
            .head_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|e| e.is_not_found()) {
                    ApiError::field("documents", format!("no object at s3://{bucket}/{key}"))
                } else if s3_denied(&e) {
                    // S3's answer for a missing key to a caller that may not list the prefix.
                    ApiError::field(
                        "documents",
                        format!("no object readable at s3://{bucket}/{key} (S3 answered 403)"),
                    )
                } else {
                    s3_error("HeadObject", e)
                }
            })?;
        Ok(Document {
            format,
            file_name,
            content_type: format.content_type().to_string(),
            size_bytes: head.content_length.unwrap_or_default().max(0) as u64,
        })
    }

    /// Stores a soft copy and returns its document record. The stored object also carries the
    /// Content-Disposition, so even a plain GET saves it under its fileName.
    pub async fn put(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<Document, ApiError> {
        let format = DocumentFormat::sniff(&bytes).ok_or_else(|| {
            ApiError::field(
                "documents",
                format!("{file_name} is not a PDF, JPEG, PNG or TIFF file"),
            )
        })?;
        let size_bytes = bytes.len() as u64;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(object_key(&company, &invoice, format))
            .content_type(format.content_type())
            .content_disposition(content_disposition(file_name))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .in_s3("PutObject")?;
        Ok(Document {
            format,
            file_name: file_name.to_string(),
            content_type: format.content_type().to_string(),
            size_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_keeps_utf8_and_escapes_quotes() {
        let cd = content_disposition("Rechnung \"Nr\" 1.pdf");
        assert!(
            cd.starts_with("attachment; filename=\"Rechnung _Nr_ 1.pdf\""),
            "{cd}"
        );
        let cd = content_disposition("façture.pdf");
        assert!(cd.contains("filename*=UTF-8''fa%C3%A7ture.pdf"), "{cd}");
    }
}
