//! Webhook subscriptions and deliveries as stored: the limits and the conditions that guard
//! their races, against the stack's DynamoDB through the real SDK client.

use ledgerdock_shared::domain::webhook::{
    AttemptRecord, Delivery, DeliveryStatus, EventType, Subscription, UrlPolicy, WebhookUrl,
    MAX_SUBSCRIPTIONS,
};
use ledgerdock_shared::domain::webhook_signing::SigningSecret;
use ledgerdock_shared::domain::{CompanyId, SubscriptionId, Timestamp};
use ledgerdock_shared::foundation::error::ApiError;
use ledgerdock_shared::store::webhooks::{
    CreateRefused, DisableWhen, SigningSubscription, WebhookStore, DISABLED_EVENT,
    MAX_RETIRING_SECRETS,
};
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

/// The subscription as stored now, read by its company, client and id.
async fn stored(store: &WebhookStore, s: &Subscription) -> Option<SigningSubscription> {
    store.get(s.company_id, &s.client_id, s.id).await.unwrap()
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
        store.create(&s, &secret, None).await.unwrap().unwrap();
        made.push(s);
    }
    let one_more = subscription(company, "client-a", "2026-11-22T11:00:00Z");
    assert!(matches!(
        store.create(&one_more, &secret, None).await.unwrap(),
        Err(CreateRefused::TooMany)
    ));
    // Another client of the same company, and the same client elsewhere, count apart.
    let other_client = subscription(company, "client-b", "2026-11-22T11:00:00Z");
    store
        .create(&other_client, &secret, None)
        .await
        .unwrap()
        .unwrap();
    let elsewhere = subscription(CompanyId::new_random(), "client-a", "2026-11-22T11:00:00Z");
    store
        .create(&elsewhere, &secret, None)
        .await
        .unwrap()
        .unwrap();

    let listed = store.list(company, "client-a").await.unwrap();
    assert_eq!(listed, made, "the client's own, oldest first");
    assert_eq!(store.of_company(company).await.unwrap().len(), 11);

    assert!(store.delete(company, "client-a", made[0].id).await.unwrap());
    assert!(
        !store.delete(company, "client-a", made[0].id).await.unwrap(),
        "already gone"
    );
    assert!(
        !store.delete(company, "client-b", made[1].id).await.unwrap(),
        "another client's id names nothing of this client's"
    );
    store
        .create(&one_more, &secret, None)
        .await
        .unwrap()
        .unwrap();
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
    store.create(&s, &first, None).await.unwrap().unwrap();
    let created = stored(&store, &s).await.unwrap();
    assert_eq!(created.subscription, s);
    let now = Timestamp::parse("2026-11-23T00:00:00Z").unwrap();
    assert_eq!(created.signing_secrets(now), vec![&first]);

    let second = SigningSecret::generate().unwrap();
    let rotated = WebhookStore::rotated(created, second.clone(), now).unwrap();
    assert!(store.replace(&rotated).await.unwrap());
    let read = stored(&store, &s).await.unwrap();
    let in_a_while = now.plus(std::time::Duration::from_secs(23 * 3600));
    assert_eq!(read.signing_secrets(in_a_while), vec![&second, &first]);
    let next_day = now.plus(std::time::Duration::from_secs(24 * 3600));
    assert_eq!(read.signing_secrets(next_day), vec![&second]);

    // Rotated again within the hour: two old secrets sign beside the new one, and a third
    // rotation is refused rather than drop a secret some caller was shown.
    let third = SigningSecret::generate().unwrap();
    let twice = WebhookStore::rotated(read.clone(), third.clone(), now).unwrap();
    assert_eq!(
        twice.signing_secrets(in_a_while),
        vec![&third, &second, &first]
    );
    let refused = WebhookStore::rotated(twice.clone(), SigningSecret::generate().unwrap(), now);
    assert!(matches!(refused, Err(ApiError::Conflict(_))), "{refused:?}");
    // Once the first retires, a rotation is taken again.
    let next_day = now.plus(std::time::Duration::from_secs(24 * 3600 + 1));
    let fourth = SigningSecret::generate().unwrap();
    let later = WebhookStore::rotated(twice.clone(), fourth.clone(), next_day).unwrap();
    assert_eq!(later.signing_secrets(next_day), vec![&fourth, &third]);
    // Retiring the previous ones leaves only the current secret signing, at once.
    let (retired, count) = WebhookStore::retired_previous(twice, now);
    assert_eq!(count, 2);
    assert_eq!(retired.signing_secrets(now), vec![&third]);
    assert!(store.replace(&retired).await.unwrap());
    let read_again = stored(&store, &s).await.unwrap();
    assert_eq!(read_again.signing_secrets(now), vec![&third]);
    assert_eq!(read_again.secrets.len(), 1);
    assert_eq!(WebhookStore::retired_previous(read_again, now).1, 0);

    assert!(store.delete(company, "client-a", s.id).await.unwrap());
    assert!(
        !store.replace(&read).await.unwrap(),
        "a change racing a delete"
    );
    assert!(stored(&store, &s).await.is_none());
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

