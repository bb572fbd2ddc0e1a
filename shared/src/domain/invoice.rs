//! The invoice as the API shows it, and the shape the platform publishes it in.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{
    CompanyId, CurrencyCode, ExportRecord, InvoiceId, Money, Quantity, RejectionRecord, Timestamp,
};
use crate::foundation::error::{ApiError, FieldError};

/// Most line items one invoice may carry.
pub const MAX_LINE_ITEMS: usize = 5_000;
/// Most tracking categories one line may carry.
pub const MAX_TRACKING_CATEGORIES: usize = 20;
/// Largest invoice detail (`GET /v1/invoices/{id}`'s body) a publish accepts, counted as the
/// body travels inside the Lambda response (a JSON string, so every `"` and `\` doubles).
/// Lambda's synchronous response limit is 6 MB (6,291,456 bytes); the rest is headroom for
/// the export or rejection record added later (under 16 KB) and the response envelope.
pub const MAX_DETAIL_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvoiceStatus {
    ReadyForExport,
    Exported,
    Rejected,
}

impl InvoiceStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ReadyForExport => "READY_FOR_EXPORT",
            Self::Exported => "EXPORTED",
            Self::Rejected => "REJECTED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DocumentType {
    Invoice,
    CreditNote,
}

/// The soft-copy formats an invoice can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DocumentFormat {
    Pdf,
    Jpeg,
    Png,
    Tiff,
}

impl DocumentFormat {
    pub const ALL: [DocumentFormat; 4] = [Self::Pdf, Self::Jpeg, Self::Png, Self::Tiff];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pdf => "PDF",
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Tiff => "TIFF",
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Tiff => "image/tiff",
        }
    }

    pub fn extension(&self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Tiff => "tiff",
        }
    }

    /// Parses the `format` query parameter; case-insensitive, and `JPG`/`TIF` are accepted.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "PDF" => Some(Self::Pdf),
            "JPEG" | "JPG" => Some(Self::Jpeg),
            "PNG" => Some(Self::Png),
            "TIFF" | "TIF" => Some(Self::Tiff),
            _ => None,
        }
    }

    /// Recognises a file by its leading bytes, so a mislabelled upload is caught at publish time.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(Self::Png)
        } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
            Some(Self::Tiff)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Supplier {
    #[serde(default)]
    pub supplier_id: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub tax_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrackingCategory {
    pub name: String,
    pub option: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub line_number: u32,
    pub description: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub amount: Money,
    pub tax_code: Option<String>,
    pub tax_amount: Money,
    pub account_code: Option<String>,
    pub tracking_categories: Vec<TrackingCategory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub format: DocumentFormat,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
}

/// Everything about an invoice except its line items: what one DynamoDB header item holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceHeader {
    pub invoice_id: InvoiceId,
    pub company_id: CompanyId,
    pub status: InvoiceStatus,
    pub document_type: DocumentType,
    pub invoice_number: String,
    pub purchase_order_number: Option<String>,
    pub supplier: Supplier,
    pub issue_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub received_at: Timestamp,
    pub currency: CurrencyCode,
    pub subtotal: Money,
    pub tax_total: Money,
    pub total: Money,
    pub line_count: u32,
    pub documents: Vec<Document>,
    pub export: Option<ExportRecord>,
    pub rejection: Option<RejectionRecord>,
    pub updated_at: Timestamp,
    /// Which generation of line items this header shows (see `store::invoices`): a publish
    /// writes a new generation, then flips the header to it. `None` for invoices stored
    /// before generations existed, whose lines carry no generation in their keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines_version: Option<String>,
    /// The client holding a claim on it (`POST /v1/invoices/claims`), and until when: until
    /// then it is hidden from every other claim, and only that client may complete or reject
    /// it. A claim that has ended is no claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_until: Option<Timestamp>,
    /// Who made the last change, and in which request: the client that claimed, completed or
    /// rejected it (none: the platform published it). The invoice's history reads them from the
    /// table's stream, so each change carries its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_request_id: Option<String>,
}

/// Who acts on an invoice: a client, in one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub client_id: String,
    pub request_id: String,
}

