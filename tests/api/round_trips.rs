//! How many DynamoDB calls each operation makes, counted by an interceptor on the real SDK
//! client while the real handler serves a real API Gateway event: the design's one round trip
//! per request path (plus the rate counter), held here so that a regression fails CI rather
//! than a benchmark. Grants and rate limits are cached per warm container (as in AWS), so each
//! count is taken on a warm one.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ledgerdock_shared::gate::{self, Route};
use ledgerdock_shared::handlers::{
    bulk_complete_invoice_exports, bulk_reject_invoice_exports, complete_invoice_export,
    get_import_job, get_invoice, get_invoice_download_url, get_supplier, list_exportable_invoices,
    list_suppliers, reject_invoice_export,
};
use ledgerdock_shared::AppState;
use ledgerdock_tests::events::{api_event, set_body, set_path_param, set_query};
use ledgerdock_tests::sdk_calls::{busy, by_operation, recorded_app, SdkCall, SdkRecorder};
use ledgerdock_tests::*;
use serde_json::{json, Value};

/// A change to a route's generated event.
type EventChange<'a> = Box<dyn Fn(&mut Value) + 'a>;

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Serves `event` on `route` through the gate, as the function would; the status and the
/// DynamoDB calls it made.
async fn serve(
    app: &AppState,
    recorder: &SdkRecorder,
    route: &'static Route,
    event: Value,
) -> (u16, BTreeMap<String, usize>) {
    recorder.take();
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let status = gate::serve(app, route, request).await.status().as_u16();
    (status, by_operation(&recorder.take()))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_read_and_each_transition_is_one_dynamodb_call_besides_the_rate_counter() {
    let t = TestStack::start().await;
    let a = t.tenant_all_scopes().await;
    let ids = t.publish_many(a.company, 3).await;
    let job = t.import_json(&a, &supplier_records("RT-", 3)).await;
    let job_id = job["jobId"].as_str().unwrap().to_string();
    assert_eq!(t.wait_for_job(&a, &job_id).await["status"], "FINISHED");
    let (app, recorder) = recorded_app(&t);
    let with = |route: &Route, change: &dyn Fn(&mut Value)| {
        let mut event = api_event(route.function, &a);
        change(&mut event);
        event
    };
    let invoice = |id: usize| {
        let id = ids[id].to_string();
        move |e: &mut Value| set_path_param(e, "invoiceId", &id)
    };

    // A cold container reads the client's grant and rate limit once; they are cached after.
    let list = &list_exportable_invoices::ROUTE;
    let (status, cold) = serve(&app, &recorder, list, with(list, &|_| {})).await;
    assert_eq!(status, 200);
    assert_eq!(
        cold,
        counts(&[("GetItem", 2), ("Query", 1), ("UpdateItem", 1)])
    );

    // Warm: the operation's own call, and one UpdateItem that counts the request.
    let reads: [(&'static Route, EventChange, &str); 6] = [
        (list, Box::new(|_| {}), "Query"),
        (&get_invoice::ROUTE, Box::new(invoice(0)), "Query"),
        (
            &get_invoice_download_url::ROUTE,
            Box::new(move |e| {
                invoice(0)(e);
                set_query(e, "format", "PDF")
            }),
            "GetItem",
        ),
        (
            &get_import_job::ROUTE,
            Box::new(|e| set_path_param(e, "jobId", &job_id)),
            "GetItem",
        ),
        (&list_suppliers::ROUTE, Box::new(|_| {}), "Query"),
        (
            &get_supplier::ROUTE,
            Box::new(|e| set_path_param(e, "externalId", "RT-00001")),
            "GetItem",
        ),
    ];
    for (route, change, call) in &reads {
        let (status, calls) = serve(&app, &recorder, route, with(route, change)).await;
        assert_eq!(status, 200, "{}", route.function);
        assert_eq!(
            calls,
            counts(&[(call, 1), ("UpdateItem", 1)]),
            "{}",
            route.function
        );
    }

    // A transition is one conditional UpdateItem, whether it lands, repeats or conflicts.
    let complete = &complete_invoice_export::ROUTE;
    let reject = &reject_invoice_export::ROUTE;
    for (route, target, expected) in [
        (complete, 1, 200),
        (complete, 1, 200),
        (reject, 2, 200),
        (reject, 1, 409),
    ] {
        let (status, calls) = serve(&app, &recorder, route, with(route, &invoice(target))).await;
        assert_eq!(status, expected, "{} of invoice {target}", route.function);
        assert_eq!(
            calls,
            counts(&[("UpdateItem", 2)]),
            "{} of invoice {target}",
            route.function
        );
    }

    // A bulk call is one conditional UpdateItem per item, whatever each item's outcome.
    let fresh = t.publish_many(a.company, 100).await;
    let bulk_complete = &bulk_complete_invoice_exports::ROUTE;
    let bulk_reject = &bulk_reject_invoice_exports::ROUTE;
    let items = |ids: &[ledgerdock_shared::domain::InvoiceId], extra: Value| {
        let items: Vec<Value> = ids
            .iter()
            .map(|id| {
                let mut item = extra.clone();
                item["invoiceId"] = json!(id);
                item
            })
            .collect();
        let body = json!({ "items": items }).to_string();
        move |e: &mut Value| set_body(e, &body)
    };
    for (route, targets, extra, what) in [
        (bulk_complete, &fresh[..], json!({}), "100 landing"),
        (bulk_complete, &fresh[..], json!({}), "100 repeats"),
        (
            bulk_reject,
            &fresh[..50],
            json!({"reason": "r"}),
            "50 conflicts",
        ),
        (
            bulk_reject,
            &ids[1..2],
            json!({"reason": "r"}),
            "1 conflict",
        ),
    ] {
        let (status, calls) =
            serve(&app, &recorder, route, with(route, &items(targets, extra))).await;
        assert_eq!(status, 200, "{what}");
        assert_eq!(
            calls,
            counts(&[("UpdateItem", targets.len() + 1)]),
            "{what}"
        );
    }
    t.stop().await;
}

#[test]
fn sdk_time_counts_calls_side_by_side_once_and_gaps_not_at_all() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let call = |from: u64, to: u64| SdkCall {
        operation: "Query".into(),
        started: at(from),
        ended: at(to),
    };
    let calls = [call(0, 10), call(5, 12), call(20, 25)];
    assert_eq!(busy(&calls), Duration::from_millis(17));
    assert_eq!(by_operation(&calls), counts(&[("Query", 3)]));
}
