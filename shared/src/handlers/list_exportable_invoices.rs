//! `GET /v1/invoices/exportable?limit&continuationKey`: a page of invoice IDs ready for export.

use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::{HandlerFuture, Route};
use crate::app::AppState;
use crate::auth::Tenant;
use crate::domain::InvoiceId;
use crate::error::ApiError;
use crate::http;
use crate::store::invoices::parse_queue_position;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    items: Vec<InvoiceId>,
    /// Null exactly when nothing is left.
    continuation_key: Option<String>,
}

pub fn boxed<'a>(state: &'a AppState, route: &'static Route, req: Request) -> HandlerFuture<'a> {
    Box::pin(state.serve_route(route, req, run))
}

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let limit = http::page_limit(&req)?;
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
    let continuation_key = page
        .next_position
        .map(|p| state.continuation.seal(tenant.company, &p))
        .transpose()?;
    http::ok(&Page {
        items: page.invoice_ids,
        continuation_key,
    })
}
