//! Publishing an invoice with its soft copies: upload each file to its canonical key, then write
//! the invoice READY_FOR_EXPORT. Used by `ledgerdock invoices publish` and the demo seed.

use ledgerdock_shared::domain::{CompanyId, InvoiceId, NewInvoice};
use ledgerdock_shared::publish::{check_file_names, publish_invoice};
use ledgerdock_shared::store::invoices::PublishOutcome;
use ledgerdock_shared::{ApiError, AppState};

/// A soft copy to upload: its file name (as the download will be named) and bytes.
pub struct SoftCopy {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

pub async fn publish_with_files(
    app: &AppState,
    company: CompanyId,
    mut invoice: NewInvoice,
    files: Vec<SoftCopy>,
) -> Result<(InvoiceId, PublishOutcome), ApiError> {
    // Check the invoice before uploading anything, so a bad file leaves no stray objects.
    invoice.validate().map_err(ApiError::fields)?;
    check_file_names(files.iter().map(|f| f.file_name.as_str()))?;
    let invoice_id = *invoice.invoice_id.get_or_insert_with(InvoiceId::new_random);
    let mut documents = Vec::with_capacity(files.len());
    for file in files {
        documents.push(
            app.documents
                .put(company, invoice_id, &file.file_name, file.bytes)
                .await?,
        );
    }
    publish_invoice(&app.invoices, company, invoice, documents).await
}
