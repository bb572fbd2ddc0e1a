//! `POST /v1/webhook-subscriptions`: subscribe a URL to events of the company. Answers 201 with
//! the subscription and its signing secret, which is shown this once (`whsec_…`; rotate it to
//! get a new one). Each event type needs the scope that reads what it tells of (a 403 naming
//! it otherwise). The workflow, with its Idempotency-Key and the limit of subscriptions per
//! client, is `features::webhooks::subscribe`.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::webhook::NewSubscriptionRequest;
use crate::domain::Scope;
use crate::edge;
use crate::features::webhooks::subscribe::{Subscribed, Subscriber};
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "create-webhook-subscription",
    method: "POST",
    path: "/v1/webhook-subscriptions",
    scopes: &[Scope::WebhooksManage],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let key = IdempotencyKey::from_headers(req.headers())?;
    let body: NewSubscriptionRequest = edge::json_body(&req, false)?;
    let new = body
        .parse(state.config.webhook_urls)
        .map_err(ApiError::fields)?;
    super::may_be_told(&tenant, &new.events)?;
    let Subscribed {
        subscription,
        secret,
        replayed,
    } = Subscriber::from(state)
        .subscribe(tenant.company, &tenant.client_id, key, new)
        .await?;
    let mut shown = serde_json::to_value(&subscription).map_err(ApiError::internal)?;
    shown["secret"] = serde_json::json!(secret.reveal());
    edge::made(
        ::http::StatusCode::CREATED,
        &shown,
        &super::subscription_location(&subscription),
        replayed,
    )
}
