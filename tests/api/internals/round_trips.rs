//! How many DynamoDB calls each operation makes, counted by an interceptor on the real SDK
//! client while the real handler serves a real API Gateway event: the design's one round trip
//! per request path (plus the rate counter), held here so that a regression fails CI rather
//! than a benchmark. Grants and rate limits are cached per warm container (as in AWS), so each
//! count is taken on a warm one.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ledgerdock_shared::gate::{self, Route};
use ledgerdock_shared::handlers::{
    events::list_events, imports::get_import_job, invoices::bulk_complete_invoice_exports,
    invoices::bulk_reject_invoice_exports, invoices::claim_invoice_exports,
    invoices::complete_invoice_export, invoices::get_invoice, invoices::get_invoice_download_url,
    invoices::get_invoice_history, invoices::list_exportable_invoices,
    invoices::reject_invoice_export, master_data::get_gl_account, master_data::get_purchase_order,
    master_data::get_tax_code, master_data::get_tracking_category, master_data::list_gl_accounts,
    master_data::list_purchase_orders, master_data::list_tax_codes,
    master_data::list_tracking_categories, suppliers::get_supplier, suppliers::list_suppliers,
    webhooks::create_webhook_subscription, webhooks::delete_webhook_subscription,
    webhooks::get_webhook_subscription, webhooks::list_webhook_deliveries,
    webhooks::list_webhook_subscriptions, webhooks::recover_webhook_deliveries,
    webhooks::resend_webhook_delivery, webhooks::retire_webhook_secrets,
    webhooks::rotate_webhook_secret, webhooks::update_webhook_subscription,
};
use ledgerdock_shared::AppState;
use ledgerdock_tests::events::{api_event, set_body, set_path_param, set_query};
use ledgerdock_tests::sdk_calls::{busy, by_operation, recorded_app, SdkCall, SdkRecorder};
use ledgerdock_tests::*;
use serde_json::{json, Value};

/// A route, the body it is sent, and the DynamoDB calls of its own it should make.
type CallsOfRoute<'a> = (&'static Route, Option<&'a str>, &'a [(&'a str, usize)]);

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
    let (status, _, calls) = serve_recorded(app, recorder, route, event).await;
    (status, by_operation(&calls))
}

/// As [`serve`], with the body of the answer and each call as recorded (when it started and
/// ended).
async fn serve_recorded(
    app: &AppState,
    recorder: &SdkRecorder,
    route: &'static Route,
    event: Value,
) -> (u16, Value, Vec<SdkCall>) {
    recorder.take();
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = gate::serve(app, route, request).await;
    let status = response.status().as_u16();
    let body = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body, recorder.take())
}

