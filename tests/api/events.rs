//! The event feed, `GET /v1/events`, read as a connector reads it: from the start, then on from
//! its cursor; only its own company's events, only the types it may read; bad input named.

use std::collections::HashSet;

use ledgerdock_shared::domain::Scope;
use serde_json::json;

use ledgerdock_tests::*;

fn ready(ids: &[ledgerdock_shared::domain::InvoiceId]) -> Vec<(String, String)> {
    ids.iter()
        .map(|id| ("invoice.ready_for_export".to_string(), id.to_string()))
        .collect()
}

#[tokio::test]
async fn a_reader_from_the_start_sees_every_event_once_in_order_then_reads_on_from_its_cursor() {
    let t = TestStack::start_with(settling_fast()).await;
    let a = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, 3).await;
    t.complete(&a, ids[0], &json!({"externalId": "ERP-1"}))
        .await
        .ok();
    t.reject(&a, ids[1], &json!({"reason": "Duplicate"}))
        .await
        .ok();

    let first = t.read_feed(&a, None, 5, 2).await;
    let mut expected = ready(&ids);
    expected.push(("invoice.exported".into(), ids[0].to_string()));
    expected.push(("invoice.rejected".into(), ids[1].to_string()));
    assert_eq!(first.told(), expected, "oldest first, each once");
    for event in &first.events {
        assert_eq!(event["companyId"], a.company.to_string());
        assert!(event["cursor"].is_string());
    }

    let more = t.publish_many(a.company, 2).await;
    let next = t.read_feed(&a, Some(&first.cursor), 2, 100).await;
    assert_eq!(next.told(), ready(&more), "only what came after the cursor");
    t.stop().await;
}

#[tokio::test]
async fn an_events_own_cursor_reads_on_after_that_event() {
    let t = TestStack::start_with(settling_fast()).await;
    let a = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, 4).await;
    let all = t.read_feed(&a, None, 4, 100).await;
    let second = all.events[1]["cursor"].as_str().unwrap();
    let rest = t.read_feed(&a, Some(second), 2, 100).await;
    assert_eq!(rest.told(), ready(&ids[2..]));
    t.stop().await;
}

#[tokio::test]
async fn a_company_reads_only_its_own_events() {
    let t = TestStack::start_with(settling_fast()).await;
    let (a, b) = (
        t.connector_all_scopes().await,
        t.connector_all_scopes().await,
    );
    let theirs = t.publish_many(a.company, 2).await;
    let ours = t.publish_many(b.company, 1).await;
    t.read_feed(&a, None, 2, 100).await;
    let read = t.read_feed(&b, None, 1, 100).await;
    assert_eq!(read.told(), ready(&ours));
    let seen: HashSet<String> = read.told().into_iter().map(|(_, id)| id).collect();
    assert!(theirs.iter().all(|id| !seen.contains(&id.to_string())));
    t.stop().await;
}

#[tokio::test]
async fn a_token_narrowed_to_imports_read_reads_only_import_job_events() {
    let t = TestStack::start_with(settling_fast()).await;
    let a = t.connector_all_scopes().await;
    t.publish_many(a.company, 2).await;
    let job = t.import_json(&a, &supplier_records("FEED-", 2)).await;
    let job_id = job_id(&job).to_string();
    assert_eq!(t.wait_for_job(&a, &job_id).await["status"], "FINISHED");
    // The whole grant reads both kinds...
    let everything = t.read_feed(&a, None, 3, 100).await;
    assert_eq!(everything.events.len(), 3);
    // ...a token narrowed to one scope reads its kind alone, and is told why not the other.
    let narrowed = Connector {
        token: t
            .token(
                &a.client_id,
                &a.client_secret,
                Some("ledgerdock/imports.read"),
            )
            .await,
        ..a.clone()
    };
    let read = t.read_feed(&narrowed, None, 1, 100).await;
    assert_eq!(
        read.told(),
        [("import_job.finished".to_string(), job_id.clone())]
    );
    let refused = t
        .events_page(&narrowed, "types=invoice.ready_for_export")
        .await
        .error(403, "FORBIDDEN");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("ledgerdock/invoices.read"));
    t.stop().await;
}

#[tokio::test]
async fn a_grant_without_a_read_scope_of_the_feed_is_refused() {
    let t = TestStack::start_with(settling_fast()).await;
    let writer = t
        .connector(&[Scope::InvoicesWrite, Scope::WebhooksManage])
        .await;
    let refused = t.events_page(&writer, "").await.error(403, "FORBIDDEN");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("ledgerdock/invoices.read or ledgerdock/imports.read"),
        "{message}"
    );
    t.stop().await;
}

#[tokio::test]
async fn a_types_filter_serves_only_those_types_and_reads_on_past_the_others() {
    let t = TestStack::start_with(settling_fast()).await;
    let a = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, 6).await;
    t.complete(&a, ids[5], &json!({"externalId": "ERP-6"}))
        .await
        .ok();
    // One event read per page: five pages hold nothing, and say there is more.
    let read = t
        .read_feed_of(&a, "types=invoice.exported,invoice.rejected", 1, 1)
        .await;
    assert_eq!(
        read.told(),
        [("invoice.exported".to_string(), ids[5].to_string())]
    );
    t.stop().await;
}

#[tokio::test]
async fn a_bad_cursor_type_or_limit_is_a_400_naming_it() {
    let t = TestStack::start_with(settling_fast()).await;
    let a = t.connector_all_scopes().await;
    for (query, field) in [
        ("after=not-a-cursor", "after"),
        ("after=1765100000000000%23evt_1", "after"),
        ("types=invoice.paid", "types[0]"),
        ("types=invoice.exported,invoice.exported", "types[1]"),
        ("types=", "types[0]"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=x", "cursor"),
    ] {
        t.events_page(&a, query).await.invalid(field);
    }
    t.stop().await;
}
