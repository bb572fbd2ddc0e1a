//! `DELETE /v1/webhook-subscriptions/{subscriptionId}/secrets/previous`: every rotated-out
//! secret stops signing now, instead of at the end of its day, so a leaked secret can be
//! retired at once (rotate, deploy the new secret, then retire the old). Answers how many were
//! retired; sent again, 0. Read and written like any change to a subscription, so it never
//! undoes a racing PATCH, and a rotation landing just before it is retired with the rest.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::{Scope, Timestamp};
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::store::webhooks::WebhookStore;

pub const ROUTE: Route = Route {
    function: "retire-webhook-secrets",
    method: "DELETE",
    path: "/v1/webhook-subscriptions/{subscriptionId}/secrets/previous",
    scopes: &[Scope::WebhooksManage],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let mut retired = 0;
    let changed = super::change_subscription_in_path(state, &tenant, &req, |read| {
        let (kept, count) = WebhookStore::retired_previous(read, Timestamp::now());
        retired = count;
        Ok(kept)
    })
    .await?;
    edge::ok(&serde_json::json!({
        "subscriptionId": changed.subscription.id,
        "retiredSecrets": retired,
        "updatedAt": changed.subscription.updated_at,
    }))
}
