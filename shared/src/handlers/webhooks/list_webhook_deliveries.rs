//! `GET /v1/webhook-subscriptions/{subscriptionId}/deliveries?limit&continuationKey`: the
//! subscription's delivery log, newest event first (one GetItem for the subscription and one
//! Query, issued together): each event sent, its status, every attempt (status code or error, latency) and when
//! it is tried next. Kept 30 days.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::webhook::Delivery;
use crate::domain::Scope;
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "list-webhook-deliveries",
    method: "GET",
    path: "/v1/webhook-subscriptions/{subscriptionId}/deliveries",
    scopes: &[Scope::WebhooksManage],
    pages: true,
    query: &["limit", "continuationKey"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let asked = state
        .continuation
        .page_request(&req, tenant.company, |p| p.starts_with("DELIVERY#"))
        .await?;
    // Both reads at once: the log is keyed by company and subscription, and it is shown only
    // once the subscription proves to be this client's, so a stranger's id reads nothing it
    // can see (the 404 costs one wasted Query, the common case one round trip less).
    let (_, page) = tokio::try_join!(
        super::subscription_in_path(state, &tenant, &req),
        state.webhooks.deliveries(
            tenant.company,
            edge::path_param(&req, "subscriptionId")?,
            i32::try_from(asked.limit).unwrap_or(i32::MAX),
            asked.after.as_deref(),
        ),
    )?;
    let items: Vec<_> = page.deliveries.iter().map(view).collect();
    state
        .continuation
        .page_answer(tenant.company, &items, page.next_position)
}

/// A delivery as the log shows it: the event sent (as JSON, not the string signed), and what
/// became of it.
fn view(delivery: &Delivery) -> serde_json::Value {
    serde_json::json!({
        "eventId": delivery.event_id,
        "eventType": delivery.event_type,
        "eventAt": delivery.event_at,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "nextAttemptAt": delivery.next_attempt_at,
        "payload": serde_json::from_str::<serde_json::Value>(&delivery.body).ok(),
    })
}
