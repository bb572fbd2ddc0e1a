//! `GET /v1/invoices/exportable?limit&continuationKey`: a page of invoice IDs ready for export.

use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::HandlerFuture;
use crate::app::AppState;
use crate::auth::Scope;
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

pub fn boxed(state: &AppState, req: Request) -> HandlerFuture<'_> {
    Box::pin(handle(state, req))
}

pub async fn handle(state: &AppState, req: Request) -> Response<Body> {
    http::serve(req, |req| run(state, req)).await
}

async fn run(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let tenant = state.authorize(&req, Scope::InvoicesRead).await?;
    let limit = http::page_limit(&req)?;
    let after = state
        .continuation
        .from_query(&req, tenant.company, |position| {
            parse_queue_position(position).is_some()
        })?;
    let page = state
        .invoices
        .list_exportable(tenant.company, after.as_deref(), limit)
        .await?;
    let continuation_key = page
        .next_position
        .map(|p| state.continuation.seal(tenant.company, &p));
    http::ok(&Page {
        items: page.invoice_ids,
        continuation_key,
    })
}
