//! Webhook subscriptions and deliveries as stored: the limits and the conditions that guard
//! their races, against the stack's DynamoDB through the real SDK client.

use ledgerdock_shared::domain::webhook::{
    AttemptRecord, Delivery, DeliveryStatus, EventType, Subscription, UrlPolicy, WebhookUrl,
    MAX_SUBSCRIPTIONS,
};
use ledgerdock_shared::domain::webhook_signing::SigningSecret;
use ledgerdock_shared::domain::{CompanyId, SubscriptionId, Timestamp};
use ledgerdock_shared::store::webhooks::{CreateRefused, WebhookStore, MAX_RETIRING_SECRETS};
use ledgerdock_tests::*;

fn store(t: &TestStack) -> WebhookStore {
    WebhookStore::new(t.stack.dynamodb.clone(), &t.stack.app.config.table_name)
}

fn subscription(company: CompanyId, client_id: &str, at: &str) -> Subscription {
    let at = Timestamp::parse(at).unwrap();
    Subscription {
        id: SubscriptionId::new_random(),
        company_id: company,
        client_id: client_id.into(),
        url: WebhookUrl::parse("url", "https://erp.example/hooks", UrlPolicy::Public).unwrap(),
        events: vec![EventType::InvoiceExported],
        description: Some("ERP".into()),
        enabled: true,
        created_at: at,
        updated_at: at,
        failing_since: None,
        disabled_reason: None,
    }
}

