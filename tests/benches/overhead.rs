//! Per-request overhead of every API route, the webhook ones included, and of the webhook
//! fan-out and the dispatch sweep: each served as its Lambda serves it (a real API Gateway
//! event parsed by lambda_http, the gate, the handler, the response; a stream event parsed into
//! the fan-out's records) against the time its own calls to the engines were in flight on that
//! same request: DynamoDB, S3 and SQS, measured by an interceptor on each SDK client, and a
//! test ping's POST to its receiver, measured by a [`TimedProxy`] in front of it. The ratio at
//! p50 is what the code adds to the calls it cannot avoid. Warm container (grants and limits
//! cached, as in AWS). A request that changes what the next would find (a create, a delete, a
//! rotation, a claim, an import) is set up or undone between requests, untimed, so every timed
//! request does the same work.
//!
//! Then the single complete and the 100-item bulk complete again, with the engine a network
//! away: a proxy delivers every byte half of `--round-trip-ms` (default 4; 0 leaves this out)
//! after it was sent, each way, as DynamoDB is a few milliseconds from a Lambda in its region.
//! The embedded engine spends its CPU on the cores the handler uses, so on its own it cannot
//! show what writes in flight side by side buy; across a round trip they do.
//!
//! `bench/run` runs it with `--requests 500`; CI with `--requests 20`. Writes JSON to `--out`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ledgerdock_shared::domain::webhook::EventType;
use ledgerdock_shared::domain::webhook_signing::SigningSecret;
use ledgerdock_shared::domain::{InvoiceId, Timestamp, MAX_BULK_ITEMS};
use ledgerdock_shared::features::changes::{Image, StreamEvent};
use ledgerdock_shared::features::webhooks::dispatch::{Dispatcher, QUEUED_FOR};
use ledgerdock_shared::gate::{self, Route};
use ledgerdock_shared::handlers::webhooks::{dispatch_webhooks, webhook_fanout};
use ledgerdock_shared::handlers::ROUTES;
use ledgerdock_shared::AppState;
use ledgerdock_tests::events::{api_event, event, set_body, set_path_param, set_query};
use ledgerdock_tests::network::{DistantProxy, TimedProxy};
use ledgerdock_tests::receiver::Receiver;
use ledgerdock_tests::sdk_calls::{
    by_operation, recorded_app_every_client, recorded_app_through, SdkRecorder,
};
use ledgerdock_tests::stats::{percentile, sorted, union_length};
use ledgerdock_tests::*;
use serde_json::{json, Value};

struct Args {
    requests: usize,
    out: PathBuf,
    round_trip: Duration,
}

