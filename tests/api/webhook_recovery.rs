//! Sending events again, through the API on the running dev stack: a recovery sends each event
//! a subscription missed once (those that came while it was disabled among them) and leaves
//! what landed; a resend sends one event again; both only for the client's own, enabled
//! subscription, and bad input is named.

use std::time::Duration;

use ledgerdock_tests::receiver::Receiver;
use ledgerdock_tests::*;
use serde_json::{json, Value};

const DELIVERED_WITHIN: Duration = Duration::from_secs(20);

/// A stack and a connector whose client subscribed a receiver to `invoice.ready_for_export`,
/// and two invoices it heard of: (stack, connector, receiver, subscription path).
async fn heard_two() -> (TestStack, Connector, Receiver, String) {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let receiver = Receiver::start().await;
    let made = t
        .subscribe(&a, &receiver, &["invoice.ready_for_export"])
        .await;
    let path = format!("{SUBSCRIPTIONS}/{}", made["id"].as_str().unwrap());
    t.publish_many(a.company, 2).await;
    assert_eq!(receiver.wait_for(2, DELIVERED_WITHIN).await.len(), 2);
    (t, a, receiver, path)
}

fn recover(since: &str) -> Value {
    json!({ "since": since })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recovery_sends_what_came_while_disabled_once_and_leaves_what_landed() {
    let (t, a, receiver, path) = heard_two().await;
    t.patch(&a, &path, &json!({"enabled": false})).await.ok();
    t.publish_many(a.company, 3).await;
    t.patch(&a, &path, &json!({"enabled": true})).await.ok();

    let answer = t
        .post(
            &a,
            &format!("{path}/recover"),
            &recover("2020-01-01T00:00:00Z"),
        )
        .await;
    assert_eq!(answer.status, 202, "{}", answer.text);
    let recovered = answer.json();
    assert_eq!(recovered["queued"], 3, "{recovered}");
    assert_eq!(recovered["alreadyDelivered"], 2);
    assert_eq!(recovered["held"], 0);
    let heard = receiver.wait_for(5, DELIVERED_WITHIN).await;
    let mut ids: Vec<&str> = heard.iter().map(|r| r.webhook_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5, "five events, each once: {heard:?}");
    let sent_again: Vec<&str> = recovered["eventIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    assert!(sent_again.iter().all(|id| ids.contains(id)));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resent_event_reaches_the_receiver_again_under_its_own_id() {
    let (t, a, receiver, path) = heard_two().await;
    let first = receiver.received()[0].webhook_id.clone();
    let answer = t
        .post(&a, &format!("{path}/deliveries/{first}/resend"), &json!({}))
        .await;
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(answer.json()["eventId"], first.as_str());
    assert_eq!(answer.json()["status"], "PENDING");
    let heard = receiver.wait_for(3, DELIVERED_WITHIN).await;
    assert_eq!(heard.len(), 3);
    assert_eq!(heard[2].webhook_id, first);
    assert_eq!(heard[2].verified_by, [0]);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_subscription_is_not_sent_to_again_until_it_is_enabled() {
    let (t, a, receiver, path) = heard_two().await;
    t.patch(&a, &path, &json!({"enabled": false})).await.ok();
    let first = receiver.received()[0].webhook_id.clone();
    for (call, body) in [
        (format!("{path}/recover"), recover("2020-01-01T00:00:00Z")),
        (format!("{path}/deliveries/{first}/resend"), json!({})),
    ] {
        let refused = t.post(&a, &call, &body).await.error(409, "CONFLICT");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains("enabled"), "{message}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 2);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn another_clients_subscription_or_an_event_it_does_not_receive_is_not_found() {
    let (t, a, receiver, path) = heard_two().await;
    let first = receiver.received()[0].webhook_id.clone();
    // Another client of the same company: the subscription is not its own.
    let other = t
        .client_of(a.company, &ledgerdock_shared::domain::Scope::ALL)
        .await;
    t.post(
        &other,
        &format!("{path}/recover"),
        &recover("2020-01-01T00:00:00Z"),
    )
    .await
    .error(404, "NOT_FOUND");
    t.post(
        &other,
        &format!("{path}/deliveries/{first}/resend"),
        &json!({}),
    )
    .await
    .error(404, "NOT_FOUND");
    // An event of another type, and one the feed never held.
    let ids = t.publish_many(a.company, 1).await;
    t.complete(&a, ids[0], &json!({})).await.ok();
    let feed = t.read_feed_of(&a, "types=invoice.exported", 1, 100).await;
    let exported = feed.ids()[0].to_string();
    let never = "evt_00000000000000000000000000000000";
    for event in [exported.as_str(), never] {
        t.post(&a, &format!("{path}/deliveries/{event}/resend"), &json!({}))
            .await
            .error(404, "NOT_FOUND");
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_recovery_or_resend_is_a_400_naming_the_field_and_sends_nothing() {
    let (t, a, receiver, path) = heard_two().await;
    for (body, field) in [
        (json!({}), "since"),
        (json!({"since": "yesterday"}), "since"),
        (json!({"since": "2999-01-01T00:00:00Z"}), "since"),
        (json!({"after": "not-a-cursor"}), "after"),
        (
            json!({"since": "2026-01-01T00:00:00Z", "after": "1765100000000000.~"}),
            "after",
        ),
        (
            json!({"since": "2026-01-01T00:00:00Z", "until": 1}),
            "until",
        ),
    ] {
        t.post(&a, &format!("{path}/recover"), &body)
            .await
            .invalid(field);
    }
    t.post(
        &a,
        &format!("{path}/deliveries/evt_NOPE/resend"),
        &json!({}),
    )
    .await
    .invalid("eventId");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 2);
    t.stop().await;
}
