//! `GET /v1/invoices/exportable?limit&continuationKey`: a page of invoice IDs ready for export.

use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::app::AppState;
use crate::domain::InvoiceId;
use crate::domain::Scope;
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::store::invoices::parse_queue_position;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    items: Vec<InvoiceId>,
    /// Null exactly when nothing is left.
    continuation_key: Option<String>,
}

pub const ROUTE: Route = Route {
    function: "list-exportable-invoices",
    method: "GET",
    path: "/v1/invoices/exportable",
    scope: Scope::InvoicesRead,
    pages: true,
    query: &["limit", "continuationKey"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let limit = edge::page_limit(&req)?;
    let after = state
        .continuation
        .from_query(&req, tenant.company, |position| {
            parse_queue_position(position).is_some()
        })
        .await?;
    let page = state
        .invoices
        .list_exportable(tenant.company, after.as_deref(), limit)
        .await?;
    let continuation_key = state
        .continuation
        .seal_next(tenant.company, page.next_position)?;
    edge::ok(&Page {
        items: page.invoice_ids,
        continuation_key,
    })
}