fn args() -> Args {
    let (mut requests, mut out) = (500, PathBuf::from("target/bench/overhead.json"));
    let mut round_trip_ms = 4;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--requests" => {
                requests = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--requests N")
            }
            "--out" => out = it.next().expect("--out FILE").into(),
            "--round-trip-ms" => {
                round_trip_ms = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--round-trip-ms N")
            }
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    Args {
        requests,
        out,
        round_trip: Duration::from_millis(round_trip_ms),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let Args {
        requests,
        out,
        round_trip,
    } = args();
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(out);
    let t = TestStack::start_with(bench_options()).await;
    // One client of one company whose rate limit never bites during the run.
    let tenant = t.unlimited_connector().await;
    // Invoices: one for the single calls, one to reject, a bulk call's worth of each, and one
    // to export for the fan-out's record.
    let ids = t.publish_many(tenant.company, 3 + 2 * MAX_BULK_ITEMS).await;
    let (invoice, rejected) = (ids[0].to_string(), ids[1].to_string());
    let (to_complete, to_reject) = ids[2..2 + 2 * MAX_BULK_ITEMS].split_at(MAX_BULK_ITEMS);
    let exported = ids[2 + 2 * MAX_BULK_ITEMS];
    // Claims take what they claim from the ready list: their own company, an invoice a request.
    let claimer = t.unlimited_connector().await;
    t.publish_many(claimer.company, requests + 10).await;
    let job = t.import_json(&tenant, &supplier_records("OH-", 1)).await;
    let job_id = job["jobId"].as_str().unwrap().to_string();
    t.wait_for_job(&tenant, &job_id).await;
    t.import_one_of_each(&tenant, "OH-MD", "OH-00001").await;
    // A subscription to exports, its receiver behind a proxy that times the POSTs to it.
    let receiver = Receiver::start().await;
    let (receiver_host, receiver_path) = receiver.url.rsplit_once('/').unwrap();
    let receiver_proxy = TimedProxy::start(receiver_host).await;
    let receiver_url = format!("{}/{receiver_path}", receiver_proxy.url);
    let subscribe = json!({"url": receiver_url, "events": [EventType::InvoiceExported.as_str()]});
    let made = t.post_json(&tenant, SUBSCRIPTIONS, &subscribe).call().await;
    assert_eq!(made.status, 201, "{}", made.text);
    let subscription = made.json()["id"].as_str().unwrap().to_string();
    let one = format!("{SUBSCRIPTIONS}/{subscription}");
    receiver.trust(SigningSecret::parse(made.json()["secret"].as_str().unwrap()).unwrap());
    // The stream's view of an export: the header before and after.
    let before = t
        .header_item(tenant.company, exported)
        .await
        .expect("the invoice's header");
    t.complete(&tenant, exported, &json!({"externalId": "ERP-1"}))
        .await
        .ok();
    let after = t
        .header_item(tenant.company, exported)
        .await
        .expect("the invoice's header");

    let (app, recorder) = recorded_app_every_client(&t);
    let served = Served {
        app: &app,
        recorder: &recorder,
        receiver: Some(&receiver_proxy),
    };
    let with = |function: &str, change: &dyn Fn(&mut Value)| {
        let mut e = api_event(function, &tenant);
        change(&mut e);
        e
    };
    let on_invoice = |id: &str| {
        let id = id.to_string();
        move |e: &mut Value| set_path_param(e, "invoiceId", &id)
    };
    let on_subscription = |e: &mut Value| set_path_param(e, "subscriptionId", &subscription);
    let master = |name: &'static str| move |e: &mut Value| set_path_param(e, name, "OH-MD");
    let bulk = |ids: &[InvoiceId], reason: bool| {
        let items: Vec<Value> = ids
            .iter()
            .map(|id| match reason {
                true => json!({"invoiceId": id, "reason": "duplicate"}),
                false => json!({"invoiceId": id}),
            })
            .collect();
        json!({ "items": items }).to_string()
    };
    let mut rows = Vec::new();

    // The scheduled sweep with one delivery due: fanned out (untimed) as if two minutes ago,
    // so its time in the queue has just run out. Before the fan-out's own row, whose
    // deliveries are queued for two minutes and must not come due under this one.
    let dispatcher = Dispatcher::of(&app).unwrap();
    rows.push(
        measure("dispatch-webhooks", requests, async |_| {
            let changes =
                StreamEvent::changes(serde_json::from_str(&stream_event(&before, &after)).unwrap());
            let long_ago = Timestamp::now().minus(QUEUED_FOR + Duration::from_secs(1));
            dispatcher.fan_out(&changes, long_ago).await.unwrap();
            served.forget_calls();
            let started = Instant::now();
            let run = dispatch_webhooks::handle(&app).await.unwrap();
            let took = started.elapsed();
            assert_eq!(run.queued, 1, "{run:?}");
            served.timed(took)
        })
        .await,
    );
    // The fan-out of one stream record: an export, to one subscription.
    rows.push(
        measure("webhook-fanout", requests, async |_| {
            let event = stream_event(&before, &after);
            served.forget_calls();
            let started = Instant::now();
            let parsed: StreamEvent = serde_json::from_str(&event).unwrap();
            let run = webhook_fanout::handle(&app, parsed).await.unwrap();
            let took = started.elapsed();
            assert_eq!((run.events, run.queued), (1, 1), "{run:?}");
            served.timed(took)
        })
        .await,
    );

    // The API, a row per route: those a repeat leaves as it found first.
    let fixed: Vec<(&str, Value)> = vec![
        (
            "list-exportable-invoices",
            with("list-exportable-invoices", &|_| {}),
        ),
        ("get-invoice", with("get-invoice", &on_invoice(&invoice))),
        (
            "get-invoice-download-url",
            with("get-invoice-download-url", &|e| {
                on_invoice(&invoice)(e);
                set_query(e, "format", "PDF")
            }),
        ),
        (
            "get-invoice-history",
            with("get-invoice-history", &on_invoice(&invoice)),
        ),
        // Repeated, a complete or reject is the same conditional UpdateItem answered from
        // ALL_OLD.
        (
            "complete-invoice-export",
            with("complete-invoice-export", &on_invoice(&invoice)),
        ),
        (
            "reject-invoice-export",
            with("reject-invoice-export", &on_invoice(&rejected)),
        ),
        // A full bulk call, repeated likewise: 100 UpdateItems, 16 in flight at a time.
        (
            "bulk-complete-invoice-exports",
            with("bulk-complete-invoice-exports", &|e| {
                set_body(e, &bulk(to_complete, false))
            }),
        ),
        (
            "bulk-reject-invoice-exports",
            with("bulk-reject-invoice-exports", &|e| {
                set_body(e, &bulk(to_reject, true))
            }),
        ),
        (
            "get-import-job",
            with("get-import-job", &|e| set_path_param(e, "jobId", &job_id)),
        ),
        ("list-suppliers", with("list-suppliers", &|_| {})),
        (
            "get-supplier",
            with("get-supplier", &|e| {
                set_path_param(e, "externalId", "OH-00001")
            }),
        ),
        ("list-gl-accounts", with("list-gl-accounts", &|_| {})),
        ("get-gl-account", with("get-gl-account", &master("code"))),
        ("list-tax-codes", with("list-tax-codes", &|_| {})),
        ("get-tax-code", with("get-tax-code", &master("code"))),
        (
            "list-tracking-categories",
            with("list-tracking-categories", &|_| {}),
        ),
        (
            "get-tracking-category",
            with("get-tracking-category", &master("category")),
        ),
        (
            "list-purchase-orders",
            with("list-purchase-orders", &|_| {}),
        ),
        (
            "get-purchase-order",
            with("get-purchase-order", &master("poNumber")),
        ),
        (
            "list-webhook-subscriptions",
            with("list-webhook-subscriptions", &|_| {}),
        ),
        (
            "get-webhook-subscription",
            with("get-webhook-subscription", &on_subscription),
        ),
        (
            "update-webhook-subscription",
            with("update-webhook-subscription", &|e| {
                on_subscription(e);
                set_body(
                    e,
                    &json!({"description": "ERP export confirmations"}).to_string(),
                )
            }),
        ),
        // A signed POST to the receiver, answered: the POST counts as a call it waits on.
        (
            "test-webhook-subscription",
            with("test-webhook-subscription", &on_subscription),
        ),
        (
            "list-webhook-deliveries",
            with("list-webhook-deliveries", &on_subscription),
        ),
        ("list-events", with("list-events", &|_| {})),
    ];
    for (function, event) in &fixed {
        rows.push(repeated(&served, route(function), event, requests).await);
    }

    // A recovery and a resend, for a tenant of their own whose subscription heard of ten
    // exports and received none (the bench stack delivers nothing): each recovery queues the
    // same ten again, each resend the same one. (The first tenant's log by now holds a
    // thousand, and a test ping's delivery is no event of the feed.)
    let recovering = t.unlimited_connector().await;
    let its_invoice = t.publish_many(recovering.company, 1).await[0];
    let its_made = t
        .post_json(&recovering, SUBSCRIPTIONS, &subscribe)
        .call()
        .await;
    assert_eq!(its_made.status, 201, "{}", its_made.text);
    let its_subscription = its_made.json()["id"].as_str().unwrap().to_string();
    let its_before = t
        .header_item(recovering.company, its_invoice)
        .await
        .expect("the invoice's header");
    t.complete(&recovering, its_invoice, &json!({"externalId": "ERP-1"}))
        .await
        .ok();
    let its_after = t
        .header_item(recovering.company, its_invoice)
        .await
        .expect("the invoice's header");
    for _ in 0..10 {
        let event = serde_json::from_str(&stream_event(&its_before, &its_after)).unwrap();
        webhook_fanout::handle(&app, event).await.unwrap();
    }
    let as_recovering = |function: &str, change: &dyn Fn(&mut Value)| {
        let mut e = api_event(function, &recovering);
        set_path_param(&mut e, "subscriptionId", &its_subscription);
        change(&mut e);
        e
    };
    let recover = as_recovering("recover-webhook-deliveries", &|e| {
        set_body(e, &json!({"since": "2020-01-01T00:00:00Z"}).to_string())
    });
    rows.push(
        repeated(
            &served,
            route("recover-webhook-deliveries"),
            &recover,
            requests,
        )
        .await,
    );
    let heard = t.deliveries(&recovering, &its_subscription).await;
    assert_eq!(heard.len(), 10, "{heard:?}");
    let resend = as_recovering("resend-webhook-delivery", &|e| {
        set_path_param(e, "eventId", heard[0]["eventId"].as_str().unwrap())
    });
    rows.push(repeated(&served, route("resend-webhook-delivery"), &resend, requests).await);

    // Those a request changes, set back (or up) between requests, untimed.
    let mut claim = api_event("claim-invoice-exports", &claimer);
    set_body(
        &mut claim,
        &json!({"limit": 1, "leaseSeconds": 300}).to_string(),
    );
    let claim = claim.to_string();
    rows.push(
        measure("claim-invoice-exports", requests, async |_| {
            let (timed, claimed) = served.api(route("claim-invoice-exports"), &claim).await;
            assert_eq!(
                claimed["invoiceIds"].as_array().map(Vec::len),
                Some(1),
                "{claimed}"
            );
            timed
        })
        .await,
    );
    let import = with("start-import-job", &|_| {}).to_string();
    rows.push(
        measure("start-import-job", requests, async |_| {
            let (timed, job) = served.api(route("start-import-job"), &import).await;
            t.wait_for_job(&tenant, job["jobId"].as_str().unwrap())
                .await;
            timed
        })
        .await,
    );
    let create = with("create-webhook-subscription", &|e| {
        set_body(e, &subscribe.to_string())
    })
    .to_string();
    rows.push(
        measure("create-webhook-subscription", requests, async |_| {
            let (timed, made) = served
                .api(route("create-webhook-subscription"), &create)
                .await;
            let gone = t
                .delete(
                    &tenant,
                    &format!("{SUBSCRIPTIONS}/{}", made["id"].as_str().unwrap()),
                )
                .await;
            assert_eq!(gone.status, 204, "{}", gone.text);
            timed
        })
        .await,
    );
    rows.push(
        measure("delete-webhook-subscription", requests, async |_| {
            let made = t.post_json(&tenant, SUBSCRIPTIONS, &subscribe).call().await;
            assert_eq!(made.status, 201, "{}", made.text);
            let id = made.json()["id"].as_str().unwrap().to_string();
            let delete = with("delete-webhook-subscription", &|e| {
                set_path_param(e, "subscriptionId", &id)
            });
            served
                .api(route("delete-webhook-subscription"), &delete.to_string())
                .await
                .0
        })
        .await,
    );
    let rotate = with("rotate-webhook-secret", &on_subscription).to_string();
    let retire = with("retire-webhook-secrets", &on_subscription).to_string();
    let previous = format!("{one}/secrets/previous");
    rows.push(
        measure("rotate-webhook-secret", requests, async |_| {
            let (timed, _) = served.api(route("rotate-webhook-secret"), &rotate).await;
            t.delete(&tenant, &previous).await.ok();
            timed
        })
        .await,
    );
    rows.push(
        measure("retire-webhook-secrets", requests, async |_| {
            t.post(&tenant, &format!("{one}/rotate-secret"), &json!({}))
                .await
                .ok();
            served.api(route("retire-webhook-secrets"), &retire).await.0
        })
        .await,
    );

    // Every route has its row: a new one without fails here.
    for route in ROUTES {
        assert!(
            rows.iter().any(|r| r["function"] == route.function),
            "{} has no row in the overhead bench",
            route.function
        );
    }
    let mut report = json!({ "operations": rows });

    if !round_trip.is_zero() {
        let proxy = DistantProxy::start(&t.stack.dynamodb_url, round_trip / 2);
        let (far_app, far_recorder) = recorded_app_through(&t, &proxy.url);
        let far = Served {
            app: &far_app,
            recorder: &far_recorder,
            receiver: None,
        };
        eprintln!(
            "with DynamoDB {} ms away (round trip):",
            round_trip.as_millis()
        );
        let mut distant = Vec::new();
        for (function, event) in &fixed {
            if ["complete-invoice-export", "bulk-complete-invoice-exports"].contains(function) {
                distant.push(repeated(&far, route(function), event, requests).await);
            }
        }
        report["distant"] = json!({
            "round_trip_ms": round_trip.as_secs_f64() * 1000.0,
            "operations": distant,
        });
    }

    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    eprintln!("wrote {}", out.display());
    t.stop().await;
}