impl InvoiceHeader {
    /// The client whose claim on it lasts at `now`, and until when, unless that is `client`.
    pub fn claimed_by_another(&self, client: &str, now: Timestamp) -> Option<(&str, Timestamp)> {
        match (self.claimed_by.as_deref(), self.claimed_until) {
            (Some(by), Some(until)) if by != client && until > now => Some((by, until)),
            _ => None,
        }
    }
}

/// The invoice detail returned by `GET /v1/invoices/{invoiceId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    pub invoice_id: InvoiceId,
    pub company_id: CompanyId,
    pub status: InvoiceStatus,
    pub document_type: DocumentType,
    pub invoice_number: String,
    pub purchase_order_number: Option<String>,
    pub supplier: Supplier,
    pub issue_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub received_at: Timestamp,
    pub currency: CurrencyCode,
    pub subtotal: Money,
    pub tax_total: Money,
    pub total: Money,
    pub line_items: Vec<LineItem>,
    pub documents: Vec<Document>,
    pub export: Option<ExportRecord>,
    pub rejection: Option<RejectionRecord>,
}

impl Invoice {
    /// The size of this invoice's detail body as Lambda's response carries it: the JSON text,
    /// escaped once more as a JSON string.
    pub fn response_bytes(&self) -> Result<usize, serde_json::Error> {
        let body = serde_json::to_vec(self)?;
        let escapes = body.iter().filter(|b| matches!(b, b'"' | b'\\')).count();
        Ok(body.len() + escapes)
    }

    pub fn from_parts(header: InvoiceHeader, line_items: Vec<LineItem>) -> Self {
        Self {
            invoice_id: header.invoice_id,
            company_id: header.company_id,
            status: header.status,
            document_type: header.document_type,
            invoice_number: header.invoice_number,
            purchase_order_number: header.purchase_order_number,
            supplier: header.supplier,
            issue_date: header.issue_date,
            due_date: header.due_date,
            received_at: header.received_at,
            currency: header.currency,
            subtotal: header.subtotal,
            tax_total: header.tax_total,
            total: header.total,
            line_items,
            documents: header.documents,
            export: header.export,
            rejection: header.rejection,
        }
    }
}

/// The export state a complete/reject call answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportState {
    pub invoice_id: InvoiceId,
    pub status: InvoiceStatus,
    pub export: Option<ExportRecord>,
    pub rejection: Option<RejectionRecord>,
}

impl From<&InvoiceHeader> for ExportState {
    fn from(h: &InvoiceHeader) -> Self {
        Self {
            invoice_id: h.invoice_id,
            status: h.status,
            export: h.export.clone(),
            rejection: h.rejection.clone(),
        }
    }
}

/// A line item as the platform publishes it; `lineNumber` is optional and, when given, must
/// match the line's position.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewLineItem {
    #[serde(default)]
    pub line_number: Option<u32>,
    pub description: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub amount: Money,
    #[serde(default)]
    pub tax_code: Option<String>,
    pub tax_amount: Money,
    #[serde(default)]
    pub account_code: Option<String>,
    #[serde(default)]
    pub tracking_categories: Vec<TrackingCategory>,
}

/// An invoice as the platform publishes it into the export queue (internal path, not public API).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewInvoice {
    #[serde(default)]
    pub invoice_id: Option<InvoiceId>,
    pub document_type: DocumentType,
    pub invoice_number: String,
    #[serde(default)]
    pub purchase_order_number: Option<String>,
    pub supplier: Supplier,
    pub issue_date: NaiveDate,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    #[serde(default)]
    pub received_at: Option<Timestamp>,
    pub currency: CurrencyCode,
    pub subtotal: Money,
    pub tax_total: Money,
    pub total: Money,
    pub line_items: Vec<NewLineItem>,
}

fn check_text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    if let Err(e) = super::text::check(field, value, max, super::text::Lines::Single) {
        errors.push(e);
    }
}

fn check_optional(errors: &mut Vec<FieldError>, field: &str, value: &Option<String>, max: usize) {
    if let Some(v) = value {
        check_text(errors, field, v, max);
    }
}

