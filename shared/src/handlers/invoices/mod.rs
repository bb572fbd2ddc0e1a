//! The export queue: listing, reading and downloading invoices, claiming them, completing and
//! rejecting them (one or in bulk), and the internal publish path.

mod bulk;
pub mod bulk_complete_invoice_exports;
pub mod bulk_reject_invoice_exports;
pub mod claim_invoice_exports;
pub mod complete_invoice_export;
pub mod get_invoice;
pub mod get_invoice_download_url;
pub mod get_invoice_history;
pub mod list_exportable_invoices;
pub mod publish_invoice;
pub mod reject_invoice_export;
