//! Bulk complete and reject: up to 100 invoices in one call, each item settled as its single
//! call would settle it, in its own result, in request order.

use ledgerdock_shared::domain::{InvoiceId, InvoiceStatus, MAX_BULK_ITEMS};
use ledgerdock_tests::*;
use serde_json::{json, Value};

/// `POST /v1/invoices/complete` or `/v1/invoices/reject` (`action`) with `items`.
async fn bulk(t: &TestStack, tenant: &Connector, action: &str, items: Value) -> Reply {
    t.post(
        tenant,
        &format!("/v1/invoices/{action}"),
        &json!({ "items": items }),
    )
    .await
}

/// Each result's invoice id and status, in order.
fn outcomes(body: &Value) -> Vec<(String, u64)> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["invoiceId"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Six items of company A's connector: three ready invoices (one with an export URL), one
/// it rejected, one it completed before (`earlier` is that answer), another company's
/// invoice and one nobody has.
struct MixedBatch {
    a: Connector,
    ids: Vec<InvoiceId>,
    theirs: (Connector, InvoiceId),
    earlier: Value,
    items: Value,
}

async fn mixed_batch(t: &TestStack) -> MixedBatch {
    let (a, b) = (
        t.connector_all_scopes().await,
        t.connector_all_scopes().await,
    );
    let ids = t.publish_many(a.company, 4).await;
    let theirs = t.publish_many(b.company, 1).await[0];
    t.reject(&a, ids[1], &json!({"reason": "duplicate"}))
        .await
        .ok();
    let earlier = t
        .complete(&a, ids[2], &json!({"externalId": "E-2"}))
        .await
        .ok();
    let items = json!([
        {"invoiceId": ids[0], "externalId": "E-0", "externalUrl": "https://erp.example/0"},
        {"invoiceId": ids[1]},
        {"invoiceId": ids[2], "externalId": "E-2"},
        {"invoiceId": theirs},
        {"invoiceId": InvoiceId::new_random()},
        {"invoiceId": ids[3]},
    ]);
    MixedBatch {
        a,
        ids,
        theirs: (b, theirs),
        earlier,
        items,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_complete_settles_each_item_as_its_single_call_would_in_request_order() {
    let t = TestStack::start().await;
    let batch = mixed_batch(&t).await;
    let body = bulk(&t, &batch.a, "complete", batch.items.clone())
        .await
        .ok();
    let statuses: Vec<u64> = outcomes(&body)
        .into_iter()
        .map(|(_, status)| status)
        .collect();
    assert_eq!(statuses, [200, 409, 200, 404, 404, 200]);
    let ids: Vec<&Value> = batch
        .items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["invoiceId"])
        .collect();
    let answered: Vec<&Value> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["invoiceId"])
        .collect();
    assert_eq!(answered, ids, "in request order");
    assert_eq!(
        (body["succeeded"].as_u64(), body["failed"].as_u64()),
        (Some(3), Some(3))
    );
    // Each result is what the single call answers: the export state, or its error object.
    let results = &body["results"];
    assert_eq!(results[0]["invoice"]["status"], "EXPORTED");
    assert_eq!(results[0]["invoice"]["export"]["externalId"], "E-0");
    assert_eq!(
        results[0]["invoice"]["export"]["externalUrl"],
        "https://erp.example/0"
    );
    assert_eq!(results[1]["error"]["code"], "INVALID_STATE_TRANSITION");
    assert_eq!(results[1]["error"]["currentStatus"], "REJECTED");
    assert_eq!(
        results[2]["invoice"], batch.earlier,
        "a repeat answers with the stored record"
    );
    for n in [3, 4] {
        assert_eq!(results[n]["error"]["code"], "NOT_FOUND");
        assert!(results[n].get("invoice").is_none());
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn what_a_bulk_complete_answers_is_stored_and_a_retry_of_it_answers_the_same() {
    let t = TestStack::start().await;
    let MixedBatch {
        a,
        ids,
        theirs,
        items,
        ..
    } = mixed_batch(&t).await;
    let body = bulk(&t, &a, "complete", items.clone()).await.ok();
    let (exported, rejected) = (InvoiceStatus::Exported, InvoiceStatus::Rejected);
    for (n, status) in [(0, exported), (1, rejected), (2, exported), (3, exported)] {
        assert_eq!(t.stored(a.company, ids[n]).await.unwrap().status, status);
    }
    // The other company's invoice is untouched.
    t.assert_untouched(&theirs.0, theirs.1).await;
    assert!(t.poll_all(&a, 100).await.is_empty());
    // The whole call again (a retry after a lost answer): the same answers, nothing new.
    let again = bulk(&t, &a, "complete", items).await.ok();
    assert_eq!(again["results"], body["results"]);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_reject_keeps_each_reason_and_refuses_exported_invoices_per_item() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, 3).await;
    t.complete(&a, ids[2], &json!({})).await.ok();
    let body = bulk(
        &t,
        &a,
        "reject",
        json!([
            {"invoiceId": ids[0], "reason": "  No PO  ", "code": "PO_MISSING"},
            {"invoiceId": ids[1], "reason": "Duplicate"},
            {"invoiceId": ids[2], "reason": "Too late"},
        ]),
    )
    .await
    .ok();
    let results = &body["results"];
    assert_eq!(results[0]["invoice"]["rejection"]["reason"], "No PO");
    assert_eq!(results[0]["invoice"]["rejection"]["code"], "PO_MISSING");
    assert_eq!(results[1]["invoice"]["status"], "REJECTED");
    assert_eq!(results[2]["status"], 409);
    assert_eq!(results[2]["error"]["currentStatus"], "EXPORTED");
    assert_eq!(
        t.stored(a.company, ids[2]).await.unwrap().status,
        InvoiceStatus::Exported
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_bulk_body_is_one_400_naming_every_bad_item_and_changes_nothing() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, 2).await;
    let many: Vec<Value> = (0..=MAX_BULK_ITEMS)
        .map(|_| json!({"invoiceId": InvoiceId::new_random()}))
        .collect();
    let cases: [(&str, Value, &[&str]); 8] = [
        (
            "complete",
            json!([{"invoiceId": ids[0]}, {"invoiceId": ids[0].to_string().to_uppercase()}]),
            &["items[1].invoiceId"],
        ),
        (
            "complete",
            json!([{"invoiceId": ids[0]}, {"externalId": "E-1"}, {"invoiceId": ids[1], "externalUrl": "ftp://x"}]),
            &["items[2].externalUrl"],
        ),
        (
            "complete",
            json!([{"invoiceId": ids[0]}, {"externalId": "E-1"}]),
            &["items[1].invoiceId"],
        ),
        (
            "complete",
            json!([{"invoiceId": "INV-1"}]),
            &["items[0].invoiceId"],
        ),
        (
            "complete",
            json!([{"invoiceId": ids[0], "status": "EXPORTED"}]),
            &["items[0].status"],
        ),
        ("complete", json!([]), &["items"]),
        ("complete", Value::Array(many), &["items"]),
        (
            "reject",
            json!([{"invoiceId": ids[0], "reason": "r"}, {"invoiceId": ids[1]}, {"reason": "r"}]),
            &["items[1].reason", "items[2].invoiceId"],
        ),
    ];
    for (action, items, fields) in cases {
        let body = bulk(&t, &a, action, items.clone()).await.invalid(fields[0]);
        let named: Vec<&str> = body["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{action} {items}");
    }
    // Not an object, no items, or something besides items.
    for body in [
        json!([{"invoiceId": ids[0]}]),
        json!({}),
        json!({"items": [], "all": true}),
    ] {
        let reply = t.post(&a, "/v1/invoices/complete", &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
    }
    for id in &ids {
        assert_eq!(
            t.stored(a.company, *id).await.unwrap().status,
            InvoiceStatus::ReadyForExport
        );
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_bulk_call_at_every_field_s_longest_is_accepted_and_answered_within_lambda_limits() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, MAX_BULK_ITEMS).await;
    // Four-byte characters throughout: the most bytes each field can take.
    let wide = "\u{1D11E}";
    let url = format!("https://{}", wide.repeat(2048 - 8));
    let external_id = wide.repeat(255);
    let items: Vec<Value> = ids
        .iter()
        .map(|id| json!({"invoiceId": id, "externalId": external_id, "externalUrl": url}))
        .collect();
    let request_bytes = json!({ "items": items }).to_string().len();
    assert!(request_bytes > 900_000, "{request_bytes}");
    let reply = bulk(&t, &a, "complete", Value::Array(items)).await;
    // As the Lambda response carries it: the body as one JSON string.
    let carried = serde_json::to_string(&reply.text).unwrap().len();
    assert!(carried < 6_000_000, "{carried} bytes");
    let body = reply.ok();
    assert_eq!(body["succeeded"], MAX_BULK_ITEMS);
    assert_eq!(body["results"][99]["invoice"]["export"]["externalUrl"], url);
    t.stop().await;
}
