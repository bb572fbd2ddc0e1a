//! `POST /v1/webhook-subscriptions`: subscribe a URL to events of the company. Answers 201 with
//! the subscription and its signing secret, which is shown this once (`whsec_…`; rotate it to
//! get a new one). One transaction with the client's subscription counter, refused at 10.
//! Each event type needs the scope that reads what it tells of (a 403 naming it otherwise).

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::webhook::{NewSubscriptionRequest, Subscription, MAX_SUBSCRIPTIONS};
use crate::domain::webhook_signing::SigningSecret;
use crate::domain::{Scope, SubscriptionId, Timestamp};
use crate::edge;
use crate::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::store::webhooks::CreateRefused;

pub const ROUTE: Route = Route {
    function: "create-webhook-subscription",
    method: "POST",
    path: "/v1/webhook-subscriptions",
    scope: Scope::WebhooksManage,
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let body: NewSubscriptionRequest = edge::json_body(&req, false)?;
    let new = body
        .parse(state.config.webhook_urls)
        .map_err(ApiError::fields)?;
    super::may_be_told(&tenant, &new.events)?;
    let now = Timestamp::now();
    let subscription = Subscription {
        id: SubscriptionId::new_random(),
        company_id: tenant.company,
        client_id: tenant.client_id,
        url: new.url,
        events: new.events,
        description: new.description,
        enabled: true,
        created_at: now,
        updated_at: now,
        failing_since: None,
        disabled_reason: None,
    };
    let secret = SigningSecret::generate().map_err(ApiError::internal)?;
    if let Err(CreateRefused::TooMany) = state.webhooks.create(&subscription, &secret).await? {
        return Err(ApiError::LimitReached(format!(
            "this client already has {MAX_SUBSCRIPTIONS} webhook subscriptions for this company; \
             delete one, or subscribe one URL to more events"
        )));
    }
    let mut shown = serde_json::to_value(&subscription).map_err(ApiError::internal)?;
    shown["secret"] = serde_json::json!(secret.reveal());
    let mut response = edge::json(::http::StatusCode::CREATED, &shown)?;
    if let Ok(location) = super::subscription_location(&subscription).parse() {
        response
            .headers_mut()
            .insert(::http::header::LOCATION, location);
    }
    Ok(response)
}
