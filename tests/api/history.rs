//! An invoice's history, `GET /v1/invoices/{id}/history`: every change a scripted run makes
//! appears, each with its client and request, within a second; a refused or repeated call adds
//! nothing; another company's invoice has none here.

use std::time::Duration;

use ledgerdock_shared::domain::{InvoiceId, Scope};
use serde_json::json;

use ledgerdock_tests::*;

/// The request id an answer names.
fn request_id(reply: &Reply) -> String {
    reply.headers["x-request-id"].to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_change_a_scripted_run_makes_appears_with_its_client_and_request_within_a_second() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let b = t.client_of(a.company, &Scope::ALL).await;
    let mut slowest = Duration::ZERO;
    let mut expected: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    let mut invoice = invoice_json(1, "2026-11-01T08:00:00Z");
    let id = t
        .publish_invoice(a.company, invoice.clone(), Vec::new())
        .await
        .unwrap();
    invoice["invoiceId"] = json!(id);
    expected.push(("published".into(), None, None));

    // Each step, then its entry within a second.
    let mut step = |what: &str, by: Option<&Connector>, reply: Option<Reply>| {
        let request = reply.as_ref().map(request_id);
        expected.push((what.to_string(), by.map(|c| c.client_id.clone()), request));
        expected.len()
    };
    let (_, took) = t.history_of(&a, id, 1).await;
    slowest = slowest.max(took);

    invoice["invoiceNumber"] = json!("INV-AMENDED");
    t.publish_invoice(a.company, invoice.clone(), Vec::new())
        .await
        .unwrap();
    let n = step("republished", None, None);
    slowest = slowest.max(t.history_of(&a, id, n).await.1);

    let claim = t
        .post(
            &a,
            "/v1/invoices/claims",
            &json!({"limit": 1, "leaseSeconds": 60}),
        )
        .await;
    assert_eq!(claim.json()["invoiceIds"], json!([id]));
    let n = step("claimed", Some(&a), Some(claim));
    slowest = slowest.max(t.history_of(&a, id, n).await.1);

    let rejected = t
        .reject(
            &a,
            id,
            &json!({"reason": "Wrong supplier", "code": "SUPPLIER"}),
        )
        .await;
    assert_eq!(rejected.status, 200);
    let n = step("rejected", Some(&a), Some(rejected));
    slowest = slowest.max(t.history_of(&a, id, n).await.1);

    t.publish_invoice(a.company, invoice, Vec::new())
        .await
        .unwrap();
    let n = step("republished", None, None);
    slowest = slowest.max(t.history_of(&a, id, n).await.1);

    let completed = t.complete(&b, id, &json!({"externalId": "ERP-77"})).await;
    assert_eq!(completed.status, 200);
    let n = step("completed", Some(&b), Some(completed));
    let (entries, took) = t.history_of(&a, id, n).await;
    slowest = slowest.max(took);

    let told: Vec<(String, Option<String>, Option<String>)> = entries
        .iter()
        .map(|e| {
            (
                e["change"].as_str().unwrap().to_string(),
                e["clientId"].as_str().map(str::to_string),
                e["requestId"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(told, expected, "every change, once, in order");
    assert!(entries[2]["claimedUntil"].is_string());
    assert_eq!(entries[3]["rejection"]["reason"], "Wrong supplier");
    assert_eq!(entries[3]["status"], "REJECTED");
    assert_eq!(entries[5]["export"]["externalId"], "ERP-77");
    assert!(
        slowest < Duration::from_secs(1),
        "each entry appeared within a second (slowest {slowest:?})"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_or_repeated_call_adds_nothing_to_the_history() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let b = t.client_of(a.company, &Scope::ALL).await;
    let id = t.publish_many(a.company, 1).await[0];
    t.post(&a, "/v1/invoices/claims", &json!({"limit": 1}))
        .await
        .ok();
    t.complete(&b, id, &json!({})).await.error(409, "CONFLICT");
    for _ in 0..2 {
        t.complete(&a, id, &json!({"externalId": "E-1"})).await.ok();
    }
    t.reject(&a, id, &json!({"reason": "late"}))
        .await
        .error(409, "INVALID_STATE_TRANSITION");
    t.history_of(&a, id, 3).await;
    // Time for any entry a refused or repeated call made to show (none should).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let entries = t.history(&a, id).await;
    let changes: Vec<&str> = entries
        .iter()
        .map(|e| e["change"].as_str().unwrap())
        .collect();
    assert_eq!(
        changes,
        ["published", "claimed", "completed"],
        "{entries:?}"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn another_companys_invoice_or_none_at_all_is_not_found_and_a_bad_id_is_named() {
    let t = TestStack::start().await;
    let (a, b) = (
        t.connector_all_scopes().await,
        t.connector_all_scopes().await,
    );
    let theirs = t.publish_many(b.company, 1).await[0];
    t.history_of(&b, theirs, 1).await;
    for invoice in [theirs, InvoiceId::new_random()] {
        t.fetch(&a, &format!("/v1/invoices/{invoice}/history"))
            .await
            .error(404, "NOT_FOUND");
    }
    t.fetch(&a, "/v1/invoices/not-an-id/history")
        .await
        .invalid("invoiceId");
    t.stop().await;
}
