//! `GET /v1/suppliers?limit&continuationKey`: a page of the company's supplier cards in
//! externalId order (one Query), paged like the export queue.

use lambda_http::{Body, Request, Response};

use super::{HandlerFuture, Route};
use crate::app::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::http;
use crate::store::suppliers::is_supplier_position;

pub fn boxed<'a>(state: &'a AppState, route: &'static Route, req: Request) -> HandlerFuture<'a> {
    Box::pin(state.serve_route(route, req, run))
}

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let limit = http::page_limit(&req)?;
    let after = state
        .continuation
        .from_query(&req, tenant.company, is_supplier_position)
        .await?;
    let page = state.suppliers.list(tenant.company, after, limit).await?;
    let items: Vec<_> = page.suppliers.iter().map(|s| s.view()).collect();
    let continuation_key = page
        .next_position
        .map(|p| state.continuation.seal(tenant.company, &p))
        .transpose()?;
    http::ok(&serde_json::json!({
        "items": items,
        "continuationKey": continuation_key,
    }))
}
