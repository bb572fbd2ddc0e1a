//! `POST /v1/webhook-subscriptions/{subscriptionId}/test`: sends the subscription a signed
//! `ping` now and answers with what its receiver did (status code, latency, or the error),
//! within the 5 s a delivery may take. The ping is logged with the deliveries and never
//! retried. Any receiver's answer is a 200 here: `delivered` says whether it was a 2xx.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::{Scope, Timestamp};
use crate::edge;
use crate::features::webhooks::dispatch::Dispatcher;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "test-webhook-subscription",
    method: "POST",
    path: "/v1/webhook-subscriptions/{subscriptionId}/test",
    scopes: &[Scope::WebhooksManage],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let found = super::subscription_in_path(state, &tenant, &req).await?;
    let ping = Dispatcher::of(state)?
        .ping(&found, Timestamp::now())
        .await?;
    let attempt = ping.attempts.first();
    edge::ok(&serde_json::json!({
        "eventId": ping.event_id,
        "delivered": ping.status == crate::domain::webhook::DeliveryStatus::Delivered,
        "statusCode": attempt.and_then(|a| a.status_code),
        "latencyMs": attempt.map(|a| a.latency_ms),
        "error": attempt.and_then(|a| a.error.clone()),
    }))
}
