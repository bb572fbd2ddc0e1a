//! The internal publish path: how the platform puts an invoice into a company's export queue.
//! Used by the `publish-invoice` function and by `ledgerdock invoices publish`.

use crate::domain::{
    CompanyId, Document, InvoiceHeader, InvoiceId, InvoiceStatus, NewInvoice, Timestamp,
};
use crate::error::ApiError;
use crate::store::invoices::{InvoiceStore, PublishOutcome};

/// Validates `invoice` (totals must reconcile), then writes it READY_FOR_EXPORT with its
/// documents. Returns its id and whether it was new or replaced a ready/rejected one.
pub async fn publish_invoice(
    invoices: &InvoiceStore,
    company: CompanyId,
    invoice: NewInvoice,
    documents: Vec<Document>,
) -> Result<(InvoiceId, PublishOutcome), ApiError> {
    invoice.validate().map_err(ApiError::fields)?;
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = documents.iter().find(|d| !seen.insert(d.format)) {
        return Err(ApiError::field(
            "documents",
            format!("more than one {} document", dup.format.as_str()),
        ));
    }
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
        export: None,
        rejection: None,
        updated_at: now,
    };
    let outcome = invoices.publish(&header, &lines).await?;
    Ok((header.invoice_id, outcome))
}
