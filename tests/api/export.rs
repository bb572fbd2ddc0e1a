//! The export path as a connector drives it: poll, read, download, complete or reject.

use std::collections::HashSet;

use ledgerdock_shared::domain::{DocumentFormat, InvoiceStatus, Timestamp};
use ledgerdock_tests::*;
use serde_json::json;

#[tokio::test]
async fn full_poll_pages_in_order_and_ends_with_null_exactly_when_done() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
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
    let page1 = t.list_exportable(&a, 3, None).await.ok();
    assert_eq!(page1["items"].as_array().unwrap().len(), 3);
    let key = page1["continuationKey"]
        .as_str()
        .expect("more follow")
        .to_string();
    let page2 = t
        .fetch(
            &a,
            &format!("/v1/invoices/exportable?limit=3&continuationKey={key}"),
        )
        .await
        .ok();
    assert_eq!(page2["items"].as_array().unwrap().len(), 3);
    assert!(
        page2["continuationKey"].is_null(),
        "nothing is left, so the key is null"
    );

    let all = t.poll_all(&a, 3).await;
    assert_eq!(all, expected);
    // Default limit covers everything here.
    let default = t.fetch(&a, "/v1/invoices/exportable").await.ok();
    assert_eq!(default["items"].as_array().unwrap().len(), 6);
    assert!(default["continuationKey"].is_null());

    // Another company sees none of it.
    let b = t.connector_all_scopes().await;
    let other = t.fetch(&b, "/v1/invoices/exportable").await.ok();
    assert_eq!(other, json!({"items": [], "continuationKey": null}));
    t.stop().await;
}

#[tokio::test]
async fn paging_while_completing_and_rejecting_between_pages_sees_each_ready_invoice_once() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
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
        let page = t.fetch(&a, &path).await.ok();
        pages += 1;
        let items: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().into())
            .collect();
        // Export half of what this page returned before asking for the next.
        for id in items.iter().step_by(2) {
            t.complete(&a, id, &json!({})).await.ok();
        }
        // And reject one invoice the poll has not reached yet: it must simply not appear.
        if pages == 1 {
            let ahead = &ids[10];
            t.reject(&a, ahead, &json!({"reason": "duplicate"}))
                .await
                .ok();
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
    let a = t.connector_all_scopes().await;
    let id = t
        .publish(
            a.company,
            1000,
            "2026-11-01T09:00:00Z",
            &[DocumentFormat::Pdf, DocumentFormat::Png],
        )
        .await;
    let inv = t.invoice(&a, id).await.ok();
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
    let a = t.connector_all_scopes().await;
    let mut invoice = invoice_json(3, "2026-11-01T09:00:00Z");
    invoice["taxTotal"] = json!("7.00");
    invoice["total"] = json!("67.00");
    let refused = t
        .publish_invoice(a.company, invoice, vec![])
        .await
        .unwrap_err();
    let message = refused.invalid("taxTotal");
    assert!(message.contains("6.00"), "{message}");
    assert!(t.poll_all(&a, 10).await.is_empty());
    t.stop().await;
}

#[tokio::test]
async fn download_urls_serve_each_format_byte_for_byte_for_five_minutes_without_credentials() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let formats = [
        DocumentFormat::Pdf,
        DocumentFormat::Jpeg,
        DocumentFormat::Png,
        DocumentFormat::Tiff,
    ];
    let id = t
        .publish(a.company, 2, "2026-11-01T09:00:00Z", &formats)
        .await;
    let number = t.invoice(&a, id).await.ok()["invoiceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    for format in formats {
        let path = format!("/v1/invoices/{id}/download-url?format={}", format.as_str());
        let body = t.fetch(&a, &path).await.ok();
        assert_eq!(body["format"], format.as_str());
        assert_eq!(body["contentType"], format.content_type());
        let file_name = format!("{number}-copy.{}", format.extension());
        assert_eq!(body["fileName"], file_name);
        let expires = Timestamp::parse(body["expiresAt"].as_str().unwrap()).unwrap();
        let ttl = expires
            .as_datetime()
            .signed_duration_since(chrono::Utc::now())
            .num_seconds();
        assert!(
            (290..=300).contains(&ttl),
            "default expiry is five minutes, got {ttl}s"
        );
        let resp = reqwest::get(body["url"].as_str().unwrap()).await.unwrap();
        assert_eq!(resp.status(), 200);
        let disposition = resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(disposition.starts_with("attachment") && disposition.contains(&file_name));
        assert_eq!(resp.bytes().await.unwrap().to_vec(), sample(format));
    }
    t.stop().await;
}

