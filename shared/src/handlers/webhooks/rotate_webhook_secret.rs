//! `POST /v1/webhook-subscriptions/{subscriptionId}/rotate-secret`: a new signing secret,
//! shown this once. For 24 hours every delivery carries two signatures, the new secret's and
//! the old one's, so a receiver can switch over whenever it likes in that day (rotating again
//! within the day is refused (409 `CONFLICT`) while two old secrets still sign: every secret
//! shown in a 200 signs for its day, however many rotations race; `DELETE
//! …/{subscriptionId}/secrets/previous` retires old secrets at once).

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::webhook_signing::SigningSecret;
use crate::domain::{Scope, Timestamp};
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::store::webhooks::WebhookStore;

pub const ROUTE: Route = Route {
    function: "rotate-webhook-secret",
    method: "POST",
    path: "/v1/webhook-subscriptions/{subscriptionId}/rotate-secret",
    scopes: &[Scope::WebhooksManage],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let secret = SigningSecret::generate().map_err(ApiError::internal)?;
    // The time is taken at each attempt: one applied again after a racing write is stamped
    // after that write, so `updatedAt` never goes back.
    let rotated = super::change_subscription_in_path(state, &tenant, &req, |read| {
        WebhookStore::rotated(read, secret.clone(), Timestamp::now())
    })
    .await?;
    let previous_retires_at = rotated.secrets.iter().filter_map(|s| s.retires_at).max();
    edge::ok(&serde_json::json!({
        "subscriptionId": rotated.subscription.id,
        "secret": secret.reveal(),
        "previousSecretsRetireAt": previous_retires_at,
    }))
}
