//! template.yaml's IAM against what the code really calls. One tour runs every function through
//! its paths on a stack that enforces the template's policies (each function signing as
//! itself), then checks two things: no call was denied, and every grant of every policy
//! allowed at least one call. An unused grant is named: either a path the tour lacks (add
//! it here) or a permission the function does not need (take it out of the template).
//! Nothing restates the policies by hand: the calls are recorded where the engines check them.

use std::time::Duration;

use ledgerdock_infra::dev::DevOptions;
use ledgerdock_shared::domain::webhook_signing::SigningSecret;
use ledgerdock_shared::domain::{DocumentFormat, Timestamp};
use ledgerdock_shared::features::webhooks::dispatch::Dispatcher;
use ledgerdock_tests::receiver::Receiver;
use ledgerdock_tests::*;
use serde_json::{json, Value};

/// Grants the local stack never exercises, each with the reason: (function or `*`, action).
const USED_ONLY_IN_AWS: &[(&str, &str, &str)] = &[
    (
        "webhook-fanout",
        "dynamodb:DescribeStream",
        "Lambda reads the table's stream with the fan-out's role; locally the capture plays the stream",
    ),
    ("webhook-fanout", "dynamodb:GetRecords", "as above"),
    ("webhook-fanout", "dynamodb:GetShardIterator", "as above"),
    ("webhook-fanout", "dynamodb:ListStreams", "as above"),
    (
        "*",
        "secretsmanager:GetSecretValue",
        "in AWS a paging function reads its continuation secret once per container; the dev stack hands it the secret as a value",
    ),
];

fn used_only_in_aws(function: &str, action: &str) -> bool {
    USED_ONLY_IN_AWS
        .iter()
        .any(|(f, a, _)| (*f == "*" || *f == function) && *a == action)
}

