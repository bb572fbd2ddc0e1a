//! `GET /v1/suppliers?limit&continuationKey`: a page of the company's supplier cards in
//! externalId order (one Query), paged like the export queue.

use lambda_http::{Body, Request, Response};

use super::HandlerFuture;
use crate::app::AppState;
use crate::auth::Scope;
use crate::error::ApiError;
use crate::http;
use crate::store::suppliers::is_supplier_position;

pub fn boxed(state: &AppState, req: Request) -> HandlerFuture<'_> {
    Box::pin(handle(state, req))
}

pub async fn handle(state: &AppState, req: Request) -> Response<Body> {
    http::serve(req, |req| run(state, req)).await
}

async fn run(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let tenant = state.authorize(&req, Scope::ImportsRead).await?;
    let limit = http::page_limit(&req)?;
    let after = state
        .continuation
        .from_query(&req, tenant.company, is_supplier_position)?;
    let page = state.suppliers.list(tenant.company, after, limit).await?;
    let items: Vec<_> = page.suppliers.iter().map(|s| s.view()).collect();
    http::ok(&serde_json::json!({
        "items": items,
        "continuationKey": page
            .next_position
            .map(|p| state.continuation.seal(tenant.company, &p)),
    }))
}