/// A request's time, and how long at least one of its calls to an engine (or to a webhook
/// receiver) was in flight.
struct Timed {
    took: Duration,
    io: Duration,
    /// Each call by operation (`GetItem`, `SendMessage`, `receiver POST`).
    calls: BTreeMap<String, usize>,
}

/// The app under measurement, with what watches its calls.
struct Served<'a> {
    app: &'a AppState,
    recorder: &'a SdkRecorder,
    /// In front of the webhook receiver: a test ping's POST is a call the request waits on.
    receiver: Option<&'a TimedProxy>,
}

impl Served<'_> {
    /// Forgets the calls made so far (set-up between requests).
    fn forget_calls(&self) {
        self.recorder.take();
        if let Some(proxy) = self.receiver {
            proxy.take_spans();
        }
    }

    /// A request that took `took`, with the calls made since [`Self::forget_calls`]: how
    /// long at least one was in flight, and how many of each there were.
    fn timed(&self, took: Duration) -> Timed {
        let recorded = self.recorder.take();
        let mut calls = by_operation(&recorded);
        let mut spans: Vec<_> = recorded.iter().map(|c| (c.started, c.ended)).collect();
        if let Some(proxy) = self.receiver {
            let posts = proxy.take_spans();
            if !posts.is_empty() {
                calls.insert("receiver POST".into(), posts.len());
            }
            spans.extend(posts);
        }
        Timed {
            took,
            io: union_length(spans),
            calls,
        }
    }

    /// Serves `event` on `route` as its Lambda does; asserts a success and returns the timing
    /// and the answer's body (JSON, or null when it has none).
    async fn api(&self, route: &'static Route, event: &str) -> (Timed, Value) {
        self.forget_calls();
        let started = Instant::now();
        let request = lambda_http::request::from_str(event).unwrap();
        let response = gate::serve(self.app, route, request).await;
        // What lambda_http does with the answer before it leaves the container.
        let body = String::from_utf8_lossy(response.body()).into_owned();
        let payload = serde_json::to_vec(&json!({
            "statusCode": response.status().as_u16(),
            "body": body,
        }))
        .unwrap();
        let timed = self.timed(started.elapsed());
        // Kept, so that the answer's serialisation is timed and not optimised away.
        std::hint::black_box(payload);
        assert!(
            response.status().is_success(),
            "{}: {} {body}",
            route.function,
            response.status()
        );
        let body = serde_json::from_str(&body).unwrap_or(Value::Null);
        (timed, body)
    }
}

