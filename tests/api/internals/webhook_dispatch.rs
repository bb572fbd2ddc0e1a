//! Webhook fan-out and dispatch against the stack's DynamoDB and a real receiver over HTTP
//! that verifies every signature. Each change is the pair of item images a stream record
//! carries (NEW_AND_OLD_IMAGES), read from the table around a real call of the API.

use std::time::Duration;

use ledgerdock_shared::domain::webhook::{Delivery, DeliveryStatus, EventType, Subscription};
use ledgerdock_shared::domain::webhook_signing::SigningSecret;
use ledgerdock_shared::domain::{InvoiceId, Timestamp};
use ledgerdock_shared::features::webhooks::dispatch::{Dispatched, Dispatcher, DISABLED_EVENT};
use ledgerdock_shared::features::webhooks::events::{Change, Image};
use ledgerdock_shared::store::attempt_queue::QueuedAttempt;
use ledgerdock_shared::store::events::EventFeed;
use ledgerdock_shared::store::webhooks::WebhookStore;
use ledgerdock_shared::ApiError;
use ledgerdock_tests::receiver::Receiver;
use ledgerdock_tests::*;
use serde_json::json;

/// The three webhook functions as deployed, each with its own state and so its own policy:
/// the fan-out, the sweep (`dispatch-webhooks`) and the queue's consumer (`deliver-webhooks`).
struct Webhooks {
    /// The operator's store: the tests' own subscribing and reading of logs.
    store: WebhookStore,
    fanout: Dispatcher,
    sweeper: Dispatcher,
    consumer: Dispatcher,
}

impl Webhooks {
    async fn fan_out(&self, changes: &[Change], now: Timestamp) -> Result<Dispatched, ApiError> {
        self.fanout.fan_out(changes, now).await
    }

    async fn sweep(&self, now: Timestamp) -> Result<Dispatched, ApiError> {
        self.sweeper.sweep(now).await
    }

    async fn deliver(
        &self,
        attempts: Vec<(String, QueuedAttempt)>,
        now: Timestamp,
    ) -> Result<(Dispatched, Vec<String>), ApiError> {
        self.consumer.deliver(attempts, now).await
    }
}

fn dispatcher(t: &TestStack) -> Webhooks {
    let of = |function: &str| Dispatcher::of(&t.stack.functions.of(function)).unwrap();
    Webhooks {
        store: t.stack.app.webhooks.clone(),
        fanout: of("webhook-fanout"),
        sweeper: of("dispatch-webhooks"),
        consumer: of("deliver-webhooks"),
    }
}

/// Hands every visible message of the stack's queue to the consumer, a batch at a time as the
/// event-source mapping does, until none is left: what the consumer's runs did.
async fn drain(t: &TestStack, d: &Webhooks, now: Timestamp) -> Dispatched {
    let mut total = Dispatched::default();
    loop {
        let (ids, event) = t.stack.queue.receive_batch(10);
        if ids.is_empty() {
            return total;
        }
        let (attempts, mut again) = event.attempts();
        let (run, failed) = d.deliver(attempts, now).await.unwrap();
        again.extend(failed);
        t.stack.queue.settle_batch(&ids, &again);
        total.queued += run.queued;
        total.attempted += run.attempted;
        total.delivered += run.delivered;
        total.held += run.held;
        total.cut_off += run.cut_off;
    }
}

/// The scheduled sweep at `now`, then the consumer on what it queued.
async fn sweep_and_drain(t: &TestStack, d: &Webhooks, now: Timestamp) -> Dispatched {
    let swept = d.sweep(now).await.unwrap();
    let delivered = drain(t, d, now).await;
    Dispatched {
        queued: swept.queued,
        cut_off: swept.cut_off + delivered.cut_off,
        held: swept.held + delivered.held,
        ..delivered
    }
}

/// What most dispatcher tests start from: a stack whose dispatcher the test runs, a
/// connector, and its client's subscription to `invoice.exported` at a receiver of its own.
struct OneSubscriber {
    t: TestStack,
    d: Webhooks,
    a: Connector,
    receiver: Receiver,
    subscription: Subscription,
}

