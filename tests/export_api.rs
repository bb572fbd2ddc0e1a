//! The export path as a connector drives it: poll, read, download, complete or reject.

use std::collections::HashSet;

use ledgerdock_shared::domain::{DocumentFormat, InvoiceStatus};
use ledgerdock_tests::*;
use serde_json::json;

#[tokio::test]
async fn full_poll_pages_in_order_and_ends_with_null_exactly_when_done() {
    let t = TestStack::start().await;
    let a = t.tenant_all_scopes().await;
    // Published out of time order: the queue still lists by receivedAt.
    let late = t
        .publish(a.company, 1, "2026-11-03T10:00:00Z", &[DocumentFormat::Pdf])
        .await;
    let early = t
        .publish(a.company, 1, "2026-11-01T10:00:00Z", &[DocumentFormat::Pdf])
        .await;
    let mid: Vec<_> = t.publish_many(a.company, 4).await; // 2026-11-01T08:00..08:03
    let expected: Vec<String> = mid
        .iter()
        .chain([&early, &late])
        .map(|id| id.to_string())
        .collect();

    // 6 items, limit 3: exactly two pages, and the second carries a null key.
    let page1 = expect_ok(
        t.get(&a, "/v1/invoices/exportable?limit=3")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page1["items"].as_array().unwrap().len(), 3);
    let key = page1["continuationKey"]
        .as_str()
        .expect("more follow")
        .to_string();
    let page2 = expect_ok(
        t.get(
            &a,
            &format!("/v1/invoices/exportable?limit=3&continuationKey={key}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 3);
    assert!(
        page2["continuationKey"].is_null(),
        "nothing is left, so the key is null"
    );

    let all = t.poll_all(&a, 3).await;
    assert_eq!(all, expected);
    // Default limit covers everything here.
    let default = expect_ok(t.get(&a, "/v1/invoices/exportable").send().await.unwrap()).await;
    assert_eq!(default["items"].as_array().unwrap().len(), 6);
    assert!(default["continuationKey"].is_null());

    // Another company sees none of it.
    let b = t.tenant_all_scopes().await;
    let other = expect_ok(t.get(&b, "/v1/invoices/exportable").send().await.unwrap()).await;
    assert_eq!(other, json!({"items": [], "continuationKey": null}));
    t.stop().await;
}

#[tokio::test]
async fn paging_while_completing_and_rejecting_between_pages_sees_each_ready_invoice_once() {
    let t = TestStack::start().await;
    let a = t.tenant_all_scopes().await;
    let ids: Vec<String> = t
        .publish_many(a.company, 12)
        .await
        .iter()
        .map(|i| i.to_string())
        .collect();

    let mut seen = Vec::new();
    let mut key: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &key {
            Some(k) => format!("/v1/invoices/exportable?limit=4&continuationKey={k}"),
            None => "/v1/invoices/exportable?limit=4".to_string(),
        };
        let page = expect_ok(t.get(&a, &path).send().await.unwrap()).await;
        pages += 1;
        let items: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().into())
            .collect();
        // Export half of what this page returned before asking for the next.
        for id in items.iter().step_by(2) {
            expect_ok(
                t.post_json(&a, &format!("/v1/invoices/{id}/complete"), &json!({}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
        }
        // And reject one invoice the poll has not reached yet: it must simply not appear.
        if pages == 1 {
            let ahead = &ids[10];
            expect_ok(
                t.post_json(
                    &a,
                    &format!("/v1/invoices/{ahead}/reject"),
                    &json!({"reason": "duplicate"}),
                )
                .send()
                .await
                .unwrap(),
            )
            .await;
        }
        seen.extend(items);
        match page["continuationKey"].as_str() {
            Some(k) => key = Some(k.into()),
            None => break,
        }
    }
    let expected: Vec<String> = ids.iter().filter(|id| *id != &ids[10]).cloned().collect();
    assert_eq!(
        seen, expected,
        "every invoice that stayed ready, exactly once, in order"
    );
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());

    // The next poll starts over and sees only what is still ready.
    let next_poll = t.poll_all(&a, 4).await;
    assert_eq!(next_poll.len(), 12 - 1 - 6);
    t.stop().await;
}

#[tokio::test]
async fn detail_returns_header_lines_and_reconciled_totals_even_with_1000_lines() {
    let t = TestStack::start().await;
    let a = t.tenant_all_scopes().await;
    let id = t
        .publish(
            a.company,
            1000,
            "2026-11-01T09:00:00Z",
            &[DocumentFormat::Pdf, DocumentFormat::Png],
        )
        .await;
    let inv = expect_ok(
        t.get(&a, &format!("/v1/invoices/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(inv["invoiceId"], id.to_string());
    assert_eq!(inv["companyId"], a.company.to_string());
    assert_eq!(inv["status"], "READY_FOR_EXPORT");
    assert_eq!(inv["documentType"], "INVOICE");
    assert_eq!(inv["receivedAt"], "2026-11-01T09:00:00.000Z");
    assert_eq!(inv["supplier"]["name"], "Acme Ltd");
    assert_eq!(inv["subtotal"], "20000.00");
    assert_eq!(inv["taxTotal"], "2000.00");
    assert_eq!(inv["total"], "22000.00");
    assert!(inv["export"].is_null() && inv["rejection"].is_null());
    let lines = inv["lineItems"].as_array().unwrap();
    assert_eq!(lines.len(), 1000);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["lineNumber"], i + 1);
    }
    assert_eq!(lines[999]["amount"], "20.00");
    assert_eq!(
        lines[0]["trackingCategories"],
        json!([{"name": "Region", "option": "North"}])
    );
    assert_eq!(inv["documents"][0]["format"], "PDF");
    assert_eq!(inv["documents"][1]["contentType"], "image/png");
    assert_eq!(
        inv["documents"][1]["sizeBytes"],
        sample(DocumentFormat::Png).len()
    );
    t.stop().await;
}

#[tokio::test]
async fn publishing_unreconciled_totals_fails_naming_the_mismatch_and_stores_nothing() {
    let t = TestStack::start().await;
    let a = t.tenant_all_scopes().await;
    let mut invoice = invoice_json(3, "2026-11-01T09:00:00Z");
    invoice["taxTotal"] = json!("7.00");
    invoice["total"] = json!("67.00");
    let invoice: ledgerdock_shared::domain::NewInvoice = serde_json::from_value(invoice).unwrap();
    let err =
        ledgerdock_infra::publish::publish_with_files(&t.stack.app, a.company, invoice, vec![])
            .await
            .unwrap_err();
    match err {
        ledgerdock_shared::ApiError::Validation { details, .. } => {
            assert_eq!(details[0].field, "taxTotal");
            assert!(
                details[0].message.contains("6.00"),
                "{}",
                details[0].message
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(t.poll_all(&a, 10).await.is_empty());
    t.stop().await;
}

#[tokio::test]
async fn download_urls_serve_each_format_byte_for_byte_and_refuse_tampering() {
    let t = TestStack::start().await;
    let a = t.tenant_all_scopes().await;
    let formats = [
        DocumentFormat::Pdf,
        DocumentFormat::Jpeg,
        DocumentFormat::Png,
        DocumentFormat::Tiff,
    ];
    let id = t
        .publish(a.company, 2, "2026-11-01T09:00:00Z", &formats)
        .await;
    let inv = expect_ok(
        t.get(&a, &format!("/v1/invoices/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let number = inv["invoiceNumber"].as_str().unwrap().to_string();

    for format in formats {
        let body = expect_ok(
            t.get(
                &a,
                &format!("/v1/invoices/{id}/download-url?format={}", format.as_str()),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(body["format"], format.as_str());
        assert_eq!(body["contentType"], format.content_type());
        let file_name = format!("{number}-copy.{}", format.extension());
        assert_eq!(body["fileName"], file_name);
        let expires =
            chrono::DateTime::parse_from_rfc3339(body["expiresAt"].as_str().unwrap()).unwrap();
        let ttl = expires
            .signed_duration_since(chrono::Utc::now())
            .num_seconds();
        assert!(
            (290..=300).contains(&ttl),
            "default expiry is five minutes, got {ttl}s"
        );

        // The URL works with no credentials at all, and the bytes are the published ones.
        let url = body["url"].as_str().unwrap();
        let resp = reqwest::get(url).await.unwrap();
        assert_eq!(resp.status(), 200);
        let disposition = resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            disposition.starts_with("attachment") && disposition.contains(&file_name),
            "{disposition}"
        );
        assert_eq!(resp.bytes().await.unwrap().to_vec(), sample(format));
    }

    // Without a format: the first document.
    let default = expect_ok(
        t.get(&a, &format!("/v1/invoices/{id}/download-url"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(default["format"], "PDF");

    // Tampering: another object under the same signature, or a changed signature.
    let url = default["url"].as_str().unwrap().to_string();
    let other_object = url.replace("/pdf?", "/png?");
    assert_eq!(reqwest::get(&other_object).await.unwrap().status(), 403);
    let sig_at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut forged = url.clone();
    let flipped = if &url[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    forged.replace_range(sig_at..sig_at + 1, flipped);
    assert_eq!(reqwest::get(&forged).await.unwrap().status(), 403);
    let longer = url.replace("X-Amz-Expires=300", "X-Amz-Expires=3600");
    assert_eq!(
        reqwest::get(&longer).await.unwrap().status(),
        403,
        "a stretched expiry breaks the signature"
    );
    t.stop().await;
}

#[tokio::test]
async fn download_url_expires() {
    let mut options = options();
    options.download_url_ttl = std::time::Duration::from_secs(1);
    let t = TestStack::start_with(options).await;
    let a = t.tenant_all_scopes().await;
    let id = t
        .publish(a.company, 1, "2026-11-01T09:00:00Z", &[DocumentFormat::Pdf])
        .await;
    let body = expect_ok(
        t.get(&a, &format!("/v1/invoices/{id}/download-url"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let url = body["url"].as_str().unwrap();
    assert_eq!(reqwest::get(url).await.unwrap().status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        reqwest::get(url).await.unwrap().status(),
        403,
        "expired URL is refused by the S3 engine"
    );
    t.stop().await;
}

#[tokio::test]
async fn download_url_for_missing_format_or_invoice_is_404_and_bad_format_400() {
    let t = TestStack::start().await;
    let a = t.tenant_all_scopes().await;
    let id = t
        .publish(a.company, 1, "2026-11-01T09:00:00Z", &[DocumentFormat::Pdf])
        .await;
    let body = expect_error(
        t.get(&a, &format!("/v1/invoices/{id}/download-url?format=TIFF"))
            .send()
            .await
            .unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("PDF"),
        "says what is available"
    );
    let body = expect_error(
        t.get(&a, &format!("/v1/invoices/{id}/download-url?format=GIF"))
            .send()
            .await
            .unwrap(),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(error_field(&body), "format");
    let unknown = uuid::Uuid::new_v4();
    expect_error(
        t.get(&a, &format!("/v1/invoices/{unknown}/download-url"))
            .send()
            .await
            .unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    t.stop().await;
}

#[tokio::test]
async fn complete_and_reject_are_idempotent_and_conflicts_are_409_with_current_status() {
    let t = TestStack::start().await;
    let a = t.tenant_all_scopes().await;
    let ids = t.publish_many(a.company, 3).await;
    let (x, y, z) = (ids[0], ids[1], ids[2]);

    let body = json!({"externalId": "ERP-9", "externalUrl": "https://erp.example/bills/9"});
    let first = expect_ok(
        t.post_json(&a, &format!("/v1/invoices/{x}/complete"), &body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(first["status"], "EXPORTED");
    assert_eq!(first["export"]["externalId"], "ERP-9");
    let again = expect_ok(
        t.post_json(&a, &format!("/v1/invoices/{x}/complete"), &body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        again, first,
        "a repeat answers the same 200 and changes nothing"
    );
    let conflict = expect_error(
        t.post_json(
            &a,
            &format!("/v1/invoices/{x}/complete"),
            &json!({"externalId": "ERP-10"}),
        )
        .send()
        .await
        .unwrap(),
        409,
        "INVALID_STATE_TRANSITION",
    )
    .await;
    assert_eq!(conflict["error"]["currentStatus"], "EXPORTED");
    expect_error(
        t.post_json(
            &a,
            &format!("/v1/invoices/{x}/reject"),
            &json!({"reason": "wrong supplier"}),
        )
        .send()
        .await
        .unwrap(),
        409,
        "INVALID_STATE_TRANSITION",
    )
    .await;
    assert_eq!(
        t.stored(a.company, x)
            .await
            .unwrap()
            .export
            .unwrap()
            .external_id
            .as_deref(),
        Some("ERP-9")
    );

    // Completing without a body (or with {}) is idempotent too.
    let bare = t
        .http
        .post(t.url(&format!("/v1/invoices/{y}/complete")))
        .bearer_auth(&a.token)
        .header("Lightyear-Company-ID", a.company.to_string());
    let done = expect_ok(bare.send().await.unwrap()).await;
    assert!(done["export"]["externalId"].is_null());
    expect_ok(
        t.post_json(&a, &format!("/v1/invoices/{y}/complete"), &json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;

    let reject = json!({"reason": "Duplicate of INV-7", "code": "DUPLICATE"});
    let rejected = expect_ok(
        t.post_json(&a, &format!("/v1/invoices/{z}/reject"), &reject)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(rejected["status"], "REJECTED");
    assert_eq!(rejected["rejection"]["reason"], "Duplicate of INV-7");
    assert_eq!(rejected["rejection"]["code"], "DUPLICATE");
    let again = expect_ok(
        t.post_json(&a, &format!("/v1/invoices/{z}/reject"), &reject)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again, rejected);
    let conflict = expect_error(
        t.post_json(&a, &format!("/v1/invoices/{z}/complete"), &json!({}))
            .send()
            .await
            .unwrap(),
        409,
        "INVALID_STATE_TRANSITION",
    )
    .await;
    assert_eq!(conflict["error"]["currentStatus"], "REJECTED");
    expect_error(
        t.post_json(
            &a,
            &format!("/v1/invoices/{z}/reject"),
            &json!({"reason": "another reason"}),
        )
        .send()
        .await
        .unwrap(),
        409,
        "INVALID_STATE_TRANSITION",
    )
    .await;

    // Detail shows the records; the queue is empty.
    let detail = expect_ok(
        t.get(&a, &format!("/v1/invoices/{z}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(detail["rejection"]["code"], "DUPLICATE");
    assert!(t.poll_all(&a, 10).await.is_empty());

    // A rejected invoice that the platform fixes is published again and re-enters the queue.
    let mut fixed: ledgerdock_shared::domain::NewInvoice =
        serde_json::from_value(invoice_json(1, "2026-11-05T09:00:00Z")).unwrap();
    fixed.invoice_id = Some(z);
    ledgerdock_infra::publish::publish_with_files(&t.stack.app, a.company, fixed.clone(), vec![])
        .await
        .unwrap();
    assert_eq!(t.poll_all(&a, 10).await, vec![z.to_string()]);
    assert_eq!(
        t.stored(a.company, z).await.unwrap().status,
        InvoiceStatus::ReadyForExport
    );
    // An exported invoice is never published again.
    fixed.invoice_id = Some(x);
    let err = ledgerdock_infra::publish::publish_with_files(&t.stack.app, a.company, fixed, vec![])
        .await
        .unwrap_err();
    assert_eq!(err.code(), "INVALID_STATE_TRANSITION");
    t.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_completes_with_different_external_ids_exactly_one_wins() {
    let t = TestStack::start().await;
    let a = t.tenant_all_scopes().await;
    let id = t
        .publish(a.company, 1, "2026-11-01T09:00:00Z", &[DocumentFormat::Pdf])
        .await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..20 {
        let req = t.post_json(
            &a,
            &format!("/v1/invoices/{id}/complete"),
            &json!({"externalId": format!("ERP-{n}")}),
        );
        tasks.spawn(async move {
            let resp = req.send().await.unwrap();
            (
                n,
                resp.status().as_u16(),
                resp.json::<serde_json::Value>().await.unwrap(),
            )
        });
    }
    let mut winners = Vec::new();
    let mut conflicts = 0;
    while let Some(result) = tasks.join_next().await {
        let (n, status, body) = result.unwrap();
        match status {
            200 => winners.push(n),
            409 => {
                assert_eq!(body["error"]["code"], "INVALID_STATE_TRANSITION");
                assert_eq!(body["error"]["currentStatus"], "EXPORTED");
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one transition wins");
    assert_eq!(conflicts, 19);
    let stored = t.stored(a.company, id).await.unwrap();
    assert_eq!(
        stored.export.unwrap().external_id,
        Some(format!("ERP-{}", winners[0]))
    );
    t.stop().await;
}
