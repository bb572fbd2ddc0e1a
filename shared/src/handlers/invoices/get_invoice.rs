//! `GET /v1/invoices/{invoiceId}`: the invoice with its line items, in one Query.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::InvoiceId;
use crate::domain::Scope;
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "get-invoice",
    method: "GET",
    path: "/v1/invoices/{invoiceId}",
    scopes: &[Scope::InvoicesRead],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let invoice_id: InvoiceId = edge::path_param(&req, "invoiceId")?;
    // Another company's invoice lives under another partition key: it is simply not found.
    match state.invoices.get(tenant.company, invoice_id).await? {
        Some(invoice) => edge::ok(&invoice),
        None => Err(ApiError::not_found(format!(
            "invoice {invoice_id} not found"
        ))),
    }
}
