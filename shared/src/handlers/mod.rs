//! One module per API operation. Each exposes `handle(&AppState, Request) -> Response`, which a
//! Lambda binary in functions/ runs as its whole job, and which the dev stack calls in-process.
//! [`ROUTES`] is the route and scope table; template.yaml declares the same (a test checks).

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

use std::future::Future;
use std::pin::Pin;

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::Scope;

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;
pub type Handler = for<'a> fn(&'a AppState, &'static Route, Request) -> HandlerFuture<'a>;

/// A public API route: the function that serves it and the scope its authorizer demands.
pub struct Route {
    /// The Lambda function (and functions/ crate) name.
    pub function: &'static str,
    pub method: &'static str,
    /// API Gateway resource path, with `{param}` segments.
    pub path: &'static str,
    pub scope: Scope,
    /// Whether it answers in pages (and so needs the continuation-key secret).
    pub pages: bool,
    /// The query parameters it takes; any other is a 400 naming it (a mistyped `limt=5` is
    /// not silently ignored).
    pub query: &'static [&'static str],
    pub handler: Handler,
}

/// The route a Lambda function serves, by its function (crate) name.
pub fn route(function: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.function == function)
}

pub static ROUTES: &[Route] = &[
    Route {
        function: "list-exportable-invoices",
        method: "GET",
        path: "/v1/invoices/exportable",
        scope: Scope::InvoicesRead,
        pages: true,
        query: &["limit", "continuationKey"],
        handler: list_exportable_invoices::boxed,
    },
    Route {
        function: "get-invoice",
        method: "GET",
        path: "/v1/invoices/{invoiceId}",
        scope: Scope::InvoicesRead,
        pages: false,
        query: &[],
        handler: get_invoice::boxed,
    },
    Route {
        function: "get-invoice-download-url",
        method: "GET",
        path: "/v1/invoices/{invoiceId}/download-url",
        scope: Scope::InvoicesRead,
        pages: false,
        query: &["format"],
        handler: get_invoice_download_url::boxed,
    },
    Route {
        function: "complete-invoice-export",
        method: "POST",
        path: "/v1/invoices/{invoiceId}/complete",
        scope: Scope::InvoicesWrite,
        pages: false,
        query: &[],
        handler: complete_invoice_export::boxed,
    },
    Route {
        function: "reject-invoice-export",
        method: "POST",
        path: "/v1/invoices/{invoiceId}/reject",
        scope: Scope::InvoicesWrite,
        pages: false,
        query: &[],
        handler: reject_invoice_export::boxed,
    },
    Route {
        function: "start-import-job",
        method: "POST",
        path: "/v1/import-jobs",
        scope: Scope::ImportsWrite,
        pages: false,
        query: &["type"],
        handler: start_import_job::boxed,
    },
    Route {
        function: "get-import-job",
        method: "GET",
        path: "/v1/import-jobs/{jobId}",
        scope: Scope::ImportsRead,
        pages: false,
        query: &[],
        handler: get_import_job::boxed,
    },
    Route {
        function: "list-suppliers",
        method: "GET",
        path: "/v1/suppliers",
        scope: Scope::ImportsRead,
        pages: true,
        query: &["limit", "continuationKey"],
        handler: list_suppliers::boxed,
    },
    Route {
        function: "get-supplier",
        method: "GET",
        path: "/v1/suppliers/{externalId}",
        scope: Scope::ImportsRead,
        pages: false,
        query: &[],
        handler: get_supplier::boxed,
    },
];

/// Checks a text field of a request body: a 400 naming it. Identifiers are single-line;
/// free-form notes (a rejection reason) may hold newlines and tabs.
pub(crate) fn check_text(
    field: &str,
    value: &str,
    max_chars: usize,
    lines: crate::domain::text::Lines,
) -> Result<(), crate::error::ApiError> {
    crate::domain::text::check(field, value, max_chars, lines)
        .map_err(|e| crate::error::ApiError::fields(vec![e]))
}