#[tokio::test(flavor = "multi_thread")]
async fn each_read_and_each_transition_is_one_dynamodb_call_besides_the_rate_counter() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, 3).await;
    let job = t.import_json(&a, &supplier_records("RT-", 3)).await;
    let job_id = job["jobId"].as_str().unwrap().to_string();
    assert_eq!(t.wait_for_job(&a, &job_id).await["status"], "FINISHED");
    t.import_one_of_each(&a, "M1", "RT-00001").await;
    let code = |name: &'static str| move |e: &mut Value| set_path_param(e, name, "M1");
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
    let reads: [(&'static Route, EventChange, &str); 16] = [
        (list, Box::new(|_| {}), "Query"),
        (&get_invoice::ROUTE, Box::new(invoice(0)), "Query"),
        (&get_invoice_history::ROUTE, Box::new(invoice(0)), "Query"),
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
        (&list_events::ROUTE, Box::new(|_| {}), "Query"),
        (&list_gl_accounts::ROUTE, Box::new(|_| {}), "Query"),
        (&get_gl_account::ROUTE, Box::new(code("code")), "GetItem"),
        (&list_tax_codes::ROUTE, Box::new(|_| {}), "Query"),
        (&get_tax_code::ROUTE, Box::new(code("code")), "GetItem"),
        (&list_tracking_categories::ROUTE, Box::new(|_| {}), "Query"),
        (
            &get_tracking_category::ROUTE,
            Box::new(code("category")),
            "Query",
        ),
        (&list_purchase_orders::ROUTE, Box::new(|_| {}), "Query"),
        (
            &get_purchase_order::ROUTE,
            Box::new(code("poNumber")),
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

    // A claim reads its candidates (claims that ended, and never-claimed invoices) in two
    // Queries side by side, then writes each invoice it claims once.
    t.publish_many(a.company, 3).await;
    let claim = &claim_invoice_exports::ROUTE;
    let body = r#"{"limit": 3, "leaseSeconds": 60}"#.to_string();
    let (status, claimed, calls) = serve_recorded(
        &app,
        &recorder,
        claim,
        with(claim, &move |e: &mut Value| set_body(e, &body)),
    )
    .await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["invoiceIds"].as_array().unwrap().len(), 3);
    assert_eq!(
        by_operation(&calls),
        counts(&[("Query", 2), ("UpdateItem", 3 + 1)])
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_webhook_subscription_call_is_one_or_two_dynamodb_calls_besides_the_rate_counter() {
    let t = TestStack::start_with(settling_fast()).await;
    let a = t.connector_all_scopes().await;
    // DynamoDB a network away (20 ms each way), so calls in flight together overlap however
    // busy this machine's cores are.
    let distant = ledgerdock_tests::network::DistantProxy::start(
        &t.stack.dynamodb_url,
        std::time::Duration::from_millis(20),
    );
    let (app, recorder) = ledgerdock_tests::sdk_calls::recorded_app_through(&t, &distant.url);
    let event = |route: &Route, id: &str, body: Option<&str>| {
        let mut e = api_event(route.function, &a);
        if route.path.contains("{subscriptionId}") {
            set_path_param(&mut e, "subscriptionId", id);
        }
        if let Some(body) = body {
            set_body(&mut e, body);
        }
        e
    };
    // The first call warms the container (the client's grant and rate limit are cached after).
    let list = &list_webhook_subscriptions::ROUTE;
    let (status, _) = serve(&app, &recorder, list, event(list, "", None)).await;
    assert_eq!(status, 200);

    // Made in one transaction with the client's counter.
    let create = &create_webhook_subscription::ROUTE;
    let body = r#"{"url": "http://127.0.0.1:9/hooks", "events": ["invoice.exported"]}"#;
    let (status, made, calls) =
        serve_recorded(&app, &recorder, create, event(create, "", Some(body))).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        by_operation(&calls),
        counts(&[("TransactWriteItems", 1), ("UpdateItem", 1)])
    );
    let id = made["id"].as_str().unwrap().to_string();

    // A change reads, then writes conditional on the version it read.
    let patch = r#"{"description": "ERP"}"#;
    let expected: [CallsOfRoute; 6] = [
        (list, None, &[("Query", 1)]),
        (&get_webhook_subscription::ROUTE, None, &[("GetItem", 1)]),
        (
            &update_webhook_subscription::ROUTE,
            Some(patch),
            &[("GetItem", 1), ("PutItem", 1)],
        ),
        (
            &rotate_webhook_secret::ROUTE,
            None,
            &[("GetItem", 1), ("PutItem", 1)],
        ),
        (
            &retire_webhook_secrets::ROUTE,
            None,
            &[("GetItem", 1), ("PutItem", 1)],
        ),
        (
            &list_webhook_deliveries::ROUTE,
            None,
            &[("GetItem", 1), ("Query", 1)],
        ),
    ];
    for (route, body, own) in expected {
        let (status, _, calls) =
            serve_recorded(&app, &recorder, route, event(route, &id, body)).await;
        assert_eq!(status, 200, "{}", route.function);
        let mut wanted = counts(own);
        *wanted.entry("UpdateItem".into()).or_default() += 1;
        assert_eq!(by_operation(&calls), wanted, "{}", route.function);
        if route.function == list_webhook_deliveries::ROUTE.function {
            // The subscription's read and the log's are in flight together.
            let get = calls.iter().find(|c| c.operation == "GetItem").unwrap();
            let query = calls.iter().find(|c| c.operation == "Query").unwrap();
            assert!(
                get.started < query.ended && query.started < get.ended,
                "{calls:?}"
            );
        }
    }

    // Sent again. Three exports the subscription heard of (its receiver is down: each is
    // pending). A resend reads the subscription and the event at once, then writes the
    // delivery: it was pending, so it is read and queued as it is.
    let invoices = t.publish_many(a.company, 3).await;
    for invoice in &invoices {
        t.complete(&a, invoice, &json!({})).await.ok();
    }
    let exported = t.read_feed_of(&a, "types=invoice.exported", 3, 100).await;
    let resend = &resend_webhook_delivery::ROUTE;
    let mut resent = event(resend, &id, None);
    set_path_param(&mut resent, "eventId", exported.ids()[0]);
    let (status, body, calls) = serve_recorded(&app, &recorder, resend, resent).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        by_operation(&calls),
        counts(&[("GetItem", 3), ("PutItem", 1), ("UpdateItem", 1)])
    );
    let reads: Vec<&SdkCall> = calls.iter().filter(|c| c.operation == "GetItem").collect();
    assert!(
        reads[0].started < reads[1].ended && reads[1].started < reads[0].ended,
        "the subscription and the event are read together: {calls:?}"
    );
    // A recovery reads the subscription and one page of the feed, and for each event one
    // conditional PutItem (and, the delivery being pending, one GetItem).
    let recover = &recover_webhook_deliveries::ROUTE;
    let since = Some(r#"{"since": "2020-01-01T00:00:00Z"}"#);
    let (status, body, calls) =
        serve_recorded(&app, &recorder, recover, event(recover, &id, since)).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["queued"], 3, "{body}");
    assert_eq!(
        by_operation(&calls),
        counts(&[
            ("GetItem", 1 + 3),
            ("Query", 1),
            ("PutItem", 3),
            ("UpdateItem", 1)
        ])
    );

    // Deleted in one transaction with the counter, with no read before it; a second delete
    // finds nothing (404) at the same cost.
    let delete = &delete_webhook_subscription::ROUTE;
    for expected in [204, 404] {
        let (status, calls) = serve(&app, &recorder, delete, event(delete, &id, None)).await;
        assert_eq!(status, expected);
        assert_eq!(
            calls,
            counts(&[("TransactWriteItems", 1), ("UpdateItem", 1)])
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