async fn status_of(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Publishes through the `publish-invoice` function, its soft copy put by the platform first.
async fn publish_through_the_function(t: &TestStack, tenant: &Connector, lines: usize) -> String {
    let mut invoice = invoice_json(lines, "2026-11-01T09:00:00Z");
    let id = ledgerdock_shared::domain::InvoiceId::new_random();
    invoice["invoiceId"] = json!(id.to_string());
    t.stack
        .s3
        .put_object()
        .bucket(&t.stack.app.config.bucket_name)
        .key(format!("documents/{}/{id}/pdf", tenant.company))
        .body(sample(DocumentFormat::Pdf).into())
        .send()
        .await
        .unwrap();
    let event = serde_json::from_value(json!({
        "companyId": tenant.company.to_string(),
        "invoice": invoice,
        "documents": [{"format": "PDF", "fileName": "invoice.pdf"}],
    }))
    .unwrap();
    ledgerdock_shared::handlers::invoices::publish_invoice::handle(
        &t.stack.functions.of("publish-invoice"),
        event,
    )
    .await
    .expect("publish-invoice may publish");
    id.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tour_of_every_function_is_never_denied_and_uses_every_grant_of_the_template() {
    let t = TestStack::start_with(DevOptions {
        upload_url_ttl: Duration::from_secs(1),
        import_upload_grace: Duration::from_secs(1),
        // The tour runs the import sweep itself, at the moments it needs.
        sweep_interval: Duration::from_secs(3600),
        ..options()
    })
    .await;
    let a = t.connector_all_scopes().await;
    let receiver = Receiver::start().await;
    use reqwest::Method;

    // Webhook subscriptions, every operation.
    let (status, created) = status_of(
        t.request_as(&a, Method::POST, "/v1/webhook-subscriptions")
            .header("Idempotency-Key", "tour-1")
            .json(&json!({"url": receiver.url, "events": ["invoice.exported", "invoice.rejected", "invoice.ready_for_export", "import_job.finished", "import_job.failed"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    receiver.trust(SigningSecret::parse(created["secret"].as_str().unwrap()).unwrap());
    let sub = format!(
        "/v1/webhook-subscriptions/{}",
        created["id"].as_str().unwrap()
    );
    for (method, path, body, expected) in [
        (
            Method::GET,
            "/v1/webhook-subscriptions".to_string(),
            None,
            200,
        ),
        (Method::GET, sub.clone(), None, 200),
        (
            Method::PATCH,
            sub.clone(),
            Some(json!({"description": "tour"})),
            200,
        ),
        (Method::POST, format!("{sub}/test"), Some(json!({})), 200),
        (Method::GET, format!("{sub}/deliveries"), None, 200),
    ] {
        let mut call = t.request_as(&a, method.clone(), &path);
        if let Some(body) = body {
            call = call.json(&body);
        }
        let (status, body) = status_of(call).await;
        assert_eq!(status, expected, "{method} {path}: {body}");
    }
    let (status, rotated) = status_of(
        t.request_as(&a, Method::POST, &format!("{sub}/rotate-secret"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    receiver.trust(SigningSecret::parse(rotated["secret"].as_str().unwrap()).unwrap());

    // Invoices: published by the function (twice, so a new line generation replaces the old),
    // then the poll, the detail, the soft copy, and every transition.
    let first = publish_through_the_function(&t, &a, 3).await;
    let mut published = vec![first.clone()];
    for _ in 0..4 {
        published.push(publish_through_the_function(&t, &a, 1).await);
    }
    let page = t.list_exportable(&a, 2, None).await.ok();
    let key = page["continuationKey"].as_str().unwrap().to_string();
    t.list_exportable(&a, 2, Some(&key)).await.ok();
    t.invoice(&a, &first).await.ok();
    t.fetch(&a, &format!("/v1/invoices/{first}/history"))
        .await
        .ok();
    let url = t.download_url(&a, &first, "PDF").await.ok()["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(t.http.get(&url).send().await.unwrap().status(), 200);
    t.complete(&a, &published[0], &json!({"externalId": "ERP-1"}))
        .await
        .ok();
    t.reject(&a, &published[1], &json!({"reason": "duplicate"}))
        .await
        .ok();
    t.post(
        &a,
        "/v1/invoices/complete",
        &json!({"items": [{"invoiceId": published[2]}]}),
    )
    .await
    .ok();
    t.post(
        &a,
        "/v1/invoices/reject",
        &json!({"items": [{"invoiceId": published[3], "reason": "wrong company"}]}),
    )
    .await
    .ok();

    // A claim of the last published invoice still in the queue (its complete comes later,
    // by the same client).
    let claimed = t
        .post(
            &a,
            "/v1/invoices/claims",
            &json!({"limit": 1, "leaseSeconds": 60}),
        )
        .await
        .ok();
    assert_eq!(claimed["invoiceIds"], json!([published[4]]), "{claimed}");

    // Sending again: what came while a subscription was disabled is recovered (written afresh
    // and queued), and one event is resent.
    let (status, body) = status_of(
        t.request_as(&a, Method::POST, "/v1/webhook-subscriptions")
            .json(&json!({"url": receiver.url, "events": ["invoice.ready_for_export"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    receiver.trust(SigningSecret::parse(body["secret"].as_str().unwrap()).unwrap());
    let again = format!("/v1/webhook-subscriptions/{}", body["id"].as_str().unwrap());
    t.patch(&a, &again, &json!({"enabled": false})).await.ok();
    let missed = t.publish_many(a.company, 1).await[0];
    t.patch(&a, &again, &json!({"enabled": true})).await.ok();
    let recovered = t
        .post(
            &a,
            &format!("{again}/recover"),
            &json!({"since": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(recovered.status, 202, "{}", recovered.text);
    let feed = t
        .stack
        .app
        .events
        .read_through(a.company, None, &[], 500, Timestamp::now())
        .await
        .unwrap();
    let told = feed
        .entries
        .iter()
        .find(|e| e.body.contains(&missed.to_string()))
        .expect("the missed invoice's event is in the feed");
    assert!(recovered.json()["eventIds"]
        .as_array()
        .unwrap()
        .contains(&json!(told.event_id)));
    let resent = t
        .post(
            &a,
            &format!("{again}/deliveries/{}/resend", told.event_id),
            &json!({}),
        )
        .await;
    assert_eq!(resent.status, 202, "{}", resent.text);

    // Imports: inline with an Idempotency-Key (and its replay), through an upload URL, one
    // whose file never comes, one whose notification is lost; suppliers read back.
    let inline = t
        .import_request()
        .bearer_auth(&a.token)
        .header("Lightyear-Company-ID", a.company.to_string())
        .header("Idempotency-Key", "tour-import")
        .json(&json!({"type": "SUPPLIER_CARDS", "records": supplier_records("T", 3)}));
    let job = t.start_import(&a, inline).await;
    let done = t.wait_for_job(&a, job["jobId"].as_str().unwrap()).await;
    assert_eq!(done["status"], "FINISHED", "{done}");
    t.fetch(&a, "/v1/suppliers?limit=2").await.ok();
    t.fetch(&a, "/v1/suppliers/T00001").await.ok();
    // The other master data: imported, a full sync deactivating one account, each read back.
    for (kind, records) in [
        (
            "GL_ACCOUNTS",
            json!([{"code": "4000", "name": "A", "type": "EXPENSE"},
                               {"code": "4100", "name": "B", "type": "EXPENSE"}]),
        ),
        (
            "TAX_CODES",
            json!([{"code": "S20", "name": "S", "rate": "20", "type": "INPUT"}]),
        ),
        (
            "TRACKING_CATEGORIES",
            json!([{"category": "Dept", "optionCode": "D1", "name": "D"}]),
        ),
        (
            "PURCHASE_ORDERS",
            json!([{"poNumber": "PO-1", "supplierExternalId": "T00001",
            "currency": "EUR", "issueDate": "2026-11-30", "status": "OPEN",
            "lines": [{"lineNumber": 1, "quantity": "1", "unitPrice": "1", "amount": "1",
                       "accountCode": "4000", "taxCode": "S20"}]}]),
        ),
    ] {
        let done = t
            .imported(&a, kind, records.as_array().unwrap(), json!({}))
            .await;
        assert_eq!(done["status"], "FINISHED", "{done}");
    }
    let synced = t
        .imported(
            &a,
            "GL_ACCOUNTS",
            &[json!({"code": "4000", "name": "A", "type": "EXPENSE"})],
            json!({"mode": "REPLACE"}),
        )
        .await;
    assert_eq!(synced["counts"]["deactivated"], 1, "{synced}");
    for path in [
        "/v1/gl-accounts",
        "/v1/gl-accounts/4000",
        "/v1/tax-codes",
        "/v1/tax-codes/S20",
        "/v1/tracking-categories",
        "/v1/tracking-categories/Dept",
        "/v1/purchase-orders",
        "/v1/purchase-orders/PO-1",
    ] {
        t.fetch(&a, path).await.ok();
    }
    let csv = supplier_csv("U", 2);
    let upload = |size: usize| {
        t.import_request()
            .bearer_auth(&a.token)
            .header("Lightyear-Company-ID", a.company.to_string())
            .json(&json!({"type": "SUPPLIER_CARDS", "contentType": "text/csv", "contentLength": size}))
    };
    let never = t.start_import(&a, upload(100)).await;
    t.stack
        .delivering_imports
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let lost = t.start_import(&a, upload(csv.len())).await;
    assert_eq!(
        t.put_file(
            lost["upload"]["url"].as_str().unwrap(),
            "text/csv",
            csv.into_bytes()
        )
        .await,
        200
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    t.stack
        .delivering_imports
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let swept = ledgerdock_shared::handlers::imports::sweep_import_jobs::handle(
        &t.stack.functions.of("sweep-import-jobs"),
    )
    .await
    .expect("the sweep may do its work");
    assert_eq!((swept.failed, swept.announced_again), (1, 1), "{swept:?}");
    let lost = t.wait_for_job(&a, lost["jobId"].as_str().unwrap()).await;
    assert_eq!(lost["status"], "FINISHED", "{lost}");
    assert_eq!(
        t.job(&a, never["jobId"].as_str().unwrap()).await["status"],
        "FAILED"
    );

    // A client whose grant is narrowed behind the CLI's back (no invoices.read any more): the
    // sweep disables its subscription with a retry come due, the fan-out the one that wants
    // the next event, each with the notice ending its log.
    let b = t.connector_all_scopes().await;
    let b_receiver = Receiver::start().await;
    b_receiver.answer(500);
    let subscribe_b = |events: &[&str]| {
        status_of(
            t.request_as(&b, Method::POST, "/v1/webhook-subscriptions")
                .json(&json!({"url": b_receiver.url, "events": events})),
        )
    };
    assert_eq!(subscribe_b(&["invoice.exported"]).await.0, 201);
    let b_invoice = t.publish_many(b.company, 1).await[0];
    t.complete(&b, b_invoice, &json!({})).await.ok();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while b_receiver.received().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t.stack
        .app
        .grants
        .put(
            &b.client_id,
            b.company,
            &[ledgerdock_shared::domain::Scope::WebhooksManage],
        )
        .await
        .unwrap();

    // Webhook deliveries: the receiver fails, so the consumer holds the subscription; the
    // sweep queues the probe when due; the receiver recovers and what was held is sent.
    let heard = receiver.received().len();
    receiver.answer(500);
    t.complete(&a, &published[4], &json!({})).await.ok();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while receiver.received().len() == heard && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    receiver.answer(200);
    let sweeper = Dispatcher::of(&t.stack.functions.of("dispatch-webhooks")).unwrap();
    let later = Timestamp::now().plus(Duration::from_secs(3600));
    sweeper
        .sweep(later)
        .await
        .expect("the sweep may do its work");
    // Another client, narrowed the same way, has nothing due: the next event it wanted
    // reaches the fan-out, which disables it.
    let c = t.connector_all_scopes().await;
    let (status, body) = status_of(
        t.request_as(&c, Method::POST, "/v1/webhook-subscriptions")
            .json(&json!({"url": b_receiver.url, "events": ["invoice.ready_for_export"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    t.stack
        .app
        .grants
        .put(
            &c.client_id,
            c.company,
            &[ledgerdock_shared::domain::Scope::WebhooksManage],
        )
        .await
        .unwrap();
    t.publish_many(c.company, 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    for tenant in [&b, &c] {
        let listed = t.fetch(tenant, "/v1/webhook-subscriptions").await.ok();
        assert!(
            listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["enabled"] == false),
            "{listed}"
        );
    }

    // The old secret retired, and the subscription deleted.
    let (status, body) =
        status_of(t.request_as(&a, Method::DELETE, &format!("{sub}/secrets/previous"))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = status_of(t.request_as(&a, Method::DELETE, &sub)).await;
    assert_eq!(status, 204, "{body}");
    t.fetch(
        &a,
        &format!("/v1/import-jobs/{}", job["jobId"].as_str().unwrap()),
    )
    .await
    .ok();
    // The event feed, read as a connector catching up.
    t.fetch(&a, "/v1/events?limit=5").await.ok();

    let iam = t.stack.iam.clone();
    let denied: Vec<String> = iam
        .denied()
        .iter()
        .map(|d| format!("{:?}: {} ({})", d.caller, d.needed.action, d.reason))
        .collect();
    assert!(
        denied.is_empty(),
        "calls the template denies:\n{}",
        denied.join("\n")
    );
    let mut used = iam.used();
    // The second stack uses the same table, so its grants (their ARNs) are the same ones.
    let table = t.stack.app.config.table_name.clone();
    t.stop().await;
    used.extend(an_inline_import_s3_refuses(&table).await);
    let unused: Vec<String> = iam
        .grants()
        .into_iter()
        .filter(|g| !used.contains(g) && !used_only_in_aws(&g.function, &g.action))
        .map(|g| g.to_string())
        .collect();
    assert!(
        unused.is_empty(),
        "grants no call of the tour used (a path to add here, or a permission to drop):\n{}",
        unused.join("\n")
    );
}

/// The path that frees an Idempotency-Key: S3 refuses to store an inline import (here because
/// `start-import-job` is run without `s3:PutObject`). The job fails at once and the answer is
/// a 503, and a retry with the same key is a new attempt, not the failed job replayed.
/// Returns the grants its calls used.
async fn an_inline_import_s3_refuses(
    table: &str,
) -> std::collections::BTreeSet<ledgerdock_infra::dev::iam::Grant> {
    use ledgerdock_infra::dev::iam::policy::without_action;
    use ledgerdock_infra::dev::stream_filter::TEMPLATE;
    let t = TestStack::start_with(DevOptions {
        template: Some(without_action(TEMPLATE, "start-import-job", "s3:PutObject").unwrap()),
        table_name: table.to_string(),
        ..options()
    })
    .await;
    let a = t.connector_all_scopes().await;
    for _ in 0..2 {
        let answer = t
            .import_request()
            .bearer_auth(&a.token)
            .header("Lightyear-Company-ID", a.company.to_string())
            .header("Idempotency-Key", "refused-by-s3")
            .json(&json!({"type": "SUPPLIER_CARDS", "records": supplier_records("R", 2)}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 503);
        assert!(answer.headers().get("idempotent-replayed").is_none());
    }
    let denied = t.stack.iam.denied();
    assert_eq!(denied.len(), 2, "{denied:?}");
    assert!(denied.iter().all(|d| d.needed.action == "s3:PutObject"));
    let used = t.stack.iam.used();
    t.stop().await;
    used
}
