//! Webhooks through the API, end to end: subscriptions made and managed over HTTP, the dev
//! stack reading the table's stream into the fan-out and running the dispatcher, exactly as the
//! two functions run in AWS, and a real receiver that verifies every signature.

use std::time::Duration;

use ledgerdock_shared::domain::webhook_signing::SigningSecret;
use ledgerdock_shared::domain::{CompanyId, InvoiceId, Scope};
use ledgerdock_tests::receiver::{Received, Receiver};
use ledgerdock_tests::*;
use serde_json::{json, Value};

/// Long enough for the stream reader and one attempt on a loaded CI machine.
const DELIVERED_WITHIN: Duration = Duration::from_secs(20);

/// A stack with a connector whose client subscribed `receiver` to `events`: the stack, the
/// connector, and the subscription's path.
async fn subscribed(receiver: &Receiver, events: &[&str]) -> (TestStack, Connector, String) {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let made = t.subscribe(&a, receiver, events).await;
    let path = format!("{SUBSCRIPTIONS}/{}", made["id"].as_str().unwrap());
    (t, a, path)
}

/// Completes each invoice in one bulk call (externalId `ERP-<id>`), asserting all succeeded.
async fn complete_all(t: &TestStack, a: &Connector, invoices: &[InvoiceId]) {
    let items: Vec<Value> = invoices
        .iter()
        .map(|i| json!({"invoiceId": i, "externalId": format!("ERP-{i}")}))
        .collect();
    let bulk = t
        .post(a, "/v1/invoices/complete", &json!({ "items": items }))
        .await
        .ok();
    assert_eq!(bulk["succeeded"], invoices.len());
}

