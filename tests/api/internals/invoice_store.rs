//! The invoice store driven directly: the bulk calls' concurrent transitions against a
//! DynamoDB that stops answering, settled by their deadline.

use ledgerdock_shared::domain::InvoiceId;
use ledgerdock_tests::*;

/// `tenant`'s client acting in one request of its own.
fn actor(tenant: &Connector) -> ledgerdock_shared::domain::Actor {
    ledgerdock_shared::domain::Actor {
        client_id: tenant.client_id.clone(),
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_call_on_a_hung_dynamodb_answers_every_unsettled_item_503_by_its_deadline() {
    use ledgerdock_shared::domain::Transition;
    use ledgerdock_shared::domain::{ExportRecord, Timestamp};
    use std::time::{Duration, Instant};
    // The stack under test reaches its DynamoDB through a proxy that can be made to hang.
    let (t, proxy, backing) = TestStack::behind_stalling_proxy().await;
    let a = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, 40).await;
    let transitions = |ids: &[InvoiceId]| {
        ids.iter()
            .map(|id| {
                let record = ExportRecord {
                    exported_at: Timestamp::now(),
                    external_id: None,
                    external_url: None,
                };
                (*id, Transition::Complete(record))
            })
            .collect()
    };

    proxy.stall();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    let results = t
        .stack
        .app
        .invoices
        .transition_each(a.company, transitions(&ids), &actor(&a), deadline)
        .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(3),
        "answered after {elapsed:?}"
    );
    assert_eq!(results.iter().map(|r| r.0).collect::<Vec<_>>(), ids);
    for (id, result) in &results {
        let error = result.as_ref().expect_err("nothing can settle");
        assert_eq!(error.status().as_u16(), 503, "{id}: {error}");
        assert_eq!(error.code(), "UNAVAILABLE");
    }
    t.stop().await;
    backing.stop().await;
}