/// Runs `once` `requests` times after 10 that warm caches and connections: the row of the
/// report, named `function`.
async fn measure(
    function: &str,
    requests: usize,
    mut once: impl AsyncFnMut(usize) -> Timed,
) -> Value {
    let (mut total, mut io, mut calls) = (Vec::new(), Vec::new(), BTreeMap::new());
    for n in 0..requests + 10 {
        let timed = once(n).await;
        if n >= 10 {
            total.push(ms(timed.took));
            io.push(ms(timed.io));
            calls = timed.calls;
        }
    }
    let (total, io) = (sorted(total), sorted(io));
    let row = json!({
        "function": function,
        "requests": requests,
        "p50_ms": percentile(&total, 0.5),
        "p99_ms": percentile(&total, 0.99),
        "sdk_p50_ms": percentile(&io, 0.5),
        "sdk_p99_ms": percentile(&io, 0.99),
        "calls": calls,
    });
    eprintln!(
        "{:30} p50 {:7.3} ms (calls {:7.3})  p99 {:7.3} ms (calls {:7.3})  {}",
        function,
        row["p50_ms"].as_f64().unwrap(),
        row["sdk_p50_ms"].as_f64().unwrap(),
        row["p99_ms"].as_f64().unwrap(),
        row["sdk_p99_ms"].as_f64().unwrap(),
        row["calls"]
    );
    row
}

