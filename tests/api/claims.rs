//! Claims with leases, through the API: what one claim takes no other is handed until its lease
//! ends or it is completed; another client may not complete it meanwhile; an abandoned claim
//! comes back; ten workers draining one queue export every invoice exactly once.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use ledgerdock_shared::domain::{InvoiceId, Scope};
use serde_json::{json, Value};

use ledgerdock_tests::*;

const CLAIMS: &str = "/v1/invoices/claims";

/// `POST /v1/invoices/claims` as `tenant` with `body`, asserting the 200: the ids claimed.
async fn claim(t: &TestStack, tenant: &Connector, body: Value) -> Vec<String> {
    let claimed = t.post(tenant, CLAIMS, &body).await.ok();
    claimed["invoiceIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn claimed_invoices_are_handed_to_no_other_claim_while_the_lease_lasts() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let ids: HashSet<String> = t
        .publish_many(a.company, 5)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    let first = claim(&t, &a, json!({"limit": 3, "leaseSeconds": 300})).await;
    let second = claim(&t, &a, json!({"limit": 3, "leaseSeconds": 300})).await;
    let third = claim(&t, &a, json!({})).await;
    assert_eq!((first.len(), second.len(), third.len()), (3, 2, 0));
    let all: HashSet<String> = first.iter().chain(&second).cloned().collect();
    assert_eq!(all, ids, "every invoice once");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_listing_still_shows_claimed_invoices() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, 2).await;
    assert_eq!(claim(&t, &a, json!({"limit": 2})).await.len(), 2);
    let listed = t.poll_all(&a, 100).await;
    assert_eq!(
        listed,
        ids.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn another_client_may_not_complete_or_reject_a_claimed_invoice_while_the_lease_lasts() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let b = t.client_of(a.company, &Scope::ALL).await;
    t.publish_many(a.company, 1).await;
    let claimed = claim(&t, &a, json!({"limit": 1})).await;
    let id: InvoiceId = claimed[0].parse().unwrap();
    for (path, body) in [
        (
            format!("/v1/invoices/{id}/complete"),
            json!({"externalId": "B-1"}),
        ),
        (
            format!("/v1/invoices/{id}/reject"),
            json!({"reason": "not ours"}),
        ),
    ] {
        let refused = t.post(&b, &path, &body).await.error(409, "CONFLICT");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains("claimed by another client"), "{message}");
    }
    let bulk = t
        .post(
            &b,
            "/v1/invoices/complete",
            &json!({"items": [{"invoiceId": id}]}),
        )
        .await
        .ok();
    assert_eq!(bulk["results"][0]["status"], 409, "{bulk}");
    t.assert_untouched(&a, id).await;
    // The claimant's own complete lands, and takes the claim with it.
    let done = t.complete(&a, id, &json!({"externalId": "A-1"})).await.ok();
    assert_eq!(done["status"], "EXPORTED");
    let stored = t.stored(a.company, id).await.unwrap();
    assert_eq!((stored.claimed_by, stored.claimed_until), (None, None));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_claim_is_handed_out_again_within_five_seconds_of_its_lease_ending() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let b = t.client_of(a.company, &[Scope::InvoicesWrite]).await;
    t.publish_many(a.company, 2).await;
    let abandoned = claim(&t, &a, json!({"limit": 2, "leaseSeconds": 30})).await;
    let lease_ends = Instant::now() + Duration::from_secs(30);
    assert!(
        claim(&t, &b, json!({})).await.is_empty(),
        "hidden meanwhile"
    );
    tokio::time::sleep_until(lease_ends.into()).await;
    let mut again = Vec::new();
    while again.len() < 2 && Instant::now() < lease_ends + Duration::from_secs(5) {
        again.extend(claim(&t, &b, json!({})).await);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (mut abandoned, mut again) = (abandoned, again);
    abandoned.sort();
    again.sort();
    assert_eq!(
        again, abandoned,
        "back within lease + 5 s, to the next claimant"
    );
    // Now b's: the first claimant's complete is refused.
    let id: InvoiceId = again[0].parse().unwrap();
    t.complete(&a, id, &json!({})).await.error(409, "CONFLICT");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_republished_invoice_keeps_its_claim() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let b = t.client_of(a.company, &Scope::ALL).await;
    let mut invoice = invoice_json(1, "2026-11-01T08:00:00Z");
    let id = t
        .publish_invoice(a.company, invoice.clone(), Vec::new())
        .await
        .unwrap();
    assert_eq!(claim(&t, &a, json!({"limit": 1})).await, [id.to_string()]);
    invoice["invoiceId"] = json!(id);
    invoice["invoiceNumber"] = json!("INV-AMENDED");
    t.publish_invoice(a.company, invoice, Vec::new())
        .await
        .unwrap();
    assert!(claim(&t, &b, json!({})).await.is_empty());
    t.complete(&b, id, &json!({})).await.error(409, "CONFLICT");
    let stored = t.stored(a.company, id).await.unwrap();
    assert_eq!(stored.invoice_number, "INV-AMENDED");
    assert_eq!(stored.claimed_by.as_deref(), Some(a.client_id.as_str()));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_claim_is_a_400_naming_the_field_and_claims_nothing() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let id = t.publish_many(a.company, 1).await[0];
    for (body, field) in [
        (json!({"limit": 0}), "limit"),
        (json!({"limit": 101}), "limit"),
        (json!({"limit": null}), "limit"),
        (json!({"limit": "5"}), "limit"),
        (json!({"leaseSeconds": 29}), "leaseSeconds"),
        (json!({"leaseSeconds": 3601}), "leaseSeconds"),
        (json!({"lease": 60}), "lease"),
    ] {
        t.post(&a, CLAIMS, &body).await.invalid(field);
    }
    let stored = t.stored(a.company, id).await.unwrap();
    assert_eq!(stored.claimed_by, None);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_workers_claiming_from_one_queue_of_10000_export_each_invoice_exactly_once() {
    let _turn = heavy_test().await;
    const WORKERS: usize = 10;
    const INVOICES: usize = 10_000;
    let t = TestStack::start_with(bench_options()).await;
    let a = t.unlimited_connector().await;
    let published: HashSet<InvoiceId> = t
        .publish_queue(a.company, INVOICES)
        .await
        .into_iter()
        .collect();
    let workers = (0..WORKERS).map(|worker| {
        let (t, a) = (&t, &a);
        async move {
            let mut exported = Vec::new();
            loop {
                let ids = claim(t, a, json!({"limit": 100, "leaseSeconds": 600})).await;
                if ids.is_empty() {
                    return exported;
                }
                let items: Vec<Value> = ids
                    .iter()
                    .map(|id| json!({"invoiceId": id, "externalId": format!("W{worker}-{id}")}))
                    .collect();
                let done = t
                    .post(a, "/v1/invoices/complete", &json!({ "items": items }))
                    .await
                    .ok();
                assert_eq!(done["succeeded"], ids.len(), "{done}");
                exported.extend(ids);
            }
        }
    });
    let exported: Vec<Vec<String>> = futures_util::future::join_all(workers).await;
    let mut handed: HashMap<String, usize> = HashMap::new();
    for id in exported.iter().flatten() {
        *handed.entry(id.clone()).or_default() += 1;
    }
    let twice: Vec<_> = handed.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "handed to two workers: {twice:?}");
    assert_eq!(handed.len(), INVOICES, "every invoice claimed");
    assert!(
        exported.iter().filter(|w| !w.is_empty()).count() > 1,
        "the work was shared"
    );
    // Each bulk complete above answered 200 for every item: each invoice EXPORTED once.
    let claimed: HashSet<InvoiceId> = handed.keys().map(|id| id.parse().unwrap()).collect();
    assert_eq!(claimed, published);
    assert!(t.poll_all(&a, 200).await.is_empty());
    t.stop().await;
}