async fn one_subscriber() -> OneSubscriber {
    let t = TestStack::start_with(engine_only()).await;
    let d = dispatcher(&t);
    let a = t.connector_all_scopes().await;
    let receiver = Receiver::start().await;
    let subscription = subscribe(&t, &a, &receiver, &[EventType::InvoiceExported]).await;
    OneSubscriber {
        t,
        d,
        a,
        receiver,
        subscription,
    }
}

/// Subscribes `tenant`'s client to `events` at `receiver`, which trusts the new secret.
async fn subscribe(
    t: &TestStack,
    tenant: &Connector,
    receiver: &Receiver,
    events: &[EventType],
) -> Subscription {
    let (company, client) = (tenant.company, &tenant.client_id);
    let (subscription, secret) = t
        .put_subscription(company, client, &receiver.url, events)
        .await;
    receiver.trust(secret);
    subscription
}

/// The subscription's delivery log, newest first (up to 100 entries: a page holds them all).
async fn log(d: &Webhooks, subscription: &Subscription) -> Vec<Delivery> {
    d.store
        .deliveries(subscription.company_id, subscription.id, 100, None)
        .await
        .unwrap()
        .deliveries
}

fn change(old: Option<Image>, new: Option<Image>) -> Change {
    Change {
        record_id: uuid::Uuid::new_v4().to_string(),
        approximate_at: Timestamp::now(),
        old,
        new,
    }
}