/// A request that does the same each time it is sent: one event, served again and again.
async fn repeated(
    served: &Served<'_>,
    route: &'static Route,
    event: &Value,
    requests: usize,
) -> Value {
    let event = event.to_string();
    measure(route.function, requests, async |_| {
        served.api(route, &event).await.0
    })
    .await
}

/// The route of `function` among every API route.
fn route(function: &str) -> &'static Route {
    ROUTES
        .iter()
        .find(|r| r.function == function)
        .unwrap_or_else(|| panic!("no route for {function}"))
}

/// A stream event as Lambda hands it to the fan-out: one MODIFY record of `old` to `new`
/// under a record id never seen before, so each is a new event to fan out.
fn stream_event(old: &Image, new: &Image) -> String {
    let mut e = event("webhook-fanout");
    let mut record = e["Records"][1].clone();
    record["eventID"] = json!(uuid::Uuid::new_v4().simple().to_string());
    record["eventName"] = json!("MODIFY");
    let dynamodb = &mut record["dynamodb"];
    dynamodb["ApproximateCreationDateTime"] = json!(chrono::Utc::now().timestamp());
    let keys: Image = ["PK", "SK"]
        .into_iter()
        .map(|k| (k.to_string(), old[k].clone()))
        .collect();
    dynamodb["Keys"] = dynamodb_json(keys);
    dynamodb["OldImage"] = dynamodb_json(old.clone());
    dynamodb["NewImage"] = dynamodb_json(new.clone());
    e["Records"] = json!([record]);
    e.to_string()
}

/// An item in DynamoDB's JSON (`{"S": "…"}`), as a stream record carries it.
fn dynamodb_json(item: Image) -> Value {
    serde_json::to_value(serde_dynamo::Item::from(item)).unwrap()
}
