//! `GET /v1/invoices/{invoiceId}/history?limit&continuationKey`: every change of the invoice's
//! state, oldest first (published, republished, claimed, completed, rejected), when, by which
//! client and in which request, with the export record or the rejection (see
//! `features::history`). One Query; a history that is empty reads the header to tell an invoice
//! without one from none at all (404).

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::{InvoiceId, Scope};
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::store::history::is_position_of;

pub const ROUTE: Route = Route {
    function: "get-invoice-history",
    method: "GET",
    path: "/v1/invoices/{invoiceId}/history",
    scopes: &[Scope::InvoicesRead],
    pages: true,
    query: &["limit", "continuationKey"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let invoice: InvoiceId = edge::path_param(&req, "invoiceId")?;
    let asked = state
        .continuation
        .page_request(&req, tenant.company, |p| is_position_of(&invoice, p))
        .await?;
    let page = state
        .history
        .page(tenant.company, invoice, asked.after.as_deref(), asked.limit)
        .await?;
    if page.entries.is_empty()
        && asked.after.is_none()
        && state
            .invoices
            .header(tenant.company, invoice)
            .await?
            .is_none()
    {
        return Err(ApiError::not_found(format!("invoice {invoice} not found")));
    }
    state
        .continuation
        .page_answer(tenant.company, &page.entries, page.next_position)
}
