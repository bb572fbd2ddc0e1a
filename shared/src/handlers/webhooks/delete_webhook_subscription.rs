//! `DELETE /v1/webhook-subscriptions/{subscriptionId}`: stop delivering to it; 204. One
//! transaction with the client's subscription counter, and no read before it (the key is the
//! caller's company, client and the id; a 404 when its condition finds nothing there). Deliveries still pending are given up
//! on when they come due, unsent; its delivery log can no longer be read and expires with its
//! deliveries (30 days).

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::{Scope, SubscriptionId};
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "delete-webhook-subscription",
    method: "DELETE",
    path: "/v1/webhook-subscriptions/{subscriptionId}",
    scopes: &[Scope::WebhooksManage],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let id: SubscriptionId = edge::path_param(&req, "subscriptionId")?;
    if !state
        .webhooks
        .delete(tenant.company, &tenant.client_id, id)
        .await?
    {
        return Err(super::not_found(id));
    }
    Response::builder()
        .status(::http::StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .map_err(ApiError::internal)
}
