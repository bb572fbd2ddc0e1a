//! The internal publish path: how the platform puts an invoice into a company's export queue,
//! with its soft copies. The one path for the `publish-invoice` function (files already in the
//! bucket), `ledgerdock invoices publish` and the demo seed (files uploaded here).

use crate::app::AppState;
use crate::domain::{
    CompanyId, Document, DocumentFormat, Invoice, InvoiceHeader, InvoiceId, InvoiceStatus,
    LineItem, NewInvoice, Timestamp, MAX_DETAIL_BYTES,
};
use crate::foundation::error::ApiError;
use crate::store::documents::DocumentStore;
use crate::store::invoices::{InvoiceStore, PublishOutcome};

/// One soft copy of an invoice being published.
pub enum SoftCopy {
    /// Already in the bucket at its canonical key (`documents/<companyId>/<invoiceId>/<format>`):
    /// checked to be there, and its size read.
    Stored {
        format: DocumentFormat,
        file_name: String,
    },
    /// Bytes to store at its canonical key (the format is read from the bytes).
    Upload { file_name: String, bytes: Vec<u8> },
}

impl SoftCopy {
    fn file_name(&self) -> &str {
        match self {
            Self::Stored { file_name, .. } | Self::Upload { file_name, .. } => file_name,
        }
    }

    /// Its format, known before anything is stored: named, or read from the bytes as
    /// `DocumentStore::put` will (None: not a format the API serves, which `put` refuses).
    fn format(&self) -> Option<DocumentFormat> {
        match self {
            Self::Stored { format, .. } => Some(*format),
            Self::Upload { bytes, .. } => DocumentFormat::sniff(bytes),
        }
    }
}

/// What publishing needs: the invoice table and the soft-copy bucket, nothing else.
#[derive(Clone, Copy)]
pub struct Publisher<'a> {
    pub invoices: &'a InvoiceStore,
    pub documents: &'a DocumentStore,
}

impl<'a> From<&'a AppState> for Publisher<'a> {
    fn from(app: &'a AppState) -> Self {
        Self {
            invoices: &app.invoices,
            documents: &app.documents,
        }
    }
}

impl Publisher<'_> {
    /// Validates `invoice` (totals must reconcile) and its soft copies' names before anything
    /// is stored, so a bad invoice leaves no stray objects; then stores or checks each soft copy
    /// and writes the invoice READY_FOR_EXPORT. Returns its id and whether it was new or
    /// replaced a ready/rejected one.
    pub async fn publish(
        &self,
        company: CompanyId,
        mut invoice: NewInvoice,
        copies: Vec<SoftCopy>,
    ) -> Result<(InvoiceId, PublishOutcome), ApiError> {
        invoice.validate().map_err(ApiError::fields)?;
        check_file_names(copies.iter().map(SoftCopy::file_name))?;
        check_one_per_format(&copies)?;
        let invoice_id = *invoice.invoice_id.get_or_insert_with(InvoiceId::new_random);
        let mut documents = Vec::with_capacity(copies.len());
        for copy in copies {
            documents.push(match copy {
                SoftCopy::Stored { format, file_name } => {
                    self.documents
                        .describe(company, invoice_id, format, file_name)
                        .await?
                }
                SoftCopy::Upload { file_name, bytes } => {
                    self.documents
                        .put(company, invoice_id, &file_name, bytes)
                        .await?
                }
            });
        }
        write(self.invoices, company, invoice, documents).await
    }
}

/// One soft copy per format (each format has one key): checked before any copy is stored, so a
/// refused invoice leaves no object behind.
fn check_one_per_format(copies: &[SoftCopy]) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    match copies
        .iter()
        .filter_map(SoftCopy::format)
        .find(|f| !seen.insert(*f))
    {
        Some(dup) => Err(ApiError::field(
            "documents",
            format!("more than one {} document", dup.as_str()),
        )),
        None => Ok(()),
    }
}

/// Writes a validated invoice with its stored documents.
async fn write(
    invoices: &InvoiceStore,
    company: CompanyId,
    invoice: NewInvoice,
    documents: Vec<Document>,
) -> Result<(InvoiceId, PublishOutcome), ApiError> {
    let now = Timestamp::now();
    let lines = invoice.line_items();
    let header = InvoiceHeader {
        invoice_id: invoice.invoice_id.unwrap_or_else(InvoiceId::new_random),
        company_id: company,
        status: InvoiceStatus::ReadyForExport,
        document_type: invoice.document_type,
        invoice_number: invoice.invoice_number,
        purchase_order_number: invoice.purchase_order_number,
        supplier: invoice.supplier,
        issue_date: invoice.issue_date,
        due_date: invoice.due_date,
        received_at: invoice.received_at.unwrap_or(now),
        currency: invoice.currency,
        subtotal: invoice.subtotal,
        tax_total: invoice.tax_total,
        total: invoice.total,
        line_count: lines.len() as u32,
        documents,
        // A claim is carried over from the header it replaces (see `store::invoices`).
        claimed_by: None,
        claimed_until: None,
        // The platform, not a client.
        changed_by: None,
        change_request_id: None,
        export: None,
        rejection: None,
        updated_at: now,
        // The store picks the generation when it writes the lines.
        lines_version: None,
    };
    check_detail_size(&header, &lines)?;
    let outcome = invoices.publish(&header, &lines).await?;
    Ok((header.invoice_id, outcome))
}

/// Every soft copy's file name must be a safe name (it becomes the downloaded file's name):
/// a 400 naming `documents[i].fileName` otherwise. Checked before anything is uploaded.
fn check_file_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), ApiError> {
    let errors: Vec<_> = names
        .into_iter()
        .enumerate()
        .filter_map(|(i, name)| {
            crate::domain::text::check_file_name(&format!("documents[{i}].fileName"), name).err()
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::fields(errors))
    }
}

/// Every accepted invoice must stay servable: its detail has to fit in one Lambda response
/// (6 MB). Refused at publish with a 400 naming `lineItems`, never a 502 on every read later.
fn check_detail_size(header: &InvoiceHeader, lines: &[LineItem]) -> Result<(), ApiError> {
    let detail = Invoice::from_parts(header.clone(), lines.to_vec());
    let bytes = detail.response_bytes().map_err(ApiError::internal)?;
    if bytes > MAX_DETAIL_BYTES {
        return Err(ApiError::field(
            "lineItems",
            format!(
                "make the invoice's detail {bytes} bytes; an invoice may be at most \
                 {MAX_DETAIL_BYTES} bytes as served (shorten descriptions or split the invoice)"
            ),
        ));
    }
    Ok(())
}
