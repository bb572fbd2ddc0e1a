//! `GET /v1/invoices/{invoiceId}`: the invoice with its line items, in one Query.

use lambda_http::{Body, Request, Response};

use super::HandlerFuture;
use crate::app::AppState;
use crate::auth::Scope;
use crate::domain::InvoiceId;
use crate::error::ApiError;
use crate::http;

pub fn boxed(state: &AppState, req: Request) -> HandlerFuture<'_> {
    Box::pin(handle(state, req))
}

pub async fn handle(state: &AppState, req: Request) -> Response<Body> {
    http::serve(req, |req| run(state, req)).await
}

async fn run(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let tenant = state.authorize(&req, Scope::InvoicesRead).await?;
    let invoice_id: InvoiceId = http::path_param(&req, "invoiceId")?;
    // Another company's invoice lives under another partition key: it is simply not found.
    match state.invoices.get(tenant.company, invoice_id).await? {
        Some(invoice) => http::ok(&invoice),
        None => Err(ApiError::not_found(format!(
            "invoice {invoice_id} not found"
        ))),
    }
}
