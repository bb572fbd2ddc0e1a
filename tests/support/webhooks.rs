//! Webhook steps: subscribing a receiver over the API (the receiver then trusts the secret the
//! answer shows) and reading a subscription's delivery log.

use ledgerdock_shared::domain::webhook_signing::SigningSecret;
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
}
