//! Webhook subscriptions (managed by their client), their deliveries, and the event functions
//! that fan events out, deliver and retry them.

pub mod create_webhook_subscription;
pub mod delete_webhook_subscription;
pub mod deliver_webhooks;
pub mod dispatch_webhooks;
pub mod get_webhook_subscription;
pub mod list_webhook_deliveries;
pub mod list_webhook_subscriptions;
pub mod recover_webhook_deliveries;
pub mod resend_webhook_delivery;
pub mod retire_webhook_secrets;
pub mod rotate_webhook_secret;
pub mod test_webhook_subscription;
pub mod update_webhook_subscription;
pub mod webhook_fanout;

use crate::app::AppState;
use crate::domain::webhook::{EventType, Subscription};
use crate::domain::SubscriptionId;
use crate::foundation::error::ApiError;
use crate::gate::Tenant;
use crate::store::webhooks::SigningSubscription;

/// The calling client's subscription named in the path (`{subscriptionId}`), read once; a
/// 404 if the client has none by that id for this company (another client's is not its own).
async fn subscription_in_path(
    state: &AppState,
    tenant: &Tenant,
    req: &lambda_http::Request,
) -> Result<SigningSubscription, ApiError> {
    let id: SubscriptionId = crate::edge::path_param(req, "subscriptionId")?;
    state
        .webhooks
        .get(tenant.company, &tenant.client_id, id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// Changes the calling client's subscription named in the path by `apply`: read, applied and
/// written back conditional on nobody writing it in between (else read and applied again; see
/// [`crate::store::webhooks::WebhookStore::change`]). A 404 as [`subscription_in_path`].
async fn change_subscription_in_path(
    state: &AppState,
    tenant: &Tenant,
    req: &lambda_http::Request,
    apply: impl FnMut(SigningSubscription) -> Result<SigningSubscription, ApiError>,
) -> Result<SigningSubscription, ApiError> {
    let id: SubscriptionId = crate::edge::path_param(req, "subscriptionId")?;
    state
        .webhooks
        .change(tenant.company, &tenant.client_id, id, apply)
        .await?
        .ok_or_else(|| not_found(id))
}

/// A 403 naming the scope when `events` would tell the tenant of something its grant for the
/// company does not let it read (`invoice.*` needs invoices.read, `import_job.*` imports.read):
/// `webhooks.manage` alone lets a client subscribe, never read the queue through a webhook.
fn may_be_told(tenant: &Tenant, events: &[EventType]) -> Result<(), ApiError> {
    match EventType::first_unreadable(events, &tenant.granted) {
        None => Ok(()),
        Some((event, scope)) => Err(ApiError::Forbidden(format!(
            "subscribing to {} needs the {} scope, which this client's grant for company {} \
             does not include",
            event.as_str(),
            scope.oauth_name(),
            tenant.company
        ))),
    }
}

/// The subscription, if events may be sent to it again on its client's request: enabled (409
/// naming the way to enable it), and its client still allowed to read what its events tell of
/// (403 naming the scope, as [`may_be_told`]).
fn sendable(tenant: &Tenant, found: SigningSubscription) -> Result<Subscription, ApiError> {
    let subscription = found.subscription;
    if !subscription.enabled {
        return Err(ApiError::Conflict(format!(
            "webhook subscription {} is disabled{}: enable it first \
             (PATCH {{\"enabled\": true}}), then send its events again",
            subscription.id,
            subscription
                .disabled_reason
                .as_deref()
                .map_or_else(String::new, |why| format!(" ({why})"))
        )));
    }
    may_be_told(tenant, &subscription.events)?;
    Ok(subscription)
}

fn not_found(id: SubscriptionId) -> ApiError {
    ApiError::not_found(format!("webhook subscription {id} not found"))
}

/// Where a subscription is read (the `Location` of the 201 that made it).
fn subscription_location(subscription: &Subscription) -> String {
    format!("/v1/webhook-subscriptions/{}", subscription.id)
}
