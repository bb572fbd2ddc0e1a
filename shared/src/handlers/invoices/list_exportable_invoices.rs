//! `GET /v1/invoices/exportable?limit&continuationKey`: a page of invoice IDs ready for export.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::Scope;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::store::invoices::parse_queue_position;

pub const ROUTE: Route = Route {
    function: "list-exportable-invoices",
    method: "GET",
    path: "/v1/invoices/exportable",
    scopes: &[Scope::InvoicesRead],
    pages: true,
    query: &["limit", "continuationKey"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let asked = state
        .continuation
        .page_request(&req, tenant.company, |position| {
            parse_queue_position(position).is_some()
        })
        .await?;
    let page = state
        .invoices
        .list_exportable(tenant.company, asked.after.as_deref(), asked.limit)
        .await?;
    state
        .continuation
        .page_answer(tenant.company, &page.invoice_ids, page.next_position)
}
