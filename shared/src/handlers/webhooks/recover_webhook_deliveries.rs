//! `POST /v1/webhook-subscriptions/{subscriptionId}/recover` `{"since": <time>}` (or
//! `{"after": <cursor>}` to go on where a recovery stopped): sends the subscription again every
//! event since then, within the feed's 30 days, that it wants and did not get: the events its
//! receiver failed on, those that came while it was disabled, and those still waiting out a
//! retry. A delivery that landed is left as it is, so each event reaches the receiver once.
//! 202 with what was queued (see `features::webhooks::redeliver`).
//!
//! A subscription's client must still be allowed to read what its events tell of, as when it
//! subscribed; a disabled subscription is enabled first (PATCH), or nothing could be sent.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::events::RecoverRequest;
use crate::domain::{Scope, Timestamp};
use crate::edge;
use crate::features::webhooks::redeliver::Redelivery;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "recover-webhook-deliveries",
    method: "POST",
    path: "/v1/webhook-subscriptions/{subscriptionId}/recover",
    scopes: &[Scope::WebhooksManage],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let now = Timestamp::now();
    let from = edge::json_body::<RecoverRequest>(&req, false)?.start(now)?;
    let found = super::subscription_in_path(state, &tenant, &req).await?;
    let target = super::sendable(&tenant, found)?;
    let recovered = Redelivery::from(state).recover(&target, from, now).await?;
    edge::json(
        http::StatusCode::ACCEPTED,
        &serde_json::json!({
            "subscriptionId": target.id,
            "queued": recovered.queued.len(),
            "eventIds": recovered.queued,
            "held": recovered.held,
            "alreadyDelivered": recovered.delivered_before,
            "continueAfter": recovered.stopped_at,
        }),
    )
}
