//! `GET /v1/invoices/{invoiceId}/download-url?format=PDF`: a short-lived pre-signed S3 GET.
//! One GetItem for the document list, then local signing.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::Scope;
use crate::domain::{DocumentFormat, InvoiceId};
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "get-invoice-download-url",
    method: "GET",
    path: "/v1/invoices/{invoiceId}/download-url",
    scopes: &[Scope::InvoicesRead],
    pages: false,
    query: &["format"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let invoice_id: InvoiceId = edge::path_param(&req, "invoiceId")?;
    let format = match edge::query(&req, "format") {
        None => None,
        Some(raw) => Some(DocumentFormat::parse(&raw).ok_or_else(|| {
            ApiError::field(
                "format",
                format!("must be one of PDF, JPEG, PNG, TIFF, got {raw:?}"),
            )
        })?),
    };
    let documents = state
        .invoices
        .documents(tenant.company, invoice_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("invoice {invoice_id} not found")))?;
    let document = match format {
        // Without a format: the invoice's first (primary) soft copy.
        None => documents
            .first()
            .ok_or_else(|| ApiError::not_found(format!("invoice {invoice_id} has no soft copy")))?,
        Some(format) => documents
            .iter()
            .find(|d| d.format == format)
            .ok_or_else(|| {
                let available: Vec<&str> = documents.iter().map(|d| d.format.as_str()).collect();
                ApiError::not_found(format!(
                    "invoice {invoice_id} has no {} soft copy (available: {})",
                    format.as_str(),
                    if available.is_empty() {
                        "none".to_string()
                    } else {
                        available.join(", ")
                    }
                ))
            })?,
    };
    let url = state
        .documents
        .download_url(tenant.company, invoice_id, document)
        .await?;
    edge::ok(&url)
}