fn delivery(subscription: &Subscription, event_id: &str, next: &str) -> Delivery {
    Delivery {
        subscription_id: subscription.id,
        company_id: subscription.company_id,
        event_id: event_id.into(),
        event_type: "invoice.exported".into(),
        event_at: Timestamp::parse("2026-11-22T10:00:00Z").unwrap(),
        body: format!(r#"{{"id":"{event_id}"}}"#),
        status: DeliveryStatus::Pending,
        attempts: Vec::new(),
        next_attempt_at: Some(Timestamp::parse(next).unwrap()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_holds_at_most_ten_subscriptions_per_company_and_a_delete_frees_a_place() {
    let t = TestStack::start_with(engine_only()).await;
    let store = store(&t);
    let company = CompanyId::new_random();
    let secret = SigningSecret::generate().unwrap();
    let mut made = Vec::new();
    for n in 0..MAX_SUBSCRIPTIONS {
        let s = subscription(company, "client-a", &format!("2026-11-22T10:00:{n:02}Z"));
        store.create(&s, &secret).await.unwrap().unwrap();
        made.push(s);
    }
    let one_more = subscription(company, "client-a", "2026-11-22T11:00:00Z");
    assert!(matches!(
        store.create(&one_more, &secret).await.unwrap(),
        Err(CreateRefused::TooMany)
    ));
    // Another client of the same company, and the same client elsewhere, count apart.
    let other_client = subscription(company, "client-b", "2026-11-22T11:00:00Z");
    store.create(&other_client, &secret).await.unwrap().unwrap();
    let elsewhere = subscription(CompanyId::new_random(), "client-a", "2026-11-22T11:00:00Z");
    store.create(&elsewhere, &secret).await.unwrap().unwrap();

    let listed = store.list(company, "client-a").await.unwrap();
    assert_eq!(listed, made, "the client's own, oldest first");
    assert_eq!(store.of_company(company).await.unwrap().len(), 11);

    assert!(store.delete(&made[0]).await.unwrap());
    assert!(!store.delete(&made[0]).await.unwrap(), "already gone");
    store.create(&one_more, &secret).await.unwrap().unwrap();
    assert!(store
        .get(company, "client-a", made[0].id)
        .await
        .unwrap()
        .is_none());
    assert!(
        store
            .get(company, "client-b", made[1].id)
            .await
            .unwrap()
            .is_none(),
        "another client cannot reach it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_secret_signs_beside_the_new_one_for_a_day_and_a_change_never_revives_a_deleted_subscription(
) {
    let t = TestStack::start_with(engine_only()).await;
    let store = store(&t);
    let company = CompanyId::new_random();
    let s = subscription(company, "client-a", "2026-11-22T10:00:00Z");
    let first = SigningSecret::generate().unwrap();
    store.create(&s, &first).await.unwrap().unwrap();
    let stored = store.get(company, "client-a", s.id).await.unwrap().unwrap();
    assert_eq!(stored.subscription, s);
    let now = Timestamp::parse("2026-11-23T00:00:00Z").unwrap();
    assert_eq!(stored.signing_secrets(now), vec![&first]);

    let second = SigningSecret::generate().unwrap();
    let rotated = WebhookStore::rotated(stored, second.clone(), now);
    assert!(store.replace(&rotated).await.unwrap());
    let read = store.get(company, "client-a", s.id).await.unwrap().unwrap();
    let in_a_while = now.plus(std::time::Duration::from_secs(23 * 3600));
    assert_eq!(read.signing_secrets(in_a_while), vec![&second, &first]);
    let next_day = now.plus(std::time::Duration::from_secs(24 * 3600));
    assert_eq!(read.signing_secrets(next_day), vec![&second]);

    // Rotated again and again within the hour: only the latest two old secrets still sign.
    let mut latest = read.clone();
    let mut made = vec![second.clone()];
    for _ in 0..5 {
        let secret = SigningSecret::generate().unwrap();
        latest = WebhookStore::rotated(latest, secret.clone(), now);
        made.push(secret);
    }
    assert!(store.replace(&latest).await.unwrap());
    let read_again = store.get(company, "client-a", s.id).await.unwrap().unwrap();
    let newest_first: Vec<&SigningSecret> = made.iter().rev().take(3).collect();
    assert_eq!(read_again.signing_secrets(in_a_while), newest_first);
    assert_eq!(read_again.secrets.len(), 1 + MAX_RETIRING_SECRETS);

    assert!(store.delete(&s).await.unwrap());
    assert!(
        !store.replace(&read).await.unwrap(),
        "a change racing a delete"
    );
    assert!(store
        .get(company, "client-a", s.id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_is_written_once_is_due_in_time_order_and_only_one_dispatcher_records_an_attempt(
) {
    let t = TestStack::start_with(engine_only()).await;
    let store = store(&t);
    let s = subscription(CompanyId::new_random(), "client-a", "2026-11-22T10:00:00Z");
    let later = delivery(&s, "evt_later", "2026-11-22T10:05:00Z");
    let sooner = delivery(&s, "evt_sooner", "2026-11-22T10:01:00Z");
    assert!(store.add_delivery(&later).await.unwrap());
    assert!(store.add_delivery(&sooner).await.unwrap());
    assert!(
        !store.add_delivery(&later).await.unwrap(),
        "the same event read again"
    );

    let at = |t: &str| Timestamp::parse(t).unwrap();
    let mine = |due: Vec<Delivery>| {
        due.into_iter()
            .filter(|d| d.subscription_id == s.id)
            .map(|d| d.event_id)
            .collect::<Vec<_>>()
    };
    assert!(mine(store.due(at("2026-11-22T10:00:59Z"), 100).await.unwrap()).is_empty());
    assert_eq!(
        mine(store.due(at("2026-11-22T10:01:00Z"), 100).await.unwrap()),
        ["evt_sooner"]
    );
    assert_eq!(
        mine(store.due(at("2026-11-22T11:00:00Z"), 100).await.unwrap()),
        ["evt_sooner", "evt_later"]
    );

    // Two dispatchers read the same delivery; the first to record wins.
    let mut delivered = sooner.clone();
    delivered.status = DeliveryStatus::Delivered;
    delivered.next_attempt_at = None;
    delivered.attempts.push(AttemptRecord {
        attempt: 1,
        at: at("2026-11-22T10:01:00Z"),
        status_code: Some(200),
        error: None,
        latency_ms: 12,
    });
    let mut retried = sooner.clone();
    retried.attempts.push(AttemptRecord {
        attempt: 1,
        at: at("2026-11-22T10:01:00Z"),
        status_code: Some(500),
        error: Some("answered 500".into()),
        latency_ms: 9,
    });
    retried.next_attempt_at = Some(at("2026-11-22T10:01:10Z"));
    assert!(store.record(&delivered, 0).await.unwrap());
    assert!(!store.record(&retried, 0).await.unwrap());
    assert_eq!(
        mine(store.due(at("2026-11-22T11:00:00Z"), 100).await.unwrap()),
        ["evt_later"],
        "a delivered one leaves the index"
    );

    let log = store.deliveries(s.company_id, s.id, 1, None).await.unwrap();
    assert_eq!(log.deliveries.len(), 1);
    let rest = store
        .deliveries(s.company_id, s.id, 10, log.next_position.as_deref())
        .await
        .unwrap();
    let mut all: Vec<Delivery> = log.deliveries;
    all.extend(rest.deliveries);
    assert_eq!(all.len(), 2);
    let recorded = all.iter().find(|d| d.event_id == "evt_sooner").unwrap();
    assert_eq!(recorded, &delivered);
    assert!(
        store
            .deliveries(CompanyId::new_random(), s.id, 10, None)
            .await
            .unwrap()
            .deliveries
            .is_empty(),
        "another company's key reaches nothing"
    );
}

/// A stack that leaves webhooks to the test: no stream reader, no scheduled dispatch.
fn engine_only() -> ledgerdock_infra::dev::DevOptions {
    ledgerdock_infra::dev::DevOptions {
        deliver_webhooks: false,
        ..options()
    }
}
