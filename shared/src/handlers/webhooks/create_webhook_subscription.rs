//! `POST /v1/webhook-subscriptions`: subscribe a URL to events of the company. Answers 201 with
//! the subscription and its signing secret, which is shown this once (`whsec_…`; rotate it to
//! get a new one). One transaction with the client's subscription counter, refused at 10.
//! Each event type needs the scope that reads what it tells of (a 403 naming it otherwise).
//!
//! With an `Idempotency-Key`, sending the same request again within 24 hours (its answer lost
//! on the way) makes no second subscription: it answers 201 with the one the first made, as it
//! is now, secret included (`Idempotent-Replayed: true`). The same key with another request is
//! a 422.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::idempotency::{Fingerprint, Idempotency, IdempotencyKey};
use crate::domain::webhook::{
    NewSubscription, NewSubscriptionRequest, Subscription, MAX_SUBSCRIPTIONS,
};
use crate::domain::webhook_signing::SigningSecret;
use crate::domain::{Scope, SubscriptionId, Timestamp};
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::store::webhooks::{CreateRefused, SigningSubscription};

pub const ROUTE: Route = Route {
    function: "create-webhook-subscription",
    method: "POST",
    path: "/v1/webhook-subscriptions",
    scope: Scope::WebhooksManage,
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

/// What the request asks for, as parsed: the same URL (normalised), events (in order) and
/// description make the same request.
fn fingerprint(new: &NewSubscription) -> Fingerprint {
    let events: Vec<&str> = new.events.iter().map(|e| e.as_str()).collect();
    Fingerprint::of(&[
        new.url.as_str().as_bytes(),
        events.join(",").as_bytes(),
        new.description.as_deref().unwrap_or("").as_bytes(),
        &[u8::from(new.description.is_some())],
    ])
}

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let key = IdempotencyKey::from_headers(req.headers()).map_err(|e| ApiError::fields(vec![e]))?;
    let body: NewSubscriptionRequest = edge::json_body(&req, false)?;
    let new = body
        .parse(state.config.webhook_urls)
        .map_err(ApiError::fields)?;
    super::may_be_told(&tenant, &new.events)?;
    let idempotency = key.map(|key| Idempotency {
        client_id: tenant.client_id.clone(),
        key,
        fingerprint: fingerprint(&new),
    });
    if let Some(idempotency) = &idempotency {
        if let Some((first, fingerprint)) = state
            .webhooks
            .made_with(tenant.company, idempotency)
            .await?
        {
            return replay(state, &tenant, idempotency.replays(first, &fingerprint)?).await;
        }
    }
    let now = Timestamp::now();
    let subscription = Subscription {
        id: SubscriptionId::new_random(),
        company_id: tenant.company,
        client_id: tenant.client_id.clone(),
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
    match state
        .webhooks
        .create(&subscription, &secret, idempotency.as_ref())
        .await?
    {
        Ok(()) => created(&subscription, &secret, false),
        Err(CreateRefused::TooMany) => Err(ApiError::LimitReached(format!(
            "this client already has {MAX_SUBSCRIPTIONS} webhook subscriptions for this company; \
             delete one, or subscribe one URL to more events"
        ))),
        // Another call with the same key landed between the read above and this write.
        Err(CreateRefused::KeyUsed(first, fingerprint)) => match &idempotency {
            Some(idempotency) => {
                replay(state, &tenant, idempotency.replays(first, &fingerprint)?).await
            }
            None => Err(ApiError::internal(
                "a create without a key refused on its key",
            )),
        },
    }
}

/// The answer to a repeated Idempotency-Key: the subscription it made, as it is now, with
/// the secret that signs for it now.
async fn replay(
    state: &AppState,
    tenant: &Tenant,
    id: SubscriptionId,
) -> Result<Response<Body>, ApiError> {
    let Some(SigningSubscription {
        subscription,
        secrets,
        ..
    }) = state
        .webhooks
        .get(tenant.company, &tenant.client_id, id)
        .await?
    else {
        return Err(ApiError::not_found(format!(
            "webhook subscription {id}, which this Idempotency-Key made, has since been \
             deleted; send a new key to subscribe again"
        )));
    };
    let current = secrets
        .iter()
        .find(|s| s.retires_at.is_none())
        .ok_or_else(|| ApiError::internal(format!("subscription {id} has no current secret")))?;
    created(&subscription, &current.secret, true)
}

fn created(
    subscription: &Subscription,
    secret: &SigningSecret,
    replayed: bool,
) -> Result<Response<Body>, ApiError> {
    let mut shown = serde_json::to_value(subscription).map_err(ApiError::internal)?;
    shown["secret"] = serde_json::json!(secret.reveal());
    let mut response = edge::json(::http::StatusCode::CREATED, &shown)?;
    let headers = response.headers_mut();
    if let Ok(location) = super::subscription_location(subscription).parse() {
        headers.insert(::http::header::LOCATION, location);
    }
    if replayed {
        headers.insert(
            "idempotent-replayed",
            ::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}
