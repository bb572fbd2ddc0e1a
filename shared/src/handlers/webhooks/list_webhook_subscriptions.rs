//! `GET /v1/webhook-subscriptions`: the calling client's subscriptions for the company, oldest
//! first (one Query; at most 10, so one page), without their secrets.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::Scope;
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "list-webhook-subscriptions",
    method: "GET",
    path: "/v1/webhook-subscriptions",
    scopes: &[Scope::WebhooksManage],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, _req: Request) -> Result<Response<Body>, ApiError> {
    let items = state
        .webhooks
        .list(tenant.company, &tenant.client_id)
        .await?;
    edge::ok(&serde_json::json!({ "items": items }))
}
