//! `POST /v1/webhook-subscriptions/{subscriptionId}/deliveries/{eventId}/resend`: sends one
//! event of the company's feed (30 days) to the subscription again, now: a delivery that landed
//! or was given up on starts afresh, one still pending is sent as it is. 202 with the delivery
//! as queued; it then shows in the delivery log like any other.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::{EventId, Scope, Timestamp};
use crate::edge;
use crate::features::webhooks::redeliver::{NotWanted, Redelivery};
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "resend-webhook-delivery",
    method: "POST",
    path: "/v1/webhook-subscriptions/{subscriptionId}/deliveries/{eventId}/resend",
    scopes: &[Scope::WebhooksManage],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let event_id: EventId = edge::path_param(&req, "eventId")?;
    // Both reads at once: the event is shown only once the subscription proves to be this
    // client's (as the delivery log is).
    let (found, entry) = tokio::try_join!(
        super::subscription_in_path(state, &tenant, &req),
        state.events.get(tenant.company, event_id.as_str()),
    )?;
    let target = super::sendable(&tenant, found)?;
    let entry = entry.ok_or_else(|| {
        ApiError::not_found(format!(
            "event {} not found in company {}'s feed (events are kept 30 days)",
            event_id.as_str(),
            tenant.company
        ))
    })?;
    let delivery = Redelivery::from(state)
        .resend(&target, &entry, Timestamp::now())
        .await?
        .map_err(|NotWanted(event_type)| {
            ApiError::not_found(format!(
                "event {} is {event_type}, which subscription {} does not receive",
                event_id.as_str(),
                target.id
            ))
        })?;
    edge::json(
        http::StatusCode::ACCEPTED,
        &serde_json::json!({
            "eventId": delivery.event_id,
            "eventType": delivery.event_type,
            "eventAt": delivery.event_at,
            "status": delivery.status,
            "held": target.failing_since.is_some(),
        }),
    )
}
