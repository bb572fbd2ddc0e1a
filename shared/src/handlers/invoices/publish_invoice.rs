//! The `publish-invoice` function: invoked by the platform's own event source (not routed
//! through the public API). The platform first uploads each soft copy to its canonical key
//! (`documents/<companyId>/<invoiceId>/<format>`, the format in lower case: `pdf`, `jpeg`,
//! `png`, `tiff`), then sends this event.

use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domain::{CompanyId, DocumentFormat, InvoiceId, NewInvoice};
use crate::features::publish::{Publisher, SoftCopy};
use crate::foundation::error::ApiError;
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
    if event.invoice.invoice_id.is_none() {
        return Err(ApiError::field(
            "invoice.invoiceId",
            "is required: documents are stored under it",
        ));
    }
    let copies = event
        .documents
        .into_iter()
        .map(|doc| SoftCopy::Stored {
            format: doc.format,
            file_name: doc.file_name,
        })
        .collect();
    let (invoice_id, outcome) = Publisher::from(state)
        .publish(event.company_id, event.invoice, copies)
        .await?;
    Ok(PublishInvoiceResult {
        invoice_id,
        outcome: match outcome {
            PublishOutcome::Created => "CREATED",
            PublishOutcome::Replaced => "REPLACED",
        },
    })
}
