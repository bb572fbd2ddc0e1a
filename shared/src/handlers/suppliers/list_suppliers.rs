//! `GET /v1/suppliers?limit&continuationKey`: a page of the company's supplier cards in
//! externalId order (one Query), paged like the export queue.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::Scope;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::store::suppliers::is_supplier_position;

pub const ROUTE: Route = Route {
    function: "list-suppliers",
    method: "GET",
    path: "/v1/suppliers",
    scopes: &[Scope::ImportsRead],
    pages: true,
    query: &["limit", "continuationKey"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let asked = state
        .continuation
        .page_request(&req, tenant.company, is_supplier_position)
        .await?;
    let page = state
        .suppliers
        .list(tenant.company, asked.after, asked.limit)
        .await?;
    let items: Vec<_> = page.suppliers.iter().map(|s| s.view()).collect();
    state
        .continuation
        .page_answer(tenant.company, &items, page.next_position)
}