#[tokio::test]
async fn a_download_url_without_a_format_is_the_first_document_and_refuses_tampering() {
    let (t, a, id) = TestStack::with_one_invoice().await;
    let default = t
        .fetch(&a, &format!("/v1/invoices/{id}/download-url"))
        .await
        .ok();
    assert_eq!(default["format"], "PDF");
    // Another object under the same signature, a changed signature, a stretched expiry.
    let url = default["url"].as_str().unwrap().to_string();
    let sig_at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut forged = url.clone();
    let flipped = if &url[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    forged.replace_range(sig_at..sig_at + 1, flipped);
    for tampered in [
        url.replace("/pdf?", "/png?"),
        forged,
        url.replace("X-Amz-Expires=300", "X-Amz-Expires=3600"),
    ] {
        assert_eq!(
            reqwest::get(&tampered).await.unwrap().status(),
            403,
            "{tampered}"
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn download_url_expires() {
    let mut options = options();
    options.download_url_ttl = std::time::Duration::from_secs(1);
    let t = TestStack::start_with(options).await;
    let a = t.connector_all_scopes().await;
    let id = t
        .publish(a.company, 1, "2026-11-01T09:00:00Z", &[DocumentFormat::Pdf])
        .await;
    let body = t
        .fetch(&a, &format!("/v1/invoices/{id}/download-url"))
        .await
        .ok();
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
    let (t, a, id) = TestStack::with_one_invoice().await;
    let body = t.download_url(&a, id, "TIFF").await.error(404, "NOT_FOUND");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("PDF"),
        "says what is available"
    );
    let body = t
        .download_url(&a, id, "GIF")
        .await
        .error(400, "VALIDATION_ERROR");
    assert_eq!(error_field(&body), "format");
    let unknown = uuid::Uuid::new_v4();
    t.fetch(&a, &format!("/v1/invoices/{unknown}/download-url"))
        .await
        .error(404, "NOT_FOUND");
    t.stop().await;
}

#[tokio::test]
async fn a_repeated_complete_answers_the_same_200_and_another_is_409_with_the_current_status() {
    let (t, a, x) = TestStack::with_one_invoice().await;
    let body = json!({"externalId": "ERP-9", "externalUrl": "https://erp.example/bills/9"});
    let first = t.complete(&a, x, &body).await.ok();
    assert_eq!(first["status"], "EXPORTED");
    assert_eq!(first["export"]["externalId"], "ERP-9");
    let again = t.complete(&a, x, &body).await.ok();
    assert_eq!(
        again, first,
        "a repeat answers the same 200 and changes nothing"
    );
    let other = json!({"externalId": "ERP-10"});
    let conflict = t
        .complete(&a, x, &other)
        .await
        .error(409, "INVALID_STATE_TRANSITION");
    assert_eq!(conflict["error"]["currentStatus"], "EXPORTED");
    let reject = json!({"reason": "wrong supplier"});
    t.reject(&a, x, &reject)
        .await
        .error(409, "INVALID_STATE_TRANSITION");
    let export = t.stored(a.company, x).await.unwrap().export.unwrap();
    assert_eq!(export.external_id.as_deref(), Some("ERP-9"));
    t.stop().await;
}

#[tokio::test]
async fn completing_without_a_body_or_with_an_empty_one_is_idempotent_too() {
    let (t, a, y) = TestStack::with_one_invoice().await;
    let path = format!("/v1/invoices/{y}/complete");
    let bare = t.request_as(&a, reqwest::Method::POST, &path);
    let done = bare.call().await.ok();
    assert!(done["export"]["externalId"].is_null());
    assert_eq!(t.complete(&a, y, &json!({})).await.ok(), done);
    t.stop().await;
}

#[tokio::test]
async fn a_repeated_reject_answers_the_same_200_and_the_rejection_leaves_the_queue() {
    let (t, a, z) = TestStack::with_one_invoice().await;
    let reject = json!({"reason": "Duplicate of INV-7", "code": "DUPLICATE"});
    let rejected = t.reject(&a, z, &reject).await.ok();
    assert_eq!(rejected["status"], "REJECTED");
    assert_eq!(rejected["rejection"]["reason"], "Duplicate of INV-7");
    assert_eq!(rejected["rejection"]["code"], "DUPLICATE");
    assert_eq!(t.reject(&a, z, &reject).await.ok(), rejected);
    let conflict = t
        .complete(&a, z, &json!({}))
        .await
        .error(409, "INVALID_STATE_TRANSITION");
    assert_eq!(conflict["error"]["currentStatus"], "REJECTED");
    let another = json!({"reason": "another reason"});
    t.reject(&a, z, &another)
        .await
        .error(409, "INVALID_STATE_TRANSITION");
    assert_eq!(
        t.invoice(&a, z).await.ok()["rejection"]["code"],
        "DUPLICATE"
    );
    assert!(t.poll_all(&a, 10).await.is_empty());
    t.stop().await;
}

#[tokio::test]
async fn a_rejected_invoice_published_again_reenters_the_queue_and_an_exported_one_never_does() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, 2).await;
    let (x, z) = (ids[0], ids[1]);
    t.complete(&a, x, &json!({"externalId": "ERP-9"}))
        .await
        .ok();
    t.reject(&a, z, &json!({"reason": "Duplicate of INV-7"}))
        .await
        .ok();
    let mut fixed = invoice_json(1, "2026-11-05T09:00:00Z");
    fixed["invoiceId"] = json!(z.to_string());
    t.publish_invoice(a.company, fixed.clone(), vec![])
        .await
        .unwrap();
    assert_eq!(t.poll_all(&a, 10).await, vec![z.to_string()]);
    let stored = t.stored(a.company, z).await.unwrap();
    assert_eq!(stored.status, InvoiceStatus::ReadyForExport);
    fixed["invoiceId"] = json!(x.to_string());
    let refused = t
        .publish_invoice(a.company, fixed, vec![])
        .await
        .unwrap_err();
    assert_eq!(refused.error["code"], "INVALID_STATE_TRANSITION");
    t.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_completes_with_different_external_ids_exactly_one_wins() {
    let (t, a, id) = TestStack::with_one_invoice().await;
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
        stored.export.unwrap().external_id.as_deref(),
        Some(format!("ERP-{}", winners[0]).as_str())
    );
    t.stop().await;
}

// ------------------------------------------------------------------ publishing holds AWS's lines

/// Publishes invoice `id` with `lines` lines (each description `description_chars` long)
/// through the platform's publish path.
async fn publish_as(
    t: &TestStack,
    company: ledgerdock_shared::domain::CompanyId,
    id: ledgerdock_shared::domain::InvoiceId,
    lines: usize,
    description_chars: usize,
) -> Result<ledgerdock_shared::domain::InvoiceId, Refusal> {
    let mut invoice = invoice_json(lines, "2026-11-01T09:00:00Z");
    invoice["invoiceId"] = json!(id.to_string());
    if description_chars > 0 {
        for line in invoice["lineItems"].as_array_mut().unwrap() {
            line["description"] = json!("d".repeat(description_chars));
        }
    }
    t.publish_invoice(company, invoice, vec![]).await
}

type Publishing = tokio::task::JoinHandle<Result<ledgerdock_shared::domain::InvoiceId, Refusal>>;

/// Starts publishing invoice `id` with `lines` lines in the background and returns once at
/// least `stored` line items of it are in the table (the publish is then mid-way).
async fn publish_in_background(
    t: &std::sync::Arc<TestStack>,
    company: ledgerdock_shared::domain::CompanyId,
    id: ledgerdock_shared::domain::InvoiceId,
    lines: usize,
    stored: usize,
) -> Publishing {
    let publishing = {
        let t = t.clone();
        tokio::spawn(async move { publish_as(&t, company, id, lines, 0).await })
    };
    while t.count_items(company, &format!("INVOICE#{id}#")).await < stored {
        assert!(!publishing.is_finished(), "the publish finished too soon");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    publishing
}

/// The detail as served, checked for integrity: 404, or 200 with lines numbered 1..n that add
/// up to its subtotal. Returns (status, line count).
async fn detail_whole(t: &TestStack, a: &Connector, id: impl std::fmt::Display) -> (u16, usize) {
    let resp = t
        .get(a, &format!("/v1/invoices/{id}"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap();
    if status != 200 {
        assert_eq!(status, 404, "only 200 or 404 are acceptable: {body}");
        assert_eq!(body["error"]["code"], "NOT_FOUND");
        return (status, 0);
    }
    let lines = body["lineItems"].as_array().unwrap();
    let mut cents = 0i64;
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["lineNumber"], i + 1, "lines out of order");
        cents += (line["amount"].as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64;
    }
    let subtotal =
        (body["subtotal"].as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64;
    assert_eq!(
        cents, subtotal,
        "subtotal must equal the sum of the lines served"
    );
    (status, lines.len())
}

#[tokio::test(flavor = "multi_thread")]
async fn republishing_an_exported_invoice_is_refused_before_any_line_is_written() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let id = ledgerdock_shared::domain::InvoiceId::new_random();
    publish_as(&t, a.company, id, 3, 0).await.unwrap();
    t.complete(&a, id, &json!({})).await.ok();
    let err = publish_as(&t, a.company, id, 300, 0).await.unwrap_err();
    assert_eq!(err.status, 409, "{err:?}");
    assert_eq!(detail_whole(&t, &a, id).await, (200, 3));
    assert_eq!(
        t.count_items(a.company, &format!("INVOICE#{id}#")).await,
        3,
        "no line of the refused publish was stored"
    );
    assert_eq!(
        t.stored(a.company, id).await.unwrap().status,
        InvoiceStatus::Exported
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_complete_racing_a_large_republish_leaves_an_invoice_whose_lines_match_its_totals() {
    let _turn = heavy_test().await;
    let t = std::sync::Arc::new(TestStack::start().await);
    let a = t.connector_all_scopes().await;
    let id = ledgerdock_shared::domain::InvoiceId::new_random();
    publish_as(&t, a.company, id, 3, 0).await.unwrap();
    // Complete while the new lines are being written.
    let republish = publish_in_background(&t, a.company, id, 3000, 500).await;
    t.complete(&a, id, &json!({"externalId": "E-1"})).await.ok();
    // Almost always the complete lands first and the republish is refused; should the
    // republish have flipped first, the complete exported the new version. Either way the
    // exported invoice is whole and the table holds exactly its lines.
    let expected_lines = match republish.await.unwrap() {
        Err(refused) => {
            assert_eq!(refused.status, 409, "{refused:?}");
            3
        }
        Ok(_) => 3000,
    };
    assert_eq!(detail_whole(&t, &a, id).await, (200, expected_lines));
    let stored = t.stored(a.company, id).await.unwrap();
    assert_eq!(stored.status, InvoiceStatus::Exported);
    assert_eq!(stored.line_count as usize, expected_lines);
    assert_eq!(
        t.count_items(a.company, &format!("INVOICE#{id}#")).await,
        expected_lines,
        "the losing version's lines are gone"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_publish_that_dies_halfway_leaves_the_previous_version_served_whole() {
    let t = std::sync::Arc::new(TestStack::start().await);
    let a = t.connector_all_scopes().await;
    let id = ledgerdock_shared::domain::InvoiceId::new_random();
    publish_as(&t, a.company, id, 3, 0).await.unwrap();
    let dying = publish_in_background(&t, a.company, id, 5000, 1000).await;
    dying.abort();
    let _ = dying.await;
    assert_eq!(detail_whole(&t, &a, id).await, (200, 3));
    assert_eq!(t.stored(a.company, id).await.unwrap().line_count, 3);

    // A new invoice whose first publish died is not there at all: 404, never a 500.
    let fresh = ledgerdock_shared::domain::InvoiceId::new_random();
    let dying = publish_in_background(&t, a.company, fresh, 5000, 500).await;
    dying.abort();
    let _ = dying.await;
    assert_eq!(detail_whole(&t, &a, fresh).await, (404, 0));
    assert!(!t.poll_all(&a, 200).await.contains(&fresh.to_string()));

    // The next publish of it works and serves exactly its own lines.
    publish_as(&t, a.company, fresh, 2, 0).await.unwrap();
    assert_eq!(detail_whole(&t, &a, fresh).await, (200, 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_during_a_large_publish_and_republish_see_nothing_or_a_whole_version() {
    let t = std::sync::Arc::new(TestStack::start().await);
    let a = t.connector_all_scopes().await;
    let id = ledgerdock_shared::domain::InvoiceId::new_random();
    let mut seen = std::collections::BTreeMap::new();
    for (lines, before) in [(5000, None), (4000, Some(5000))] {
        let publishing = {
            let (t, company) = (t.clone(), a.company);
            tokio::spawn(async move { publish_as(&t, company, id, lines, 0).await })
        };
        while !publishing.is_finished() {
            let (status, count) = detail_whole(&t, &a, id).await;
            assert!(
                (status == 404 && before.is_none()) || count == lines || Some(count) == before,
                "served {count} lines while {lines} were published over {before:?}"
            );
            *seen.entry((status, count)).or_insert(0) += 1;
        }
        publishing.await.unwrap().unwrap();
        assert_eq!(detail_whole(&t, &a, id).await, (200, lines));
    }
    assert!(seen.len() >= 2, "reads did overlap the publishes: {seen:?}");
    // The replaced generation is gone from the table.
    assert_eq!(
        t.count_items(a.company, &format!("INVOICE#{id}#")).await,
        4000
    );
}

#[tokio::test]
async fn an_invoice_too_large_to_serve_is_refused_and_one_near_the_limit_is_served_under_6_mb() {
    use ledgerdock_shared::domain::MAX_DETAIL_BYTES;
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let id = ledgerdock_shared::domain::InvoiceId::new_random();
    // 5,000 lines of 2,000-character descriptions: about 11 MB of detail.
    let err = publish_as(&t, a.company, id, 5000, 2000).await.unwrap_err();
    assert!(err
        .invalid("lineItems")
        .contains(&MAX_DETAIL_BYTES.to_string()));
    assert!(t.stored(a.company, id).await.is_none());
    assert_eq!(t.count_items(a.company, &format!("INVOICE#{id}")).await, 0);

    // Just under the limit: served whole, within Lambda's 6 MB response limit.
    publish_as(&t, a.company, id, 2100, 2000).await.unwrap();
    let resp = t
        .get(&a, &format!("/v1/invoices/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    assert!(
        body.len() > 4_000_000,
        "the test is near the limit: {}",
        body.len()
    );
    assert!(body.len() <= MAX_DETAIL_BYTES, "{}", body.len());
    let escaped = serde_json::to_string(std::str::from_utf8(&body).unwrap()).unwrap();
    assert!(escaped.len() < 6 * 1024 * 1024, "{}", escaped.len());

    // Tracking categories are bounded per line too.
    let mut invoice = invoice_json(1, "2026-11-01T09:00:00Z");
    invoice["lineItems"][0]["trackingCategories"] = json!((0..21)
        .map(|i| json!({"name": format!("C{i}"), "option": "x"}))
        .collect::<Vec<_>>());
    let refused = t
        .publish_invoice(a.company, invoice, vec![])
        .await
        .unwrap_err();
    refused.invalid("lineItems[0].trackingCategories");
    t.stop().await;
}

#[tokio::test]
async fn a_json_array_is_no_body_and_the_answer_names_no_rust_type() {
    let (t, a, x) = TestStack::with_one_invoice().await;
    for (path, body) in [
        (format!("/v1/invoices/{x}/complete"), json!([])),
        (
            format!("/v1/invoices/{x}/complete"),
            json!(["E-1", "https://erp.example/1"]),
        ),
        (
            format!("/v1/invoices/{x}/reject"),
            json!(["reason", "CODE"]),
        ),
        (
            "/v1/import-jobs".into(),
            json!(["SUPPLIER_CARDS", [{"externalId": "A"}]]),
        ),
    ] {
        let text = t.post(&a, &path, &body).await.invalid("body").to_string();
        assert!(
            text.contains("must be a JSON object, not an array"),
            "{text}"
        );
        for rust_name in ["struct", "CompleteRequest", "RejectRequest", "StartBody"] {
            assert!(!text.contains(rust_name), "{text}");
        }
    }
    t.assert_untouched(&a, x).await;
    assert_eq!(
        t.count_items(a.company, "IMPORTJOB#").await,
        0,
        "no job started"
    );
    t.stop().await;
}

#[tokio::test]
async fn identifiers_and_codes_are_single_lines_without_control_characters() {
    let (t, a, x) = TestStack::with_one_invoice().await;
    for (path, body, field) in [
        ("complete", json!({"externalId": "E-1\nE-2"}), "externalId"),
        ("complete", json!({"externalId": "E-1\t"}), "externalId"),
        ("reject", json!({"reason": "dup", "code": "A\nB"}), "code"),
    ] {
        let path = format!("/v1/invoices/{x}/{path}");
        t.post(&a, &path, &body).await.invalid(field);
    }
    t.assert_untouched(&a, x).await;
    t.stop().await;
}

#[tokio::test]
async fn a_soft_copys_file_name_is_a_name_not_a_path_and_is_refused_before_anything_is_stored() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    for bad in [
        "../../etc/passwd",
        "a/b.pdf",
        "x\u{0}.pdf",
        "..",
        "INV\n1.pdf",
    ] {
        let id = ledgerdock_shared::domain::InvoiceId::new_random();
        let mut invoice = invoice_json(1, "2026-11-01T09:00:00Z");
        invoice["invoiceId"] = json!(id.to_string());
        let copies = vec![(bad, sample(DocumentFormat::Pdf))];
        let refused = t
            .publish_invoice(a.company, invoice, copies)
            .await
            .unwrap_err();
        refused.invalid("documents[0].fileName");
        assert!(t.stored(a.company, id).await.is_none());
    }
    t.stop().await;
}

#[tokio::test]
async fn two_soft_copies_of_one_format_are_refused_before_either_is_stored() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let id = ledgerdock_shared::domain::InvoiceId::new_random();
    let mut invoice = invoice_json(1, "2026-11-01T09:00:00Z");
    invoice["invoiceId"] = json!(id.to_string());
    let copies = ["a.pdf", "b.pdf"]
        .map(|name| (name, sample(DocumentFormat::Pdf)))
        .into();
    let refused = t
        .publish_invoice(a.company, invoice, copies)
        .await
        .unwrap_err();
    assert_eq!(refused.invalid("documents"), "more than one PDF document");
    assert!(t.stored(a.company, id).await.is_none());
    // docs/operations.md: soft copies live at `documents/<companyId>/<invoiceId>/<format>`.
    let key = format!("documents/{}/{id}/pdf", a.company);
    assert!(!t.object_exists(&key).await, "{key} was stored");
    t.stop().await;
}
