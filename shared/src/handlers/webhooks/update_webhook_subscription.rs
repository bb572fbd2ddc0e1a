//! `PATCH /v1/webhook-subscriptions/{subscriptionId}`: change a subscription's `url`, `events`,
//! `description` or `enabled`; only the fields sent change. Enabling one the platform disabled
//! after three days of failures (or for a lost grant) starts it afresh. Changing `events` or
//! enabling needs each event type's read scope, as creating does (403 naming it). A read, then a write conditional on the
//! version read, so a change racing another (a rotation, the dispatcher disabling it) is
//! applied again to what that one wrote, and one racing a delete cannot bring it back.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::webhook::SubscriptionPatchRequest;
use crate::domain::{Scope, Timestamp};
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "update-webhook-subscription",
    method: "PATCH",
    path: "/v1/webhook-subscriptions/{subscriptionId}",
    scopes: &[Scope::WebhooksManage],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let body: SubscriptionPatchRequest = edge::json_body(&req, false)?;
    let patch = body
        .parse(state.config.webhook_urls)
        .map_err(ApiError::fields)?;
    // Choosing events or enabling asks again whether the client may be told of them.
    let asks_access = patch.events.is_some() || patch.enabled == Some(true);
    let changed = super::change_subscription_in_path(state, &tenant, &req, |mut read| {
        read.subscription = patch.clone().apply(read.subscription, Timestamp::now());
        if asks_access && read.subscription.enabled {
            super::may_be_told(&tenant, &read.subscription.events)?;
        }
        Ok(read)
    })
    .await?;
    edge::ok(&changed.subscription)
}
