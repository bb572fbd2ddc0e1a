//! Webhook steps: subscribing a receiver over the API (the receiver then trusts the secret the
//! answer shows) and reading a subscription's delivery log; and the operator's side, which
//! reads and writes the table where no API call can (a client cut off can no longer look).

use ledgerdock_shared::domain::webhook::{EventType, Subscription, UrlPolicy, WebhookUrl};
use ledgerdock_shared::domain::webhook_signing::SigningSecret;
use ledgerdock_shared::domain::{CompanyId, SubscriptionId, Timestamp};
use serde_json::{json, Value};

use crate::receiver::Receiver;
use crate::{Call, Connector, TestStack};

pub const SUBSCRIPTIONS: &str = "/v1/webhook-subscriptions";

impl TestStack {
    /// `POST /v1/webhook-subscriptions` for `events` at `receiver`, asserting the 201 and its
    /// Location; the receiver is told the secret the answer shows. Returns the subscription.
    pub async fn subscribe(
        &self,
        tenant: &Connector,
        receiver: &Receiver,
        events: &[&str],
    ) -> Value {
        let created = self
            .post_json(
                tenant,
                SUBSCRIPTIONS,
                &json!({"url": receiver.url, "events": events, "description": "ERP confirmations"}),
            )
            .call()
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let body = created.json();
        let id = body["id"].as_str().unwrap();
        assert_eq!(
            created.headers["location"].to_str().unwrap(),
            format!("{SUBSCRIPTIONS}/{id}")
        );
        receiver.trust(SigningSecret::parse(body["secret"].as_str().unwrap()).unwrap());
        body
    }

    /// The first page of a subscription's delivery log, newest first.
    pub async fn deliveries(&self, tenant: &Connector, id: &str) -> Vec<Value> {
        self.get(tenant, &format!("{SUBSCRIPTIONS}/{id}/deliveries"))
            .call()
            .await
            .ok()["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Writes a subscription of `client_id` to `events` at `url` straight to the table, as
    /// the API would make it (or one made before the client's grant was narrowed, which the
    /// API would no longer make). Returns it with its signing secret.
    pub async fn put_subscription(
        &self,
        company: CompanyId,
        client_id: &str,
        url: &str,
        events: &[EventType],
    ) -> (Subscription, SigningSecret) {
        let now = Timestamp::now();
        let made = Subscription {
            id: SubscriptionId::new_random(),
            company_id: company,
            client_id: client_id.to_string(),
            url: WebhookUrl::parse("url", url, UrlPolicy::AllowLoopback).unwrap(),
            events: events.to_vec(),
            description: None,
            enabled: true,
            created_at: now,
            updated_at: now,
            failing_since: None,
            disabled_reason: None,
        };
        let secret = SigningSecret::generate().unwrap();
        let webhooks = &self.stack.app.webhooks;
        webhooks
            .create(&made, &secret, None)
            .await
            .unwrap()
            .unwrap();
        (made, secret)
    }

    /// A subscription as the table holds it (null once deleted), as the operator sees it.
    pub async fn stored_subscription(
        &self,
        company: CompanyId,
        client_id: &str,
        id: &str,
    ) -> Value {
        let id: SubscriptionId = id.parse().unwrap();
        let held = self
            .stack
            .app
            .webhooks
            .get(company, client_id, id)
            .await
            .unwrap();
        held.map_or(Value::Null, |h| {
            serde_json::to_value(h.subscription).unwrap()
        })
    }

    /// The event types of a subscription's delivery log as the table holds it, newest first.
    pub async fn stored_log(&self, company: CompanyId, id: &str) -> Vec<String> {
        let id: SubscriptionId = id.parse().unwrap();
        let page = self
            .stack
            .app
            .webhooks
            .deliveries(company, id, 20, None)
            .await
            .unwrap();
        page.deliveries
            .iter()
            .map(|d| d.event_type.clone())
            .collect()
    }

    /// How many subscriptions the table holds for the client in the company.
    pub async fn subscriptions_held(&self, company: CompanyId, client_id: &str) -> usize {
        self.stack
            .app
            .webhooks
            .held_by(company, client_id)
            .await
            .unwrap()
            .len()
    }
}