impl NewInvoice {
    /// Every problem at once, each naming its field; totals must reconcile exactly:
    /// subtotal = Σ amount, taxTotal = Σ taxAmount, total = subtotal + taxTotal.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        check_text(&mut errors, "invoiceNumber", &self.invoice_number, 100);
        check_optional(
            &mut errors,
            "purchaseOrderNumber",
            &self.purchase_order_number,
            100,
        );
        check_text(&mut errors, "supplier.name", &self.supplier.name, 200);
        check_optional(
            &mut errors,
            "supplier.supplierId",
            &self.supplier.supplier_id,
            64,
        );
        check_optional(
            &mut errors,
            "supplier.externalId",
            &self.supplier.external_id,
            64,
        );
        check_optional(
            &mut errors,
            "supplier.taxNumber",
            &self.supplier.tax_number,
            64,
        );
        if let Some(due) = self.due_date {
            if due < self.issue_date {
                errors.push(FieldError::new("dueDate", "must not be before issueDate"));
            }
        }
        if self.line_items.is_empty() {
            errors.push(FieldError::new(
                "lineItems",
                "must contain at least one line item",
            ));
        }
        if self.line_items.len() > MAX_LINE_ITEMS {
            errors.push(FieldError::new(
                "lineItems",
                format!("must contain at most {MAX_LINE_ITEMS} line items"),
            ));
        }
        for (i, line) in self.line_items.iter().enumerate() {
            let at = |f: &str| format!("lineItems[{i}].{f}");
            if let Some(n) = line.line_number {
                if n as usize != i + 1 {
                    errors.push(FieldError::new(
                        at("lineNumber"),
                        format!("must be {} (its position)", i + 1),
                    ));
                }
            }
            check_text(&mut errors, &at("description"), &line.description, 2000);
            check_optional(&mut errors, &at("taxCode"), &line.tax_code, 64);
            check_optional(&mut errors, &at("accountCode"), &line.account_code, 64);
            if line.tracking_categories.len() > MAX_TRACKING_CATEGORIES {
                errors.push(FieldError::new(
                    at("trackingCategories"),
                    format!("must hold at most {MAX_TRACKING_CATEGORIES} categories"),
                ));
            }
            for (j, t) in line.tracking_categories.iter().enumerate() {
                check_text(
                    &mut errors,
                    &at(&format!("trackingCategories[{j}].name")),
                    &t.name,
                    100,
                );
                check_text(
                    &mut errors,
                    &at(&format!("trackingCategories[{j}].option")),
                    &t.option,
                    100,
                );
            }
        }
        self.check_totals(&mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// subtotal = Σ amount, taxTotal = Σ taxAmount, total = subtotal + taxTotal, in exact
    /// arithmetic that reports (never panics on) a sum too large to hold.
    fn check_totals(&self, errors: &mut Vec<FieldError>) {
        let too_large = |field: &str| {
            FieldError::new(field, "the amounts add up to more than an invoice can hold")
        };
        match Money::checked_sum(self.line_items.iter().map(|l| l.amount)) {
            None => errors.push(too_large("lineItems")),
            Some(sum) if sum != self.subtotal => errors.push(FieldError::new(
                "subtotal",
                format!(
                    "is {} but the line items' amounts add up to {sum}",
                    self.subtotal
                ),
            )),
            Some(_) => {}
        }
        match Money::checked_sum(self.line_items.iter().map(|l| l.tax_amount)) {
            None => errors.push(too_large("lineItems")),
            Some(sum) if sum != self.tax_total => errors.push(FieldError::new(
                "taxTotal",
                format!(
                    "is {} but the line items' tax amounts add up to {sum}",
                    self.tax_total
                ),
            )),
            Some(_) => {}
        }
        match self.subtotal.checked_add(self.tax_total) {
            None => errors.push(too_large("total")),
            Some(sum) if sum != self.total => errors.push(FieldError::new(
                "total",
                format!(
                    "is {} but subtotal {} plus taxTotal {} is {sum}",
                    self.total, self.subtotal, self.tax_total
                ),
            )),
            Some(_) => {}
        }
    }

    pub fn line_items(&self) -> Vec<LineItem> {
        self.line_items
            .iter()
            .enumerate()
            .map(|(i, l)| LineItem {
                line_number: i as u32 + 1,
                description: l.description.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
                amount: l.amount,
                tax_code: l.tax_code.clone(),
                tax_amount: l.tax_amount,
                account_code: l.account_code.clone(),
                tracking_categories: l.tracking_categories.clone(),
            })
            .collect()
    }
}

/// What a connector decides for an invoice in the export queue: exported (with its record) or
/// rejected (with its reason). The rules of a decision live here; the store only applies it,
/// in one conditional write.
#[derive(Debug, Clone)]
pub enum Transition {
    Complete(ExportRecord),
    Reject(RejectionRecord),
}

impl Transition {
    /// Whether `current` is what this same decision would have produced: then a repeat of the
    /// call is answered 200, as the first was.
    pub fn already_applied(&self, current: &InvoiceHeader) -> bool {
        match (self, current.status) {
            (Self::Complete(new), InvoiceStatus::Exported) => current
                .export
                .as_ref()
                .is_some_and(|old| old.external_id == new.external_id),
            (Self::Reject(new), InvoiceStatus::Rejected) => current
                .rejection
                .as_ref()
                .is_some_and(|old| old.reason == new.reason && old.code == new.code),
            _ => false,
        }
    }