#[tokio::test(flavor = "multi_thread")]
async fn changes_made_at_once_all_land_and_a_write_from_a_stale_read_is_refused() {
    let t = TestStack::start_with(engine_only()).await;
    let store = store(&t);
    let company = CompanyId::new_random();
    let s = subscription(company, "client-a", "2026-11-22T10:00:00Z");
    let first = SigningSecret::generate().unwrap();
    store.create(&s, &first, None).await.unwrap().unwrap();
    let stale = stored(&store, &s).await.unwrap();
    assert_eq!(stale.version, 1);

    // Four rotations and a new description, all read from the same version at once: each is
    // applied to what the ones before it wrote, so none that lands is lost; once two old
    // secrets sign, the rest are refused rather than drop one of them.
    let now = Timestamp::parse("2026-11-23T00:00:00Z").unwrap();
    let new_secrets: Vec<SigningSecret> =
        (0..4).map(|_| SigningSecret::generate().unwrap()).collect();
    let rotate = |secret: &SigningSecret| {
        let secret = secret.clone();
        store.change(company, "client-a", s.id, move |read| {
            WebhookStore::rotated(read, secret.clone(), now)
        })
    };
    let describe = store.change(company, "client-a", s.id, |mut read| {
        read.subscription.description = Some("ERP, production".into());
        Ok(read)
    });
    let (r0, r1, r2, r3, described) = tokio::join!(
        rotate(&new_secrets[0]),
        rotate(&new_secrets[1]),
        rotate(&new_secrets[2]),
        rotate(&new_secrets[3]),
        describe,
    );
    assert!(described.unwrap().is_some());
    let mut landed = Vec::new();
    for (secret, outcome) in new_secrets.iter().zip([r0, r1, r2, r3]) {
        match outcome {
            Ok(Some(_)) => landed.push(secret),
            Err(ApiError::Conflict(_)) => {}
            other => panic!("a rotation lands or is refused: {other:?}"),
        }
    }
    assert_eq!(
        landed.len(),
        MAX_RETIRING_SECRETS,
        "two land, two are refused"
    );
    let read = stored(&store, &s).await.unwrap();
    assert_eq!(read.version, 1 + 3, "three writes landed one after another");
    assert_eq!(
        read.subscription.description.as_deref(),
        Some("ERP, production")
    );
    let signing = read.signing_secrets(now);
    assert_eq!(signing.len(), 1 + MAX_RETIRING_SECRETS);
    for secret in landed {
        assert!(
            signing.contains(&secret),
            "every rotation that landed signs"
        );
    }
    assert!(
        signing.contains(&&first),
        "and the first, rotated out, signs its day"
    );

    // A write of the copy read before all that would undo them: refused.
    let mut from_stale = stale.clone();
    from_stale.subscription.description = Some("stale".into());
    assert!(!store.replace(&from_stale).await.unwrap());
    let unchanged = stored(&store, &s).await.unwrap();
    assert_eq!(unchanged.subscription, read.subscription);
    assert_eq!(unchanged.secrets, read.secrets);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dispatchers_health_notes_never_undo_a_clients_change_made_since_it_read() {
    let t = TestStack::start_with(engine_only()).await;
    let store = store(&t);
    let company = CompanyId::new_random();
    let s = subscription(company, "client-a", "2026-11-22T10:00:00Z");
    store
        .create(&s, &SigningSecret::generate().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    // What a dispatch run read when it started.
    let run_read = stored(&store, &s).await.unwrap();

    // Meanwhile the client rotates the secret and moves the URL.
    let at = |t: &str| Timestamp::parse(t).unwrap();
    let rotated_in = SigningSecret::generate().unwrap();
    let moved =
        WebhookUrl::parse("url", "https://erp.example/v2/hooks", UrlPolicy::Public).unwrap();
    let changed = store
        .change(company, "client-a", s.id, |read| {
            let mut next =
                WebhookStore::rotated(read, rotated_in.clone(), at("2026-11-22T10:01:00Z"))?;
            next.subscription.url = moved.clone();
            Ok(next)
        })
        .await
        .unwrap()
        .unwrap();
    let keeps_the_clients_change = |read: &SigningSubscription| {
        assert_eq!(read.subscription.url, moved);
        assert_eq!(read.secrets, changed.secrets);
    };

    // The run's delivery failed: the streak starts, and nothing else of the item moves.
    let failed_at = at("2026-11-22T10:02:00Z");
    assert!(store
        .note_failing(&run_read.subscription, failed_at)
        .await
        .unwrap());
    let failing = stored(&store, &s).await.unwrap();
    keeps_the_clients_change(&failing);
    assert_eq!(failing.subscription.failing_since, Some(failed_at));
    assert!(
        failing.version > changed.version,
        "a note is a write: a PATCH read before it retries"
    );
    assert!(
        !store
            .note_failing(&run_read.subscription, at("2026-11-22T11:00:00Z"))
            .await
            .unwrap(),
        "a streak counts from its first failure"
    );

    // Disabling needs the streak it was judged on, and an enabled subscription.
    let three_days_on = at("2026-11-25T10:03:00Z");
    let reason = "every delivery failed for 3 days";
    assert!(!store
        .disable(
            &run_read.subscription,
            DisableWhen::StillFailingSince(at("2026-11-21T00:00:00Z")),
            reason,
            three_days_on
        )
        .await
        .unwrap());
    assert!(stored(&store, &s).await.unwrap().subscription.enabled);
    assert!(store
        .disable(
            &run_read.subscription,
            DisableWhen::StillFailingSince(failed_at),
            reason,
            three_days_on
        )
        .await
        .unwrap());
    let disabled = stored(&store, &s).await.unwrap();
    keeps_the_clients_change(&disabled);
    assert!(!disabled.subscription.enabled);
    assert_eq!(
        disabled.subscription.disabled_reason.as_deref(),
        Some(reason)
    );
    assert!(
        !store
            .disable(
                &run_read.subscription,
                DisableWhen::StillFailingSince(failed_at),
                reason,
                three_days_on
            )
            .await
            .unwrap(),
        "disabled once"
    );
    let log = store.deliveries(company, s.id, 10, None).await.unwrap();
    let notices: Vec<_> = log
        .deliveries
        .iter()
        .filter(|d| d.event_type == DISABLED_EVENT)
        .collect();
    assert_eq!(notices.len(), 1, "one notice, written with the disable");
    assert!(notices[0].body.contains(reason));

    // A success ends the streak, once.
    assert!(store
        .note_recovered(&run_read.subscription, three_days_on)
        .await
        .unwrap());
    let recovered = stored(&store, &s).await.unwrap();
    keeps_the_clients_change(&recovered);
    assert_eq!(recovered.subscription.failing_since, None);
    assert!(!store
        .note_recovered(&run_read.subscription, three_days_on)
        .await
        .unwrap());

    // No note brings a deleted subscription back.
    assert!(store.delete(company, "client-a", s.id).await.unwrap());
    assert!(!store
        .note_failing(&run_read.subscription, three_days_on)
        .await
        .unwrap());
    assert!(stored(&store, &s).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_made_at_once_never_pass_the_limit() {
    let t = TestStack::start_with(engine_only()).await;
    let store = store(&t);
    let company = CompanyId::new_random();
    let secret = SigningSecret::generate().unwrap();
    let attempts: Vec<Subscription> = (0..MAX_SUBSCRIPTIONS + 3)
        .map(|n| subscription(company, "client-a", &format!("2026-11-22T10:00:{n:02}Z")))
        .collect();
    let mut calls = tokio::task::JoinSet::new();
    for s in attempts {
        let (store, secret) = (store.clone(), secret.clone());
        calls.spawn(async move { store.create(&s, &secret, None).await });
    }
    let (mut made, mut refused, mut busy) = (0, 0, 0);
    while let Some(outcome) = calls.join_next().await {
        // A conflict DynamoDB keeps cancelling is a 503 to retry, never a 500 or a false "limit".
        match outcome.unwrap() {
            Ok(Ok(())) => made += 1,
            Ok(Err(CreateRefused::TooMany)) => refused += 1,
            Ok(Err(CreateRefused::KeyUsed(..))) => panic!("no key was sent"),
            Err(ledgerdock_shared::foundation::error::ApiError::Unavailable { .. }) => busy += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    let held = store.list(company, "client-a").await.unwrap().len() as u64;
    assert_eq!(held, made, "the counter and the items agree");
    assert!(made <= MAX_SUBSCRIPTIONS, "{made} made");
    if busy == 0 {
        assert_eq!((made, refused), (MAX_SUBSCRIPTIONS, 3));
    } else {
        assert!(
            refused == 0 || made == MAX_SUBSCRIPTIONS,
            "refused with places left"
        );
    }
}

/// A stack that leaves webhooks to the test: no stream reader, no scheduled dispatch.
fn engine_only() -> ledgerdock_infra::dev::DevOptions {
    ledgerdock_infra::dev::DevOptions {
        deliver_webhooks: false,
        ..options()
    }
}
