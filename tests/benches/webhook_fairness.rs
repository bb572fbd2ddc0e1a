//! Webhook fairness: one tenant's dead receivers cost every other tenant nothing measurable.
//!
//! Through the dev stack as it runs by itself (the change capture feeding the fan-out, the
//! fair attempt queue and its consumers, the sweep every 2 s), 20 companies each subscribe a
//! receiver that answers at once to `invoice.ready_for_export`. Latency is from the publish
//! call (the change is committed when it returns) to the receiver getting the signed event.
//!
//! 1. **Quiet.** Each of 19 companies publishes `--events` invoices, one company after another.
//! 2. **One tenant's receivers hang**, in the same run: the 20th company holds 10 subscriptions
//!    whose receivers hang (they answer after 30 s, past the sender's 5 s), already failing,
//!    with `--due` failing deliveries due, and it keeps publishing; the 19 publish as before.
//!
//! Goal: the quiet companies' p99 in phase 2 ≤ 2 s and ≤ 1.5× their phase-1 p99. `bench/run` runs `--events 30 --due 5000`; the smoke
//! `--events 3 --due 300`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ledgerdock_shared::domain::webhook::{Delivery, DeliveryStatus};
use ledgerdock_shared::domain::{Scope, SubscriptionId, Timestamp};
use ledgerdock_tests::receiver::Receiver;
use ledgerdock_tests::stats::{percentile, sorted, write_result};
use ledgerdock_tests::*;
use serde_json::{json, Value};

const QUIET_COMPANIES: usize = 19;
const HANGING_SUBSCRIPTIONS: usize = 10;
const DELIVERED_WITHIN: Duration = Duration::from_secs(30);

struct Args {
    events: usize,
    due: usize,
    out: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        events: 30,
        due: 5_000,
        out: PathBuf::from("target/bench/webhook_fairness.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--events" => args.events = it.next().and_then(|n| n.parse().ok()).expect("N"),
            "--due" => args.due = it.next().and_then(|n| n.parse().ok()).expect("N"),
            "--out" => args.out = it.next().expect("--out FILE").into(),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// A company with a client that may read invoices and manage webhooks.
async fn company(t: &TestStack) -> Connector {
    t.connector(&[Scope::InvoicesRead, Scope::WebhooksManage])
        .await
}

/// Publishes `events` invoices into each quiet company, one company after another, and
/// answers each delivery's latency in seconds (publish call → receiver got it).
async fn latencies(
    t: &TestStack,
    quiet: &[(Connector, Receiver)],
    events: usize,
    also: Option<&Connector>,
) -> Vec<f64> {
    let mut published: HashMap<String, (usize, Instant)> = HashMap::new();
    for _ in 0..events {
        for (n, (tenant, _)) in quiet.iter().enumerate() {
            let at = Instant::now();
            let id = t.publish_many(tenant.company, 1).await[0];
            published.insert(id.to_string(), (n, at));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(noisy) = also {
            t.publish_many(noisy.company, 1).await;
        }
    }
    let mut seconds = Vec::new();
    let deadline = Instant::now() + DELIVERED_WITHIN;
    for (n, (_, receiver)) in quiet.iter().enumerate() {
        let expected = published.values().filter(|(c, _)| *c == n).count();
        loop {
            let arrived: Vec<_> = receiver
                .received()
                .into_iter()
                .filter(|r| {
                    published
                        .get(r.body["data"]["invoiceId"].as_str().unwrap_or_default())
                        .is_some_and(|(c, _)| *c == n)
                })
                .collect();
            if arrived.len() >= expected || Instant::now() > deadline {
                assert_eq!(arrived.len(), expected, "company {n}: deliveries missing");
                for r in arrived {
                    let (_, at) = published[r.body["data"]["invoiceId"].as_str().unwrap()];
                    seconds.push(r.at.saturating_duration_since(at).as_secs_f64());
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    seconds
}

fn summary(seconds: Vec<f64>) -> Value {
    let s = sorted(seconds);
    json!({
        "n": s.len(),
        "p50": percentile(&s, 0.5),
        "p99": percentile(&s, 0.99),
        "max": s.last().copied().unwrap_or(0.0),
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = args();
    let t = TestStack::start_with(ledgerdock_infra::dev::DevOptions {
        webhook_dispatch_interval: Duration::from_secs(2),
        ..options()
    })
    .await;
    let mut quiet = Vec::new();
    for _ in 0..QUIET_COMPANIES {
        let tenant = company(&t).await;
        let receiver = Receiver::start().await;
        t.subscribe(&tenant, &receiver, &["invoice.ready_for_export"])
            .await;
        quiet.push((tenant, receiver));
    }

    println!(
        "phase 1: {QUIET_COMPANIES} quiet companies, {} events each",
        args.events
    );
    let calm = latencies(&t, &quiet, args.events, None).await;

    // The 20th company: 10 receivers that hang, failing since a minute ago, with deliveries
    // due (as after an outage on its side).
    let noisy = company(&t).await;
    let hanging = Receiver::start().await;
    hanging.stall(Duration::from_secs(30));
    let mut subscriptions = Vec::new();
    for _ in 0..HANGING_SUBSCRIPTIONS {
        let made = t
            .subscribe(&noisy, &hanging, &["invoice.ready_for_export"])
            .await;
        subscriptions.push(
            made["id"]
                .as_str()
                .unwrap()
                .parse::<SubscriptionId>()
                .unwrap(),
        );
    }
    let store = &t.stack.app.webhooks;
    let a_minute_ago = Timestamp::parse(
        &(chrono::Utc::now() - chrono::Duration::seconds(60))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
    .unwrap();
    for id in &subscriptions {
        let held = store
            .get(noisy.company, &noisy.client_id, *id)
            .await
            .unwrap()
            .unwrap();
        store
            .note_failing(&held.subscription, a_minute_ago)
            .await
            .unwrap();
    }
    for n in 0..args.due {
        let subscription = subscriptions[n % HANGING_SUBSCRIPTIONS];
        let event_id = format!("evt_backlog_{n}");
        let delivery = Delivery {
            subscription_id: subscription,
            company_id: noisy.company,
            body: json!({"id": event_id, "type": "invoice.ready_for_export"}).to_string(),
            event_id,
            event_type: "invoice.ready_for_export".into(),
            event_at: a_minute_ago,
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
            next_attempt_at: Some(a_minute_ago),
        };
        store.add_delivery(&delivery).await.unwrap();
    }
    println!(
        "phase 2: the same, with {HANGING_SUBSCRIPTIONS} hanging subscriptions of another company and {} deliveries due",
        args.due
    );
    let noisy_started = Instant::now();
    let loud = latencies(&t, &quiet, args.events, Some(&noisy)).await;
    let hung_attempts = hanging.received().len();
    let noisy_secs = noisy_started.elapsed().as_secs_f64();

    let (calm, loud) = (summary(calm), summary(loud));
    let p99 = |v: &Value| v["p99"].as_f64().unwrap();
    let goal = p99(&loud) <= 2.0 && p99(&loud) <= 1.5 * p99(&calm);
    let result = json!({
        "quietCompanies": QUIET_COMPANIES,
        "eventsEach": args.events,
        "hangingSubscriptions": HANGING_SUBSCRIPTIONS,
        "deliveriesDue": args.due,
        "quiet": calm,
        "withHangingTenant": loud,
        "hangingAttempts": hung_attempts,
        "phase2Seconds": noisy_secs,
        "goalMet": goal,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    });
    write_result(&args.out, &result);
    t.stop().await;
}
