//! `GET /v1/invoices/{invoiceId}`: the invoice with its line items, in one Query.

use lambda_http::{Body, Request, Response};

use super::{HandlerFuture, Route};
use crate::app::AppState;
use crate::auth::Tenant;
use crate::domain::InvoiceId;
use crate::error::ApiError;
use crate::http;

pub fn boxed<'a>(state: &'a AppState, route: &'static Route, req: Request) -> HandlerFuture<'a> {
    Box::pin(state.serve_route(route, req, run))
}

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let invoice_id: InvoiceId = http::path_param(&req, "invoiceId")?;
    // Another company's invoice lives under another partition key: it is simply not found.
    match state.invoices.get(tenant.company, invoice_id).await? {
        Some(invoice) => http::ok(&invoice),
        None => Err(ApiError::not_found(format!(
            "invoice {invoice_id} not found"
        ))),
    }
}