    fn verb(&self) -> &'static str {
        match self {
            Self::Complete(_) => "completed",
            Self::Reject(_) => "rejected",
        }
    }

    /// The 409 for this decision on an invoice another client has claimed until `until`.
    pub fn claimed_conflict(&self, current: &InvoiceHeader, until: Timestamp) -> ApiError {
        ApiError::Conflict(format!(
            "invoice {} is claimed by another client until {until}; it cannot be {} by this \
             one until then (nothing changed)",
            current.invoice_id,
            self.verb()
        ))
    }

    /// The 409 for this decision on an invoice already decided otherwise, naming its status.
    pub fn conflict_with(&self, current: &InvoiceHeader) -> ApiError {
        let verb = self.verb();
        let message = match current.status {
            InvoiceStatus::Exported => format!(
                "invoice {} was already exported{}; it cannot be {verb} now",
                current.invoice_id,
                current
                    .export
                    .as_ref()
                    .and_then(|e| e.external_id.as_deref())
                    .map(|id| format!(" with externalId {id:?}"))
                    .unwrap_or_default()
            ),
            InvoiceStatus::Rejected => format!(
                "invoice {} was already rejected; it cannot be {verb} now",
                current.invoice_id
            ),
            InvoiceStatus::ReadyForExport => {
                format!("invoice {} cannot be {verb} now", current.invoice_id)
            }
        };
        ApiError::InvalidStateTransition {
            message,
            current_status: current.status.as_str().to_string(),
        }
    }
}

impl From<ExportRecord> for Transition {
    fn from(record: ExportRecord) -> Self {
        Self::Complete(record)
    }
}

impl From<RejectionRecord> for Transition {
    fn from(record: RejectionRecord) -> Self {
        Self::Reject(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> serde_json::Value {
        json!({
            "documentType": "INVOICE",
            "invoiceNumber": "INV-1",
            "supplier": {"name": "Acme"},
            "issueDate": "2026-11-01",
            "currency": "EUR",
            "subtotal": "1000.00", "taxTotal": "100.00", "total": "1100.00",
            "lineItems": [
                {"description": "a", "quantity": "1", "unitPrice": "400.00", "amount": "400.00", "taxAmount": "40.00"},
                {"description": "b", "quantity": "2", "unitPrice": "300.00", "amount": "600.00", "taxAmount": "60.00"}
            ]
        })
    }

    #[test]
    fn reconciled_invoice_is_valid() {
        let inv: NewInvoice = serde_json::from_value(sample()).unwrap();
        inv.validate().unwrap();
        assert_eq!(inv.line_items()[1].line_number, 2);
    }

    #[test]
    fn mismatched_totals_are_named() {
        let mut v = sample();
        v["subtotal"] = json!("999.00");
        v["total"] = json!("1099.00");
        let errors = serde_json::from_value::<NewInvoice>(v)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "subtotal");
        assert!(
            errors[0].message.contains("1000.00"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn total_must_equal_subtotal_plus_tax() {
        let mut v = sample();
        v["total"] = json!("1000.00");
        let errors = serde_json::from_value::<NewInvoice>(v)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(errors[0].field, "total");
    }

    #[test]
    fn sniffs_formats() {
        assert_eq!(
            DocumentFormat::sniff(b"%PDF-1.4 ..."),
            Some(DocumentFormat::Pdf)
        );
        assert_eq!(
            DocumentFormat::sniff(b"II*\0rest"),
            Some(DocumentFormat::Tiff)
        );
        assert_eq!(DocumentFormat::sniff(b"hello"), None);
    }
}
