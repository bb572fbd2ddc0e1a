//! One module per operation. An API operation's module declares its `ROUTE` (method, path,
//! scope, handler), which its Lambda binary in functions/ runs as its whole job and the dev
//! stack serves in-process, both through [`crate::gate`]. Event functions' modules expose
//! `handle(&AppState, Event)`.

pub mod bulk_complete_invoice_exports;
pub mod bulk_reject_invoice_exports;
pub mod complete_invoice_export;
pub mod get_import_job;
pub mod get_invoice;
pub mod get_invoice_download_url;
pub mod get_supplier;
pub mod list_exportable_invoices;
pub mod list_suppliers;
pub mod process_import_job;
pub mod publish_invoice;
pub mod reject_invoice_export;
pub mod start_import_job;
pub mod sweep_import_jobs;

use crate::gate::Route;

/// Every public API route, each declared beside its handler. The dev stack routes by it and
/// template.yaml declares the same (a test checks); a Lambda function serves exactly one,
/// named in its `main`.
pub static ROUTES: &[&Route] = &[
    &list_exportable_invoices::ROUTE,
    &get_invoice::ROUTE,
    &get_invoice_download_url::ROUTE,
    &complete_invoice_export::ROUTE,
    &reject_invoice_export::ROUTE,
    &bulk_complete_invoice_exports::ROUTE,
    &bulk_reject_invoice_exports::ROUTE,
    &start_import_job::ROUTE,
    &get_import_job::ROUTE,
    &list_suppliers::ROUTE,
    &get_supplier::ROUTE,
];
