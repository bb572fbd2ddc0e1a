//! Subscribing a URL to a company's events: the workflow behind
//! `POST /v1/webhook-subscriptions`. One transaction writes the subscription with the client's
//! subscription counter (refused at [`MAX_SUBSCRIPTIONS`]). With an `Idempotency-Key`, the same
//! request sent again within 24 hours makes no second subscription: it answers with the one the
//! first made, as it is now, with the secret that signs for it now; the same key with another
//! request is a 422.

use crate::app::AppState;
use crate::domain::idempotency::{Fingerprint, Idempotency, IdempotencyKey};
use crate::domain::webhook::{NewSubscription, Subscription, MAX_SUBSCRIPTIONS};
use crate::domain::webhook_signing::SigningSecret;
use crate::domain::{CompanyId, SubscriptionId, Timestamp};
use crate::foundation::error::ApiError;
use crate::store::webhooks::{CreateRefused, SigningSubscription, WebhookStore};

/// A subscription made (or, for a repeated Idempotency-Key, the first one made), with the
/// secret that signs for it, shown to its client this once.
pub struct Subscribed {
    pub subscription: Subscription,
    pub secret: SigningSecret,
    /// The subscription is the one an earlier request with the same key made.
    pub replayed: bool,
}

/// What subscribing needs: the webhook items, nothing else.
pub struct Subscriber<'a> {
    pub webhooks: &'a WebhookStore,
}

impl<'a> From<&'a AppState> for Subscriber<'a> {
    fn from(app: &'a AppState) -> Self {
        Self {
            webhooks: &app.webhooks,
        }
    }
}

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

impl Subscriber<'_> {
    /// Subscribes `new` for `client` in `company`, with a fresh signing secret.
    pub async fn subscribe(
        &self,
        company: CompanyId,
        client: &str,
        key: Option<IdempotencyKey>,
        new: NewSubscription,
    ) -> Result<Subscribed, ApiError> {
        let idempotency = key.map(|key| Idempotency {
            client_id: client.to_string(),
            key,
            fingerprint: fingerprint(&new),
        });
        if let Some(idempotency) = &idempotency {
            if let Some((first, fingerprint)) =
                self.webhooks.made_with(company, idempotency).await?
            {
                let first = idempotency.replays(first, &fingerprint)?;
                return self.replay(company, client, first).await;
            }
        }
        let now = Timestamp::now();
        let subscription = Subscription {
            id: SubscriptionId::new_random(),
            company_id: company,
            client_id: client.to_string(),
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
        match self
            .webhooks
            .create(&subscription, &secret, idempotency.as_ref())
            .await?
        {
            Ok(()) => Ok(Subscribed {
                subscription,
                secret,
                replayed: false,
            }),
            Err(CreateRefused::TooMany) => Err(ApiError::LimitReached(format!(
                "this client already has {MAX_SUBSCRIPTIONS} webhook subscriptions for this \
                 company; delete one, or subscribe one URL to more events"
            ))),
            // Another call with the same key landed between the read above and this write.
            Err(CreateRefused::KeyUsed(first, fingerprint)) => match &idempotency {
                Some(idempotency) => {
                    let first = idempotency.replays(first, &fingerprint)?;
                    self.replay(company, client, first).await
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
        &self,
        company: CompanyId,
        client: &str,
        id: SubscriptionId,
    ) -> Result<Subscribed, ApiError> {
        let Some(SigningSubscription {
            subscription,
            secrets,
            ..
        }) = self.webhooks.get(company, client, id).await?
        else {
            return Err(ApiError::not_found(format!(
                "webhook subscription {id}, which this Idempotency-Key made, has since been \
                 deleted; send a new key to subscribe again"
            )));
        };
        let secret = secrets
            .into_iter()
            .find(|s| s.retires_at.is_none())
            .ok_or_else(|| ApiError::internal(format!("subscription {id} has no current secret")))?
            .secret;
        Ok(Subscribed {
            subscription,
            secret,
            replayed: true,
        })
    }
}
