//! One module per API operation. Each exposes `handle(&AppState, Request) -> Response`, which a
//! Lambda binary in functions/ runs as its whole job, and which the dev stack calls in-process.
//! [`ROUTES`] is the route and scope table; template.yaml declares the same (a test checks).

pub mod complete_invoice_export;
pub mod get_invoice;
pub mod get_invoice_download_url;
pub mod list_exportable_invoices;
pub mod publish_invoice;
pub mod reject_invoice_export;

use std::future::Future;
use std::pin::Pin;

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::auth::Scope;

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;
pub type Handler = for<'a> fn(&'a AppState, Request) -> HandlerFuture<'a>;

/// A public API route: the function that serves it and the scope its authorizer demands.
pub struct Route {
    /// The Lambda function (and functions/ crate) name.
    pub function: &'static str,
    pub method: &'static str,
    /// API Gateway resource path, with `{param}` segments.
    pub path: &'static str,
    pub scope: Scope,
    pub handler: Handler,
}

pub static ROUTES: &[Route] = &[
    Route {
        function: "list-exportable-invoices",
        method: "GET",
        path: "/v1/invoices/exportable",
        scope: Scope::InvoicesRead,
        handler: list_exportable_invoices::boxed,
    },
    Route {
        function: "get-invoice",
        method: "GET",
        path: "/v1/invoices/{invoiceId}",
        scope: Scope::InvoicesRead,
        handler: get_invoice::boxed,
    },
    Route {
        function: "get-invoice-download-url",
        method: "GET",
        path: "/v1/invoices/{invoiceId}/download-url",
        scope: Scope::InvoicesRead,
        handler: get_invoice_download_url::boxed,
    },
    Route {
        function: "complete-invoice-export",
        method: "POST",
        path: "/v1/invoices/{invoiceId}/complete",
        scope: Scope::InvoicesWrite,
        handler: complete_invoice_export::boxed,
    },
    Route {
        function: "reject-invoice-export",
        method: "POST",
        path: "/v1/invoices/{invoiceId}/reject",
        scope: Scope::InvoicesWrite,
        handler: reject_invoice_export::boxed,
    },
];

/// Checks an optional free-text field: trimmed non-empty, bounded, no control characters.
pub(crate) fn check_text(
    field: &str,
    value: &str,
    max_chars: usize,
) -> Result<(), crate::error::ApiError> {
    use crate::error::ApiError;
    if value.trim().is_empty() {
        return Err(ApiError::field(field, "must not be blank"));
    }
    if value.chars().count() > max_chars {
        return Err(ApiError::field(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}