/// Completes `invoice` through the API and returns the stream's view of that write.
async fn complete(t: &TestStack, tenant: &Connector, invoice: InvoiceId) -> Change {
    let before = t.header_item(tenant.company, invoice).await;
    t.complete(tenant, invoice, &json!({"externalId": "ERP-1"}))
        .await
        .ok();
    change(before, t.header_item(tenant.company, invoice).await)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_reaches_the_companys_subscribed_receiver_signed_and_no_other_company_hears_of_it(
) {
    let t = TestStack::start_with(engine_only()).await;
    let d = dispatcher(&t);
    let (a, b) = (
        t.connector_all_scopes().await,
        t.connector_all_scopes().await,
    );
    let (ours, theirs, uninterested) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    let mine = subscribe(&t, &a, &ours, &[EventType::InvoiceExported]).await;
    subscribe(&t, &a, &uninterested, &[EventType::InvoiceRejected]).await;
    subscribe(&t, &b, &theirs, &EventType::ALL).await;
    let invoice = t.publish_many(a.company, 1).await[0];

    let exported = complete(&t, &a, invoice).await;
    let run = d
        .fan_out(std::slice::from_ref(&exported), Timestamp::now())
        .await
        .unwrap();
    assert_eq!((run.events, run.written, run.queued), (1, 1, 1));
    assert!(
        ours.received().is_empty(),
        "the fan-out itself sends nothing"
    );
    assert_eq!(drain(&t, &d, Timestamp::now()).await.delivered, 1);

    let received = ours.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].verified_by,
        [0],
        "signed with the subscription's secret"
    );
    let body = &received[0].body;
    assert_eq!(body["type"], "invoice.exported");
    assert_eq!(body["companyId"], a.company.to_string());
    assert_eq!(
        body["data"],
        json!({"invoiceId": invoice, "status": "EXPORTED"})
    );
    assert_eq!(received[0].webhook_id, body["id"].as_str().unwrap());
    assert!(theirs.received().is_empty() && uninterested.received().is_empty());

    // The same stream record read again (a retried batch) delivers nothing twice.
    let again = d.fan_out(&[exported], Timestamp::now()).await.unwrap();
    assert_eq!((again.events, again.written), (1, 0));
    assert_eq!(drain(&t, &d, Timestamp::now()).await.attempted, 0);
    assert_eq!(ours.received().len(), 1);

    let entries = log(&d, &mine).await;
    assert_eq!(entries.len(), 1);
    let delivery = &entries[0];
    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    assert_eq!(delivery.attempts.len(), 1);
    assert_eq!(delivery.attempts[0].status_code, Some(200));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_answered_500_or_not_in_time_is_retried_when_due_until_it_lands() {
    let OneSubscriber {
        t,
        d,
        a,
        receiver,
        subscription,
    } = one_subscriber().await;
    let invoice = t.publish_many(a.company, 1).await[0];
    receiver.answer(500);

    let started = Timestamp::now();
    d.fan_out(&[complete(&t, &a, invoice).await], started)
        .await
        .unwrap();
    let run = drain(&t, &d, started).await;
    assert_eq!((run.attempted, run.delivered), (1, 0));
    let pending = &log(&d, &subscription).await[0];
    assert_eq!(pending.status, DeliveryStatus::Pending);
    assert_eq!(pending.attempts[0].status_code, Some(500));
    let next = pending.next_attempt_at.unwrap();
    assert!(next > started && next <= started.plus(Duration::from_secs(10)));

    // Not due yet: nothing is sent.
    let early = sweep_and_drain(&t, &d, started).await;
    assert_eq!(early.attempted, 0);
    assert_eq!(receiver.received().len(), 1);

    // Due, and the receiver now hangs past the sender's 5 s.
    receiver.answer(200);
    receiver.stall(Duration::from_secs(7));
    let timed_out = sweep_and_drain(&t, &d, Timestamp::now().max(next)).await;
    assert_eq!((timed_out.attempted, timed_out.delivered), (1, 0));
    let after_timeout = &log(&d, &subscription).await[0];
    assert_eq!(after_timeout.attempts.len(), 2);
    assert_eq!(after_timeout.attempts[1].status_code, None);
    assert_eq!(
        after_timeout.attempts[1].error.as_deref(),
        Some("no answer within 5 s")
    );

    receiver.stall(Duration::ZERO);
    let next = after_timeout.next_attempt_at.unwrap();
    let landed = sweep_and_drain(&t, &d, Timestamp::now().max(next)).await;
    assert_eq!((landed.attempted, landed.delivered), (1, 1));
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    let ids: std::collections::HashSet<&str> =
        received.iter().map(|r| r.webhook_id.as_str()).collect();
    assert_eq!(ids.len(), 1, "every attempt carries the same webhook-id");
    let done = &log(&d, &subscription).await[0];
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert_eq!(done.next_attempt_at, None);
    assert_eq!(
        sweep_and_drain(&t, &d, next.plus(Duration::from_secs(86_400)))
            .await
            .attempted,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_event_is_lost_and_none_sent_twice_when_the_consumer_is_killed_mid_batch_and_sweeps_overlap(
) {
    let OneSubscriber {
        t,
        d,
        a,
        receiver,
        subscription,
    } = one_subscriber().await;
    let invoices = t.publish_many(a.company, 20).await;
    let mut changes = Vec::new();
    for invoice in &invoices {
        changes.push(complete(&t, &a, *invoice).await);
    }
    let run = d.fan_out(&changes, Timestamp::now()).await.unwrap();
    assert_eq!((run.written, run.queued), (20, 20));
    // The receiver stalls, so the consumer is still sending when it is killed.
    receiver.stall(Duration::from_secs(3));
    let consumer = {
        let (t_queue, consumer) = (t.stack.queue.clone(), d.consumer.clone());
        tokio::spawn(async move {
            let (_, event) = t_queue.receive_batch(10);
            consumer.deliver(event.attempts().0, Timestamp::now()).await
        })
    };
    while receiver.received().is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    consumer.abort();
    assert!(consumer.await.unwrap_err().is_cancelled());
    receiver.stall(Duration::ZERO);

    // Later, two sweeps run at once (a slow one overlapping the next): every delivery not
    // yet recorded is queued once between them, and the claims of the killed consumer have
    // lapsed.
    let later = Timestamp::now().plus(Duration::from_secs(3600));
    let (one, two) = tokio::join!(d.sweep(later), d.sweep(later));
    let swept = one.unwrap().queued + two.unwrap().queued;
    assert!(swept <= 20, "no delivery queued twice: {swept}");
    let heard_before = receiver.received().len();
    drain(&t, &d, later).await;
    // Messages left over from before (the ten the killed consumer never settled come back after
    // the visibility timeout; the ten it never took are still queued) find nothing to send.
    let leftover = drain(&t, &d, later).await;
    assert_eq!(leftover.attempted, 0);

    let heard: Vec<String> = receiver
        .received()
        .into_iter()
        .map(|r| r.body["data"]["invoiceId"].as_str().unwrap().to_string())
        .collect();
    let distinct: std::collections::HashSet<&String> = heard.iter().collect();
    let expected: std::collections::HashSet<String> =
        invoices.iter().map(|i| i.to_string()).collect();
    assert_eq!(
        distinct
            .into_iter()
            .cloned()
            .collect::<std::collections::HashSet<_>>(),
        expected,
        "every export was delivered"
    );
    assert!(
        heard.len() - heard_before <= 20,
        "after the kill, each delivery was attempted at most once more"
    );
    let entries = log(&d, &subscription).await;
    assert_eq!(entries.len(), 20);
    assert!(entries
        .iter()
        .all(|d| d.status == DeliveryStatus::Delivered));
}

#[tokio::test(flavor = "multi_thread")]
async fn while_a_secret_rotates_each_delivery_verifies_with_the_old_secret_and_the_new() {
    let OneSubscriber {
        t,
        d,
        a,
        receiver,
        subscription,
    } = one_subscriber().await;
    let stored = d
        .store
        .get(a.company, &a.client_id, subscription.id)
        .await
        .unwrap()
        .unwrap();
    let new_secret = SigningSecret::generate().unwrap();
    let rotated = WebhookStore::rotated(stored, new_secret.clone(), Timestamp::now()).unwrap();
    assert!(d.store.replace(&rotated).await.unwrap());
    receiver.trust(new_secret);

    let invoice = t.publish_many(a.company, 1).await[0];
    d.fan_out(&[complete(&t, &a, invoice).await], Timestamp::now())
        .await
        .unwrap();
    drain(&t, &d, Timestamp::now()).await;
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].verified_by,
        [0, 1],
        "old and new secret both verify"
    );
    assert_eq!(received[0].signature.split(' ').count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_failing_for_three_days_is_disabled_with_a_last_entry_saying_why() {
    let t = TestStack::start_with(engine_only()).await;
    let d = dispatcher(&t);
    let a = t.connector_all_scopes().await;
    let receiver = Receiver::start().await;
    receiver.answer(503);
    let subscription = subscribe(&t, &a, &receiver, &[EventType::InvoiceExported]).await;
    let invoice = t.publish_many(a.company, 1).await[0];
    let started = Timestamp::now();
    d.fan_out(&[complete(&t, &a, invoice).await], started)
        .await
        .unwrap();
    drain(&t, &d, started).await;
    let failing = d
        .store
        .get(a.company, &a.client_id, subscription.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failing.subscription.failing_since, Some(started));
    assert!(failing.subscription.enabled);

    let three_days_on = started.plus(Duration::from_secs(3 * 86_400 + 60));
    sweep_and_drain(&t, &d, three_days_on).await;
    let disabled = d
        .store
        .get(a.company, &a.client_id, subscription.id)
        .await
        .unwrap()
        .unwrap()
        .subscription;
    assert!(!disabled.enabled);
    assert_eq!(
        disabled.disabled_reason.as_deref(),
        Some("every delivery failed for 3 days")
    );
    let entries = log(&d, &subscription).await;
    assert_eq!(
        entries[0].event_type, DISABLED_EVENT,
        "newest first: {entries:?}"
    );
    assert_eq!(
        entries[1].status,
        DeliveryStatus::Failed,
        "the export given up on"
    );
    let attempts_before = receiver.received().len();

    // Nothing more is sent to a disabled subscription.
    let another = t.publish_many(a.company, 1).await[0];
    d.fan_out(&[complete(&t, &a, another).await], three_days_on)
        .await
        .unwrap();
    drain(&t, &d, three_days_on).await;
    assert_eq!(receiver.received().len(), attempts_before);
}

/// A stack that leaves webhooks to the test: no stream reader, no scheduled dispatch.
fn engine_only() -> ledgerdock_infra::dev::DevOptions {
    ledgerdock_infra::dev::DevOptions {
        deliver_webhooks: false,
        ..options()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_retry_is_given_up_unsent_once_its_client_loses_the_grant() {
    let OneSubscriber {
        t,
        d,
        a,
        receiver,
        subscription,
    } = one_subscriber().await;
    let invoice = t.publish_many(a.company, 1).await[0];
    receiver.answer(500);
    d.fan_out(&[complete(&t, &a, invoice).await], Timestamp::now())
        .await
        .unwrap();
    let run = drain(&t, &d, Timestamp::now()).await;
    assert_eq!((run.attempted, run.delivered, run.cut_off), (1, 0, 0));
    let next = log(&d, &subscription).await[0].next_attempt_at.unwrap();

    // The grant goes; the retry comes due, and the receiver would now answer 200.
    receiver.answer(200);
    assert!(t
        .stack
        .app
        .grants
        .revoke(&a.client_id, a.company)
        .await
        .unwrap());
    let due = sweep_and_drain(
        &t,
        &d,
        Timestamp::now().max(next).plus(Duration::from_secs(1)),
    )
    .await;
    assert_eq!((due.attempted, due.cut_off), (0, 1), "{due:?}");
    assert_eq!(receiver.received().len(), 1, "the retry was never sent");

    let entries = log(&d, &subscription).await;
    assert_eq!(entries[0].event_type, DISABLED_EVENT, "{entries:?}");
    assert!(entries[0].body.contains("no longer holds a grant"));
    let given_up = entries
        .iter()
        .find(|e| e.event_type == "invoice.exported")
        .unwrap();
    assert_eq!(given_up.status, DeliveryStatus::Failed);
    assert_eq!(given_up.attempts.len(), 1);
    assert_eq!(given_up.next_attempt_at, None);
    // Nothing left due: the next run has nothing to do and cuts off nothing again.
    let after = sweep_and_drain(
        &t,
        &d,
        Timestamp::now().max(next).plus(Duration::from_secs(2)),
    )
    .await;
    assert_eq!((after.attempted, after.queued, after.cut_off), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn under_the_put_item_only_policy_the_template_once_had_the_sweep_is_denied_as_aws_denies_it()
{
    use ledgerdock_infra::dev::iam::policy::with_policies;
    use ledgerdock_infra::dev::stream_filter::TEMPLATE;
    use ledgerdock_shared::handlers::webhooks::dispatch_webhooks;
    // What template.yaml granted the webhook functions before the local stack enforced IAM.
    let put_only = "- Statement:\n    - Effect: Allow\n      Action: [dynamodb:PutItem]\n      Resource: !GetAtt Table.Arn\n";
    let t = TestStack::start_with(ledgerdock_infra::dev::DevOptions {
        template: Some(with_policies(TEMPLATE, "dispatch-webhooks", put_only).unwrap()),
        ..engine_only()
    })
    .await;
    let sweep = t.stack.functions.of("dispatch-webhooks");
    assert!(
        dispatch_webhooks::handle(&sweep).await.is_err(),
        "the sweep cannot read the due index"
    );
    // Its own call fails as DynamoDB answers it in AWS, naming the action it lacks.
    let client = ledgerdock_infra::dev::local_sdk_as(
        &ledgerdock_infra::dev::iam::access_key_of("dispatch-webhooks"),
        &t.stack.dynamodb_url,
        &t.stack.s3_url,
    )
    .0;
    let err = client
        .update_item()
        .table_name(&t.stack.app.config.table_name)
        .key(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S("COMPANY#x".into()),
        )
        .key(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S("WEBHOOK#y".into()),
        )
        .update_expression("SET failingSince = :now")
        .expression_attribute_values(
            ":now",
            aws_sdk_dynamodb::types::AttributeValue::S("now".into()),
        )
        .send()
        .await
        .unwrap_err();
    let service = err
        .as_service_error()
        .expect("a service error, not a transport one");
    assert_eq!(service.meta().code(), Some("AccessDeniedException"));
    assert!(
        service
            .meta()
            .message()
            .is_some_and(|m| m.contains("dynamodb:UpdateItem")),
        "{service:?}"
    );
    t.stop().await;

    // Under template.yaml as it is, the same sweep runs.
    let t = TestStack::start_with(engine_only()).await;
    dispatch_webhooks::handle(&t.stack.functions.of("dispatch-webhooks"))
        .await
        .expect("the template grants the sweep what it does");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_event_joins_its_companys_feed_once_even_when_its_batch_is_read_again() {
    let OneSubscriber { t, d, a, .. } = one_subscriber().await;
    let invoice = t.publish_many(a.company, 1).await[0];
    let exported = complete(&t, &a, invoice).await;
    // Lambda reads a failed batch again: the same record, a second time.
    for _ in 0..2 {
        d.fan_out(std::slice::from_ref(&exported), Timestamp::now())
            .await
            .unwrap();
    }
    // Read as the operator: the fan-out appends to the feed and may not read it.
    let table = t.stack.app.config.table_name.clone();
    let feed = EventFeed::new(t.stack.dynamodb.clone(), table).with_settle(Duration::ZERO);
    let read = feed
        .read(a.company, None, &[], 100, Timestamp::now())
        .await
        .unwrap();
    let told: Vec<&str> = read.entries.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(told, ["invoice.exported"]);
    let body: serde_json::Value = serde_json::from_str(&read.entries[0].body).unwrap();
    assert_eq!(body["data"]["invoiceId"], invoice.to_string());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_down_until_its_subscription_is_disabled_holds_every_event_once_after_a_recovery(
) {
    let t = TestStack::start_with(engine_only()).await;
    let d = dispatcher(&t);
    let a = t.connector_all_scopes().await;
    let receiver = Receiver::start().await;
    receiver.answer(503);
    let subscription = subscribe(&t, &a, &receiver, &[EventType::InvoiceExported]).await;
    let invoices = t.publish_many(a.company, 6).await;
    let started = Timestamp::now();
    // Three exports while the receiver is down: each fails, and three days on the
    // subscription is disabled.
    let mut exports = Vec::new();
    for invoice in &invoices[..3] {
        exports.push(complete(&t, &a, *invoice).await);
    }
    d.fan_out(&exports, started).await.unwrap();
    drain(&t, &d, started).await;
    let three_days_on = started.plus(Duration::from_secs(3 * 86_400 + 60));
    sweep_and_drain(&t, &d, three_days_on).await;
    // Three more while it is disabled: no delivery is even made for them.
    let mut later = Vec::new();
    for invoice in &invoices[3..] {
        later.push(complete(&t, &a, *invoice).await);
    }
    d.fan_out(&later, three_days_on).await.unwrap();
    drain(&t, &d, three_days_on).await;
    assert!(receiver.accepted().is_empty());

    // The receiver is back; its client enables the subscription and recovers.
    receiver.answer(200);
    let path = format!("/v1/webhook-subscriptions/{}", subscription.id);
    let enabled = t.patch(&a, &path, &json!({"enabled": true})).await.ok();
    assert_eq!(enabled["enabled"], true);
    let since = started.minus(Duration::from_secs(60));
    let recovery = t
        .post(&a, &format!("{path}/recover"), &json!({"since": since}))
        .await;
    assert_eq!(recovery.status, 202, "{}", recovery.text);
    let recovered = recovery.json();
    assert_eq!(recovered["queued"], 6, "{recovered}");
    assert_eq!(recovered["continueAfter"], serde_json::Value::Null);
    drain(&t, &d, Timestamp::now()).await;

    // Every export event of the feed reached the receiver, verified, exactly once.
    let feed = EventFeed::new(
        t.stack.dynamodb.clone(),
        t.stack.app.config.table_name.clone(),
    );
    let events = feed
        .read_through(
            a.company,
            None,
            &[EventType::InvoiceExported],
            100,
            Timestamp::now(),
        )
        .await
        .unwrap();
    let mut expected: Vec<String> = events.entries.into_iter().map(|e| e.event_id).collect();
    let mut heard: Vec<String> = receiver
        .accepted()
        .into_iter()
        .map(|r| r.webhook_id)
        .collect();
    expected.sort();
    heard.sort();
    assert_eq!(expected.len(), 6);
    assert_eq!(heard, expected, "each event once, none missing");
    // A second recovery finds nothing left to send.
    let again = t
        .post(&a, &format!("{path}/recover"), &json!({"since": since}))
        .await;
    assert_eq!(again.json()["queued"], 0, "{}", again.text);
    assert_eq!(again.json()["alreadyDelivered"], 6);
    t.stop().await;
}