/// The invoice an `invoice.exported` delivery tells of, its envelope checked: signed with the
/// secret shown at creation, for the company, its event id the webhook-id.
fn exported_invoice(received: &Received, company: CompanyId) -> String {
    let body = &received.body;
    assert_eq!(
        received.verified_by,
        [0],
        "signed with the secret shown at creation"
    );
    assert_eq!(body["type"], "invoice.exported");
    assert_eq!(body["companyId"], company.to_string());
    assert_eq!(
        body["id"], received.webhook_id,
        "the event id is the webhook-id"
    );
    assert_eq!(body["data"]["status"], "EXPORTED");
    body["data"]["invoiceId"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscribed_receiver_hears_a_signed_invoice_exported_for_each_invoice_of_a_bulk_complete()
{
    let receiver = Receiver::start().await;
    let (t, a, _) = subscribed(&receiver, &["invoice.exported"]).await;
    let invoices = t.publish_many(a.company, 2).await;
    complete_all(&t, &a, &invoices).await;
    let received = receiver.wait_for(2, DELIVERED_WITHIN).await;
    let mut told: Vec<String> = received
        .iter()
        .map(|r| exported_invoice(r, a.company))
        .collect();
    told.sort();
    let mut expected: Vec<String> = invoices.iter().map(|i| i.to_string()).collect();
    expected.sort();
    assert_eq!(told, expected);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_delivery_log_shows_each_delivery_with_its_attempts_and_a_repeated_complete_tells_nothing(
) {
    let receiver = Receiver::start().await;
    let (t, a, one) = subscribed(&receiver, &["invoice.exported"]).await;
    let invoices = t.publish_many(a.company, 2).await;
    complete_all(&t, &a, &invoices).await;
    receiver.wait_for(2, DELIVERED_WITHIN).await;
    let log = t.fetch(&a, &format!("{one}/deliveries")).await.ok()["items"].clone();
    for delivery in log.as_array().unwrap() {
        assert_eq!(delivery["status"], "DELIVERED", "{delivery}");
        assert_eq!(delivery["eventType"], "invoice.exported");
        let first = &delivery["attempts"][0];
        assert_eq!(
            (&first["attempt"], &first["statusCode"]),
            (&json!(1), &json!(200))
        );
        assert!(first["latencyMs"].is_u64());
        assert_eq!(delivery["nextAttemptAt"], Value::Null);
        assert_eq!(delivery["payload"]["type"], "invoice.exported");
    }
    assert_eq!(log.as_array().unwrap().len(), 2, "{log}");
    // Completing again changes nothing, and tells nothing.
    complete_all(&t, &a, &invoices[..1]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 2);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_reads_back_as_made_and_never_shows_its_secret_again() {
    let receiver = Receiver::start().await;
    let (t, a, one) = subscribed(&receiver, &["invoice.exported", "invoice.rejected"]).await;
    let shown = t.fetch(&a, &one).await.ok();
    assert_eq!(shown["url"], receiver.url);
    assert_eq!(
        shown["events"],
        json!(["invoice.exported", "invoice.rejected"])
    );
    assert_eq!(shown["enabled"], true);
    assert_eq!(shown["clientId"], a.client_id);
    assert!(shown.get("secret").is_none() && shown.get("secrets").is_none());
    let listed = t.fetch(&a, SUBSCRIPTIONS).await.ok();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains("whsec_"), "{listed}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_is_its_clients_own_and_needs_the_manage_scope() {
    let receiver = Receiver::start().await;
    let (t, _, one) = subscribed(&receiver, &["invoice.exported"]).await;
    // Another client of another company, and the same id under it: not found, unchanged.
    let b = t.connector_all_scopes().await;
    t.fetch(&b, &one).await.error(404, "NOT_FOUND");
    t.delete(&b, &one).await.error(404, "NOT_FOUND");
    assert_eq!(t.fetch(&b, SUBSCRIPTIONS).await.ok()["items"], json!([]));
    // A client without the scope is refused before anything is read.
    let reader = t
        .connector(&[Scope::InvoicesRead, Scope::InvoicesWrite])
        .await;
    t.fetch(&reader, SUBSCRIPTIONS)
        .await
        .error(403, "FORBIDDEN");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_subscription_hears_nothing_and_a_deleted_one_is_gone() {
    let receiver = Receiver::start().await;
    let (t, a, one) = subscribed(&receiver, &["invoice.exported", "invoice.rejected"]).await;
    let patch = json!({"enabled": false, "description": null});
    let patched = t.patch(&a, &one, &patch).await.ok();
    assert_eq!(patched["enabled"], false);
    assert!(patched.get("description").is_none());
    let events = json!(["invoice.exported", "invoice.rejected"]);
    assert_eq!(patched["events"], events, "what was not sent is kept");
    let invoice = t.publish_many(a.company, 1).await[0];
    t.reject(&a, invoice, &json!({"reason": "No purchase order"}))
        .await
        .ok();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(receiver.received().is_empty());
    assert_eq!(
        t.fetch(&a, &format!("{one}/deliveries")).await.ok()["items"],
        json!([])
    );
    // Deleted: gone for good, and so is its log.
    assert_eq!(t.delete(&a, &one).await.status, 204);
    t.fetch(&a, &one).await.error(404, "NOT_FOUND");
    t.fetch(&a, &format!("{one}/deliveries"))
        .await
        .error(404, "NOT_FOUND");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_subscriptions_are_refused_naming_the_field_and_make_nothing() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let url = Receiver::start().await.url;
    let exported = json!(["invoice.exported"]);
    for (body, field) in [
        (
            json!({"url": "http://10.0.0.7/hook", "events": exported}),
            "url",
        ),
        (
            json!({"url": "http://169.254.169.254/latest/meta-data", "events": exported}),
            "url",
        ),
        (
            json!({"url": "ftp://erp.example.com/x", "events": exported}),
            "url",
        ),
        (json!({"events": exported}), "url"),
        (json!({"url": url, "events": []}), "events"),
        (json!({"url": url, "events": ["invoice.paid"]}), "events[0]"),
        (
            json!({"url": url, "events": ["invoice.exported", "invoice.exported"]}),
            "events[1]",
        ),
        (
            json!({"url": url, "events": exported, "description": "x".repeat(501)}),
            "description",
        ),
        (
            json!({"url": url, "events": exported, "secret": "mine"}),
            "secret",
        ),
    ] {
        t.post(&a, SUBSCRIPTIONS, &body).await.invalid(field);
    }
    assert_eq!(t.fetch(&a, SUBSCRIPTIONS).await.ok()["items"], json!([]));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_changes_and_bad_paths_are_refused_naming_the_field_and_change_nothing() {
    let receiver = Receiver::start().await;
    let (t, a, one) = subscribed(&receiver, &["invoice.exported"]).await;
    for (body, field) in [
        (json!({}), "body"),
        (json!({"events": []}), "events"),
        (json!({"url": "https://192.168.1.10/hook"}), "url"),
        (json!({"enabled": "yes"}), "enabled"),
        (json!({"events": null}), "events"),
    ] {
        t.patch(&a, &one, &body).await.invalid(field);
    }
    assert_eq!(t.fetch(&a, &one).await.ok()["url"], receiver.url);
    let bad_id = format!("{SUBSCRIPTIONS}/not-a-uuid");
    t.fetch(&a, &bad_id).await.invalid("subscriptionId");
    t.fetch(&a, &format!("{one}/deliveries?limit=0"))
        .await
        .invalid("limit");
    let forged = format!("{one}/deliveries?continuationKey=forged");
    t.fetch(&a, &forged)
        .await
        .error(400, "INVALID_CONTINUATION_KEY");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_holds_at_most_ten_subscriptions_per_company() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let receiver = Receiver::start().await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(t.subscribe(&a, &receiver, &["invoice.exported"]).await["id"].clone());
    }
    let body = json!({"url": receiver.url, "events": ["invoice.exported"]});
    t.post(&a, SUBSCRIPTIONS, &body)
        .await
        .error(409, "LIMIT_REACHED");
    assert_eq!(
        t.fetch(&a, SUBSCRIPTIONS).await.ok()["items"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    let first = format!("{SUBSCRIPTIONS}/{}", ids[0].as_str().unwrap());
    assert_eq!(t.delete(&a, &first).await.status, 204);
    let again = t.post(&a, SUBSCRIPTIONS, &body).await;
    assert_eq!(again.status, 201, "{}", again.text);
    t.stop().await;
}

/// Points the subscription at a fresh receiver trusting `secrets` and pings it: the one
/// delivery it heard.
async fn ping_trusting(t: &TestStack, a: &Connector, one: &str, secrets: &[String]) -> Received {
    let receiver = Receiver::start().await;
    for secret in secrets {
        receiver.trust(SigningSecret::parse(secret).unwrap());
    }
    t.patch(a, one, &json!({ "url": receiver.url })).await.ok();
    t.post(a, &format!("{one}/test"), &json!({})).await.ok();
    let heard = receiver.received();
    assert_eq!(heard.len(), 1);
    heard.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn rotations_sent_at_once_two_land_the_rest_name_the_way_out_and_a_patch_survives() {
    let receiver = Receiver::start().await;
    let (t, a, one) = subscribed(&receiver, &["import_job.finished"]).await;
    let (path, empty) = (format!("{one}/rotate-secret"), json!({}));
    let rotate = || t.post(&a, &path, &empty);
    let both = json!({"events": ["import_job.finished", "import_job.failed"]});
    let (r1, r2, r3, r4, _) = tokio::join!(
        rotate(),
        rotate(),
        rotate(),
        rotate(),
        t.patch(&a, &one, &both)
    );
    let now = t.fetch(&a, &one).await.ok();
    assert_eq!(
        now["events"], both["events"],
        "the PATCH was not undone by a rotation that read before it"
    );
    // Two land; the others are refused (two old secrets already sign), and name the way out.
    let mut landed = 0;
    for reply in [r1, r2, r3, r4] {
        if reply.status == 200 {
            landed += 1;
        } else {
            let body = reply.error(409, "CONFLICT");
            assert!(body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("/secrets/previous"));
        }
    }
    assert_eq!(landed, 2);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_secret_a_rotation_shows_signs_until_the_old_ones_are_retired_on_demand() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let made = t
        .subscribe(&a, &Receiver::start().await, &["import_job.finished"])
        .await;
    let one = format!("{SUBSCRIPTIONS}/{}", made["id"].as_str().unwrap());
    let rotate = format!("{one}/rotate-secret");
    let mut secrets = vec![made["secret"].as_str().unwrap().to_string()];
    for _ in 0..2 {
        let rotated = t.post(&a, &rotate, &json!({})).await.ok();
        secrets.push(rotated["secret"].as_str().unwrap().to_string());
    }
    let heard = ping_trusting(&t, &a, &one, &secrets).await;
    assert_eq!(heard.verified_by, [0, 1, 2], "{}", heard.signature);
    // Retired on demand: only the current secret signs from now on.
    let previous = format!("{one}/secrets/previous");
    assert_eq!(t.delete(&a, &previous).await.ok()["retiredSecrets"], 2);
    let heard = ping_trusting(&t, &a, &one, &secrets).await;
    assert_eq!(
        heard.verified_by,
        [2],
        "the current secret's alone: {}",
        heard.signature
    );
    assert_eq!(heard.signature.split(' ').count(), 1, "{}", heard.signature);
    // Again: nothing left to retire; and a rotation is taken again.
    assert_eq!(t.delete(&a, &previous).await.ok()["retiredSecrets"], 0);
    assert_eq!(t.post(&a, &rotate, &json!({})).await.status, 200);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_test_ping_is_signed_answered_and_logged() {
    let receiver = Receiver::start().await;
    let (t, a, one) = subscribed(&receiver, &["import_job.finished"]).await;
    let ping = t.post(&a, &format!("{one}/test"), &json!({})).await.ok();
    assert_eq!(
        (&ping["delivered"], &ping["statusCode"]),
        (&json!(true), &json!(200))
    );
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body["type"], "ping");
    assert_eq!(received[0].webhook_id, ping["eventId"].as_str().unwrap());
    assert_eq!(received[0].verified_by, [0]);
    // A receiver that answers 500 is not delivered to; the answer says so.
    receiver.answer(500);
    let failed = t.post(&a, &format!("{one}/test"), &json!({})).await.ok();
    assert_eq!(
        (&failed["delivered"], &failed["statusCode"]),
        (&json!(false), &json!(500))
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_rotation_the_old_and_new_secret_both_sign_for_a_day() {
    let receiver = Receiver::start().await;
    let (t, a, one) = subscribed(&receiver, &["import_job.finished"]).await;
    let rotated = t
        .post(&a, &format!("{one}/rotate-secret"), &json!({}))
        .await
        .ok();
    assert!(rotated["previousSecretsRetireAt"].is_string(), "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap();
    receiver.trust(SigningSecret::parse(new_secret).unwrap());
    t.post(&a, &format!("{one}/test"), &json!({})).await.ok();
    let heard = receiver.received();
    assert_eq!(
        heard[0].verified_by,
        [0, 1],
        "old and new secret both verify"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_delivery_log_pages_newest_first_with_each_attempts_status() {
    let receiver = Receiver::start().await;
    let (t, a, one) = subscribed(&receiver, &["import_job.finished"]).await;
    let first = t.post(&a, &format!("{one}/test"), &json!({})).await.ok();
    t.post(&a, &format!("{one}/test"), &json!({})).await.ok();
    receiver.answer(500);
    t.post(&a, &format!("{one}/test"), &json!({})).await.ok();
    let page = t.fetch(&a, &format!("{one}/deliveries?limit=2")).await.ok();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["status"], "FAILED");
    assert_eq!(items[0]["attempts"][0]["statusCode"], 500);
    assert_eq!(items[1]["status"], "DELIVERED");
    let key = page["continuationKey"].as_str().unwrap();
    let rest = t
        .fetch(
            &a,
            &format!("{one}/deliveries?limit=2&continuationKey={key}"),
        )
        .await
        .ok();
    let rest = rest["items"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["eventId"], first["eventId"]);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_published_invoice_and_a_finished_import_job_are_told_to_their_subscribers() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let receiver = Receiver::start().await;
    t.subscribe(
        &a,
        &receiver,
        &[
            "invoice.ready_for_export",
            "import_job.finished",
            "import_job.failed",
        ],
    )
    .await;

    let invoice = t.publish_many(a.company, 1).await[0];
    let job = t.import_json(&a, &supplier_records("HOOK-", 3)).await;
    let job_id = job["jobId"].as_str().unwrap().to_string();
    assert_eq!(t.wait_for_job(&a, &job_id).await["status"], "FINISHED");

    let received = receiver.wait_for(2, DELIVERED_WITHIN).await;
    let mut told: Vec<(String, Value)> = received
        .iter()
        .map(|r| {
            assert_eq!(r.verified_by, [0]);
            (
                r.body["type"].as_str().unwrap().to_string(),
                r.body["data"].clone(),
            )
        })
        .collect();
    told.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        told,
        [
            (
                "import_job.finished".to_string(),
                json!({"jobId": job_id, "status": "FINISHED"})
            ),
            (
                "invoice.ready_for_export".to_string(),
                json!({"invoiceId": invoice, "status": "READY_FOR_EXPORT"})
            ),
        ]
    );
    // The job's progress writes along the way told nothing more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 2);
    t.stop().await;
}

/// A company with a connector subscribed to its new invoices, and a second client of the same
/// company subscribed too, whose grant nobody touches: once the second has heard of an event,
/// the first would have as well (one fan-out run writes and sends both).
struct Watched {
    connector: Connector,
    connector_hears: Receiver,
    subscription_id: String,
    witness_hears: Receiver,
}

async fn watched_company(t: &TestStack) -> Watched {
    let company = CompanyId::new_random();
    let connector = t
        .client_of(company, &[Scope::InvoicesRead, Scope::WebhooksManage])
        .await;
    let witness = t
        .client_of(company, &[Scope::InvoicesRead, Scope::WebhooksManage])
        .await;
    let (connector_hears, witness_hears) = (Receiver::start().await, Receiver::start().await);
    let made = t
        .subscribe(&connector, &connector_hears, &["invoice.ready_for_export"])
        .await;
    t.subscribe(&witness, &witness_hears, &["invoice.ready_for_export"])
        .await;
    // Both hear the first invoice.
    t.publish_many(company, 1).await;
    assert_eq!(connector_hears.wait_for(1, DELIVERED_WITHIN).await.len(), 1);
    assert_eq!(witness_hears.wait_for(1, DELIVERED_WITHIN).await.len(), 1);
    Watched {
        connector,
        connector_hears,
        subscription_id: made["id"].as_str().unwrap().to_string(),
        witness_hears,
    }
}

impl Watched {
    /// Publishes one more invoice and answers how many deliveries the connector got of it,
    /// once the witness has heard of it.
    async fn next_event_heard_by_connector(&self, t: &TestStack) -> usize {
        t.publish_many(self.connector.company, 1).await;
        assert_eq!(
            self.witness_hears.wait_for(2, DELIVERED_WITHIN).await.len(),
            2
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.connector_hears.received().len() - 1
    }

    /// The connector's subscription as stored, with its delivery log, newest first.
    async fn stored(&self, t: &TestStack) -> (Value, Vec<String>) {
        let (company, client) = (self.connector.company, &self.connector.client_id);
        let held = t
            .stored_subscription(company, client, &self.subscription_id)
            .await;
        (held, t.stored_log(company, &self.subscription_id).await)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_clients_revoke_a_subscription_hears_nothing_more_and_says_why() {
    let t = TestStack::start().await;
    let w = watched_company(&t).await;

    let (_, disabled) = t
        .admin()
        .revoke(&w.connector.client_id, w.connector.company)
        .await
        .unwrap();
    assert_eq!(
        disabled, 1,
        "revoke says how many subscriptions it disabled"
    );
    assert_eq!(w.next_event_heard_by_connector(&t).await, 0);

    let (subscription, log) = w.stored(&t).await;
    assert_eq!(subscription["enabled"], false);
    let reason = subscription["disabledReason"].as_str().unwrap();
    assert!(reason.contains("no longer holds a grant"), "{reason}");
    assert_eq!(
        log[0], "webhook.disabled",
        "the log ends saying why: {log:?}"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn after_clients_delete_its_subscriptions_are_gone_and_hear_nothing() {
    let t = TestStack::start().await;
    let w = watched_company(&t).await;
    // A second company, where the same client also subscribed and then lost its grant: the
    // disabled subscription there is deleted too.
    let other = CompanyId::new_random();
    let admin = t.admin();
    admin
        .grant(
            &w.connector.client_id,
            other,
            Some(&[Scope::InvoicesRead, Scope::WebhooksManage]),
        )
        .await
        .unwrap();
    let elsewhere = Connector {
        company: other,
        ..w.connector.clone()
    };
    t.subscribe(&elsewhere, &w.connector_hears, &["invoice.exported"])
        .await;
    assert_eq!(
        admin.revoke(&w.connector.client_id, other).await.unwrap().1,
        1
    );

    let deleted = admin.delete(&w.connector.client_id).await.unwrap();
    assert_eq!(deleted, 2, "delete says how many, in every company");
    assert_eq!(w.next_event_heard_by_connector(&t).await, 0);
    assert_eq!(w.stored(&t).await.0, Value::Null, "gone");
    assert_eq!(t.subscriptions_held(other, &w.connector.client_id).await, 0);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_narrowed_by_any_means_stops_deliveries_at_the_next_event() {
    let t = TestStack::start().await;
    let w = watched_company(&t).await;
    // The grant is rewritten without invoices.read, not through `clients`: the fan-out's own
    // check before writing deliveries is what stops it.
    t.put_grant(
        &w.connector.client_id,
        w.connector.company,
        &[Scope::WebhooksManage],
    )
    .await;
    assert_eq!(w.next_event_heard_by_connector(&t).await, 0);

    // The client still manages webhooks: it sees why, and may not enable it again without
    // the scope.
    let one = format!("{SUBSCRIPTIONS}/{}", w.subscription_id);
    let shown = t.fetch(&w.connector, &one).await.ok();
    assert_eq!(shown["enabled"], false);
    let reason = shown["disabledReason"].as_str().unwrap();
    assert!(reason.contains("invoices.read"), "{reason}");
    let log = t.deliveries(&w.connector, &w.subscription_id).await;
    assert_eq!(log[0]["eventType"], "webhook.disabled");
    assert_eq!(
        log.len(),
        2,
        "the first invoice's delivery, then the notice"
    );
    let enable = t.patch(&w.connector, &one, &json!({"enabled": true})).await;
    let refused = enable.error(403, "FORBIDDEN");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("ledgerdock/invoices.read"));
    assert_eq!(t.fetch(&w.connector, &one).await.ok()["enabled"], false);

    // Granted again, it is enabled again by the client, and hears the next one.
    t.put_grant(
        &w.connector.client_id,
        w.connector.company,
        &[Scope::InvoicesRead, Scope::WebhooksManage],
    )
    .await;
    let enabled = t
        .patch(&w.connector, &one, &json!({"enabled": true}))
        .await
        .ok();
    assert_eq!(enabled["enabled"], true);
    t.publish_many(w.connector.company, 1).await;
    assert_eq!(
        w.connector_hears.wait_for(2, DELIVERED_WITHIN).await.len(),
        2
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_manage_alone_cannot_subscribe_to_what_it_may_not_read() {
    let t = TestStack::start().await;
    let manager = t
        .connector(&[Scope::WebhooksManage, Scope::InvoicesRead])
        .await;
    let receiver = Receiver::start().await;
    for (events, scope) in [
        (json!(["invoice.exported"]), "ledgerdock/invoices.read"),
        (
            json!(["invoice.exported", "import_job.finished"]),
            "ledgerdock/imports.read",
        ),
    ] {
        let only_manage = t.client_of(manager.company, &[Scope::WebhooksManage]).await;
        let caller = if scope.ends_with("invoices.read") {
            &only_manage
        } else {
            &manager
        };
        let refused = t
            .post(
                caller,
                SUBSCRIPTIONS,
                &json!({"url": receiver.url, "events": events}),
            )
            .await;
        let body = refused.error(403, "FORBIDDEN");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(scope),
            "{body}"
        );
        let listed = t.fetch(caller, SUBSCRIPTIONS).await.ok();
        assert_eq!(listed["items"], json!([]), "nothing was made");
    }
    // Choosing events it may not read later is refused the same way, and changes nothing.
    let made = t
        .subscribe(&manager, &receiver, &["invoice.exported"])
        .await;
    let one = format!("{SUBSCRIPTIONS}/{}", made["id"].as_str().unwrap());
    let widened = t
        .patch(&manager, &one, &json!({"events": ["import_job.failed"]}))
        .await;
    widened.error(403, "FORBIDDEN");
    assert_eq!(
        t.fetch(&manager, &one).await.ok()["events"],
        json!(["invoice.exported"])
    );
    t.stop().await;
}

/// `POST /v1/webhook-subscriptions` as `tenant` with `key` as its Idempotency-Key.
async fn create_keyed(t: &TestStack, tenant: &Connector, key: &str, body: &Value) -> Reply {
    let request = t.post_json(tenant, SUBSCRIPTIONS, body);
    request.header("Idempotency-Key", key).call().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_sent_four_times_at_once_with_one_key_makes_one_subscription_and_shows_its_secret()
{
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let receiver = Receiver::start().await;
    let body = json!({"url": receiver.url, "events": ["invoice.exported"], "description": "ERP"});
    let create = || create_keyed(&t, &a, "sub-7f3a", &body);
    let (r1, r2, r3, r4) = tokio::join!(create(), create(), create(), create());
    let (mut ids, mut secrets, mut replayed) = (Vec::new(), Vec::new(), 0);
    for reply in [r1, r2, r3, r4] {
        assert_eq!(reply.status, 201, "{}", reply.text);
        replayed += usize::from(reply.headers.contains_key("idempotent-replayed"));
        let shown = reply.json();
        ids.push(shown["id"].as_str().unwrap().to_string());
        secrets.push(shown["secret"].as_str().unwrap().to_string());
    }
    ids.dedup();
    secrets.dedup();
    assert_eq!((ids.len(), secrets.len(), replayed), (1, 1, 3), "{ids:?}");
    assert_eq!(
        t.fetch(&a, SUBSCRIPTIONS).await.ok()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The secret shown again is the one that signs.
    receiver.trust(SigningSecret::parse(&secrets[0]).unwrap());
    t.post(&a, &format!("{SUBSCRIPTIONS}/{}/test", ids[0]), &json!({}))
        .await
        .ok();
    assert_eq!(receiver.received()[0].verified_by, [0]);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_key_is_its_clients_own_and_another_request_may_not_reuse_it() {
    let t = TestStack::start().await;
    let (a, b) = (
        t.connector_all_scopes().await,
        t.connector_all_scopes().await,
    );
    let url = Receiver::start().await.url;
    let body = json!({"url": url, "events": ["invoice.exported"]});
    let first = create_keyed(&t, &a, "sub-7f3a", &body).await.json();
    let other = json!({"url": url, "events": ["invoice.rejected"]});
    create_keyed(&t, &a, "sub-7f3a", &other)
        .await
        .error(422, "IDEMPOTENCY_KEY_REUSED");
    create_keyed(&t, &a, "a key with spaces", &body)
        .await
        .invalid("Idempotency-Key");
    let theirs = create_keyed(&t, &b, "sub-7f3a", &body).await;
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.json()["id"], first["id"]);
    assert_eq!(
        t.fetch(&a, SUBSCRIPTIONS).await.ok()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn once_deleted_a_subscription_is_not_brought_back_by_its_key_and_the_answer_says_so() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let body = json!({"url": Receiver::start().await.url, "events": ["invoice.exported"]});
    let first = create_keyed(&t, &a, "sub-7f3a", &body).await.json();
    t.delete(
        &a,
        &format!("{SUBSCRIPTIONS}/{}", first["id"].as_str().unwrap()),
    )
    .await;
    let gone = create_keyed(&t, &a, "sub-7f3a", &body)
        .await
        .error(404, "NOT_FOUND");
    assert!(gone["error"]["message"]
        .as_str()
        .unwrap()
        .contains("send a new key"));
    assert_eq!(create_keyed(&t, &a, "sub-8b1c", &body).await.status, 201);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_aws_webhook_urls_the_dev_stack_refuses_what_aws_would_refuse() {
    let t = TestStack::start_with(ledgerdock_infra::dev::DevOptions {
        webhook_urls: ledgerdock_shared::domain::webhook::UrlPolicy::Public,
        ..options()
    })
    .await;
    let a = t.connector_all_scopes().await;
    let receiver = Receiver::start().await;
    for url in [
        receiver.url.clone(),
        "https://127.0.0.1/h".into(),
        "https://[::127.0.0.1]/h".into(),
        "https://[::ffff:0:a9fe:a9fe]/latest/meta-data".into(),
        "https://[2002:a9fe:a9fe::1]/h".into(),
        "https://[64:ff9b:1::a00:1]/h".into(),
        "https://[fec0::1]/h".into(),
        "https://192.88.99.1/h".into(),
        format!("https://erp.example.com/{}", "é".repeat(2026)),
    ] {
        let refused = t
            .post(
                &a,
                SUBSCRIPTIONS,
                &json!({"url": url, "events": ["invoice.exported"]}),
            )
            .await;
        let body = refused.error(400, "VALIDATION_ERROR");
        assert_eq!(error_field(&body), "url", "{url}: {body}");
    }
    assert_eq!(
        t.fetch(&a, SUBSCRIPTIONS).await.ok()["items"],
        json!([]),
        "nothing was made"
    );
    let public = t
        .post(
            &a,
            SUBSCRIPTIONS,
            &json!({"url": "https://erp.example.com/hooks", "events": ["invoice.exported"]}),
        )
        .await;
    assert_eq!(public.status, 201, "{}", public.text);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_5000_line_publish_and_a_100000_row_import_each_start_one_fan_out_invocation() {
    let _turn = heavy_test().await;
    use std::sync::atomic::Ordering;
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let counts = || {
        (
            t.stack.stream_records.load(Ordering::SeqCst),
            t.stack.fan_out_invocations.load(Ordering::SeqCst),
        )
    };
    // Settle what creating the tenant wrote (nothing of it is news).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = counts();
    // An invoice at the line limit: 5,001 items written, one record (its header), one
    // invocation. The template's old prefix filter let every line through: ~200 invocations.
    t.publish(
        a.company,
        ledgerdock_shared::domain::MAX_LINE_ITEMS,
        "2026-11-01T08:00:00Z",
        &[ledgerdock_shared::domain::DocumentFormat::Pdf],
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let published = counts();
    assert_eq!(
        (published.0 - before.0, published.1 - before.1),
        (1, 1),
        "the header alone"
    );
    // An import of 100,000 rows: created IN_PROGRESS, progress written as it goes, then
    // FINISHED: one record, one invocation.
    let csv = supplier_csv("F", 100_000);
    let request = t.import_request().json(
        &json!({"type": "SUPPLIER_CARDS", "contentType": "text/csv", "contentLength": csv.len()}),
    );
    let job = t.start_import(&a, request).await;
    assert_eq!(
        t.put_file(
            job["upload"]["url"].as_str().unwrap(),
            "text/csv",
            csv.into_bytes()
        )
        .await,
        200
    );
    let job_id = job["jobId"].as_str().unwrap().to_string();
    let done = t
        .wait_for_job_within(&a, &job_id, Duration::from_secs(300))
        .await;
    assert_eq!(done["status"], "FINISHED", "{done}");
    assert_eq!(done["counts"]["created"], 100_000, "{done}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let imported = counts();
    assert_eq!(
        (imported.0 - published.0, imported.1 - published.1),
        (1, 1),
        "the job's end alone"
    );
    t.stop().await;
}
