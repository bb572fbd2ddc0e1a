//! `GET /v1/webhook-subscriptions/{subscriptionId}`: one of the calling client's subscriptions
//! (one GetItem), without its secrets. Another client's, or another company's, is a 404.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::Scope;
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "get-webhook-subscription",
    method: "GET",
    path: "/v1/webhook-subscriptions/{subscriptionId}",
    scopes: &[Scope::WebhooksManage],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let found = super::subscription_in_path(state, &tenant, &req).await?;
    edge::ok(&found.subscription)
}
