//! Per-request overhead: each operation served as its Lambda serves it (a real API Gateway
//! event parsed by lambda_http, the gate, the handler, the response) against the time its own
//! DynamoDB calls were in flight, measured on the same request by an interceptor on the same
//! SDK client against the same engine. The ratio at p50 is what the code adds to the calls it
//! cannot avoid. Warm container (grants and limits cached, as in AWS).
//!
//! Then the single complete and the 100-item bulk complete again, with the engine a network
//! away: a proxy delivers every byte half of `--round-trip-ms` (default 4; 0 leaves this out)
//! after it was sent, each way, as DynamoDB is a few milliseconds from a Lambda in its region.
//! The embedded engine spends its CPU on the cores the handler uses, so on its own it cannot
//! show what writes in flight side by side buy; across a round trip they do.
//!
//! `bench/run` runs it with `--requests 500`; CI with `--requests 20`. Writes JSON to `--out`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ledgerdock_shared::domain::MAX_BULK_ITEMS;
use ledgerdock_shared::gate::{self, Route};
use ledgerdock_shared::handlers::{
    imports::get_import_job, invoices::bulk_complete_invoice_exports,
    invoices::complete_invoice_export, invoices::get_invoice, invoices::get_invoice_download_url,
    invoices::list_exportable_invoices,
};
use ledgerdock_shared::AppState;
use ledgerdock_tests::events::{api_event, set_body, set_path_param, set_query};
use ledgerdock_tests::network::DistantProxy;
use ledgerdock_tests::sdk_calls::{busy, recorded_app, recorded_app_through, SdkRecorder};
use ledgerdock_tests::stats::{percentile, sorted};
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
    let company = tenant.company;
    // One invoice for the single calls, and a bulk call's worth.
    let ids = t.publish_many(company, 1 + MAX_BULK_ITEMS).await;
    let job = t.import_json(&tenant, &supplier_records("OH-", 1)).await;
    let job_id = job["jobId"].as_str().unwrap().to_string();
    t.wait_for_job(&tenant, &job_id).await;
    let (app, recorder) = recorded_app(&t);
    let invoice = ids[0].to_string();

    let with = |route: &Route, change: &dyn Fn(&mut Value)| {
        let mut e = api_event(route.function, &tenant);
        change(&mut e);
        e.to_string()
    };
    let plan: Vec<(&'static Route, String)> = vec![
        (
            &list_exportable_invoices::ROUTE,
            with(&list_exportable_invoices::ROUTE, &|_| {}),
        ),
        (
            &get_invoice::ROUTE,
            with(&get_invoice::ROUTE, &|e| {
                set_path_param(e, "invoiceId", &invoice)
            }),
        ),
        (
            &get_invoice_download_url::ROUTE,
            with(&get_invoice_download_url::ROUTE, &|e| {
                set_path_param(e, "invoiceId", &invoice);
                set_query(e, "format", "PDF")
            }),
        ),
        // Repeated, a complete is the same conditional UpdateItem answered from ALL_OLD.
        (
            &complete_invoice_export::ROUTE,
            with(&complete_invoice_export::ROUTE, &|e| {
                set_path_param(e, "invoiceId", &invoice)
            }),
        ),
        // A full bulk complete, repeated likewise: 100 UpdateItems, 16 in flight at a time.
        (
            &bulk_complete_invoice_exports::ROUTE,
            with(&bulk_complete_invoice_exports::ROUTE, &|e| {
                let items: Vec<Value> =
                    ids[1..].iter().map(|id| json!({"invoiceId": id})).collect();
                set_body(e, &json!({ "items": items }).to_string())
            }),
        ),
        (
            &get_import_job::ROUTE,
            with(&get_import_job::ROUTE, &|e| {
                set_path_param(e, "jobId", &job_id)
            }),
        ),
    ];

    let mut rows = Vec::new();
    for (route, event) in &plan {
        rows.push(measure(&app, &recorder, route, event, requests).await);
    }
    let mut report = json!({ "operations": rows });

    if !round_trip.is_zero() {
        let proxy = DistantProxy::start(&t.stack.dynamodb_url, round_trip / 2);
        let (far_app, far_recorder) = recorded_app_through(&t, &proxy.url);
        eprintln!(
            "with DynamoDB {} ms away (round trip):",
            round_trip.as_millis()
        );
        let mut far = Vec::new();
        for (route, event) in &plan {
            if route.function == complete_invoice_export::ROUTE.function
                || route.function == bulk_complete_invoice_exports::ROUTE.function
            {
                far.push(measure(&far_app, &far_recorder, route, event, requests).await);
            }
        }
        report["distant"] = json!({
            "round_trip_ms": round_trip.as_secs_f64() * 1000.0,
            "operations": far,
        });
    }

    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    eprintln!("wrote {}", out.display());
    t.stop().await;
}

/// Serves `event` on `route` `requests` times (after 10 that warm caches and connections) and
/// times each against its own DynamoDB calls: the row of the report.
async fn measure(
    app: &AppState,
    recorder: &SdkRecorder,
    route: &'static Route,
    event: &str,
    requests: usize,
) -> Value {
    let (mut total, mut sdk) = (Vec::new(), Vec::new());
    for n in 0..requests + 10 {
        recorder.take();
        let started = Instant::now();
        let request = lambda_http::request::from_str(event).unwrap();
        let response = gate::serve(app, route, request).await;
        // What lambda_http does with the answer before it leaves the container.
        let payload = serde_json::to_vec(&json!({
            "statusCode": response.status().as_u16(),
            "body": String::from_utf8_lossy(response.body()),
        }))
        .unwrap();
        let elapsed = started.elapsed();
        assert!(!payload.is_empty());
        assert_eq!(response.status(), 200, "{}", route.function);
        if n >= 10 {
            total.push(ms(elapsed));
            sdk.push(ms(busy(&recorder.take())));
        }
    }
    let (total, sdk) = (sorted(total), sorted(sdk));
    let row = json!({
        "function": route.function,
        "requests": requests,
        "p50_ms": percentile(&total, 0.5),
        "p99_ms": percentile(&total, 0.99),
        "sdk_p50_ms": percentile(&sdk, 0.5),
        "sdk_p99_ms": percentile(&sdk, 0.99),
    });
    eprintln!(
        "{:28} p50 {:6.2} ms (SDK {:6.2})  p99 {:6.2} ms (SDK {:6.2})",
        route.function,
        row["p50_ms"].as_f64().unwrap(),
        row["sdk_p50_ms"].as_f64().unwrap(),
        row["p99_ms"].as_f64().unwrap(),
        row["sdk_p99_ms"].as_f64().unwrap()
    );
    row
}
