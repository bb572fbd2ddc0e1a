//! The `publish-invoice` function: invoked by the platform's own event source (not routed
//! through the public API). The platform first uploads each soft copy to its canonical key
//! (`documents/<companyId>/<invoiceId>/<format>`, the format in lower case: `pdf`, `jpeg`,
//! `png`, `tiff`), then sends this event.

use aws_sdk_s3::Client;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domain::{CompanyId, Document, DocumentFormat, InvoiceId, NewInvoice};
use crate::error::ApiError;
use crate::publish::publish_invoice;
use crate::store::documents::object_key;
use crate::store::invoices::PublishOutcome;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishInvoiceEvent {
    pub company_id: CompanyId,
    pub invoice: NewInvoice,
    #[serde(default)]
    pub documents: Vec<DocumentRef>,
}

/// A soft copy already in the bucket at its canonical key.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocumentRef {
    pub format: DocumentFormat,
    pub file_name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishInvoiceResult {
    pub invoice_id: InvoiceId,
    pub outcome: &'static str,
}

/// Handles one event; the error text is what the invoking platform sees.
pub async fn handle(
    state: &AppState,
    event: PublishInvoiceEvent,
) -> Result<PublishInvoiceResult, ApiError> {
    let invoice_id = event.invoice.invoice_id.ok_or_else(|| {
        ApiError::field(
            "invoice.invoiceId",
            "is required: documents are stored under it",
        )
    })?;
    crate::publish::check_file_names(event.documents.iter().map(|d| d.file_name.as_str()))?;
    let mut documents = Vec::with_capacity(event.documents.len());
    for doc in &event.documents {
        documents.push(
            describe(
                &state.s3,
                state.documents.bucket(),
                event.company_id,
                invoice_id,
                doc,
            )
            .await?,
        );
    }
    let (invoice_id, outcome) =
        publish_invoice(&state.invoices, event.company_id, event.invoice, documents).await?;
    Ok(PublishInvoiceResult {
        invoice_id,
        outcome: match outcome {
            PublishOutcome::Created => "CREATED",
            PublishOutcome::Replaced => "REPLACED",
        },
    })
}

/// Reads the stored object's size, checking that it is really there.
async fn describe(
    s3: &Client,
    bucket: &str,
    company: CompanyId,
    invoice: InvoiceId,
    doc: &DocumentRef,
) -> Result<Document, ApiError> {
    let key = object_key(&company, &invoice, doc.format);
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error().is_some_and(|e| e.is_not_found()) {
                ApiError::field("documents", format!("no object at s3://{bucket}/{key}"))
            } else if crate::store::s3_denied(&e) {
                // S3's answer for a missing key to a caller that may not list the prefix.
                ApiError::field(
                    "documents",
                    format!("no object readable at s3://{bucket}/{key} (S3 answered 403)"),
                )
            } else {
                crate::store::s3_error("HeadObject", e)
            }
        })?;
    Ok(Document {
        format: doc.format,
        file_name: doc.file_name.clone(),
        content_type: doc.format.content_type().to_string(),
        size_bytes: head.content_length.unwrap_or_default().max(0) as u64,
    })
}
