//! Import jobs over HTTP: the three ways to start, exact counts and record numbers, re-imports,
//! the upload URL, whole-file failures, idempotent workers, the sweep, Idempotency-Key,
//! reading suppliers back, tenancy, and every refused request.

use std::time::Duration;

use ledgerdock_infra::dev::DevOptions;
use ledgerdock_shared::domain::Scope;
use ledgerdock_tests::*;
use serde_json::{json, Value};

/// A stack whose upload URLs and grace last a second and whose sweep runs five times a second,
/// so deadlines pass within a test.
fn quick_deadlines() -> DevOptions {
    DevOptions {
        upload_url_ttl: Duration::from_secs(1),
        import_upload_grace: Duration::from_secs(1),
        sweep_interval: Duration::from_millis(200),
        ..options()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_import_counts_every_record_and_names_bad_ones_by_position() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let mut records = supplier_records("S", 2000);
    // Five bad records at known 1-based positions of the array we send.
    let bad: [(usize, Value, &str); 5] = [
        (1, json!({"name": "no id"}), "externalId"),
        (
            500,
            json!({"externalId": "X1", "name": "A", "country": "XX"}),
            "country",
        ),
        (
            1001,
            json!({"externalId": "X2", "name": "B", "paymentTermsDays": 400}),
            "paymentTermsDays",
        ),
        (
            1500,
            json!({"externalId": "X3", "name": "C", "colour": "red"}),
            "colour",
        ),
        (2005, json!("not an object"), "record"),
    ];
    for (position, record, _) in &bad {
        records.insert(position - 1, record.clone());
    }
    let started = t.import_json(&a, &records).await;
    assert_eq!(
        (&started["status"], &started["source"]),
        (&json!("IN_PROGRESS"), &json!("INLINE"))
    );
    assert!(started["createdAt"].is_string() && started["upload"].is_null());
    let job = t.wait_for_job(&a, job_id(&started)).await;
    assert_eq!(job["status"], "FINISHED", "{job}");
    assert_eq!(counts(&job), [2005, 2000, 0, 0, 5]);
    assert_eq!(
        error_records(&job),
        bad.iter().map(|b| b.0 as u64).collect::<Vec<_>>()
    );
    for (error, (_, _, field)) in job["errors"].as_array().unwrap().iter().zip(&bad) {
        assert_eq!(error["field"], *field, "{error}");
    }
    assert_eq!(job["errors"][1]["externalId"], "X1");
    assert!(job["finishedAt"].is_string() && job["failureReason"].is_null());
    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, 2000);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn importing_the_same_cards_again_changes_nothing_and_renamed_ones_are_updates() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let records = supplier_records("S", 2000);
    let first = t.import_json(&a, &records).await;
    t.wait_for_job(&a, job_id(&first)).await;
    let again = t.import_json(&a, &records).await;
    assert_eq!(
        counts(&t.wait_for_job(&a, job_id(&again)).await),
        [2000, 0, 0, 2000, 0]
    );
    let mut renamed = records;
    for record in renamed.iter_mut().take(10) {
        record["name"] = json!("Renamed Oy");
    }
    let third = t.import_json(&a, &renamed).await;
    let third = t.wait_for_job(&a, job_id(&third)).await;
    assert_eq!(counts(&third), [2000, 0, 10, 1990, 0]);
    let card = t.fetch(&a, "/v1/suppliers/S00001").await.ok();
    assert_eq!(card["name"], "Renamed Oy");
    assert_eq!(card["lastImportJobId"], third["jobId"]);
    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, 2000);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_beyond_the_cap_are_counted_and_flagged_as_cut() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let mut records: Vec<Value> = (1..=1200)
        .map(|i| json!({"externalId": format!("N{i}")}))
        .collect();
    records.extend(supplier_records("G", 10));
    let started = t.import_json(&a, &records).await;
    let job = t.wait_for_job(&a, job_id(&started)).await;
    assert_eq!(counts(&job), [1210, 10, 0, 0, 1200]);
    assert_eq!(job["errors"].as_array().unwrap().len(), 1000);
    assert_eq!(job["errorsTruncated"], true);
    assert_eq!(error_records(&job)[999], 1000);
    assert_eq!(job["errors"][0]["field"], "name");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_body_imports_reports_unknown_columns_and_reads_back_paged() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let csv = "externalId,name,email,country,currency,paymentTermsDays,active,colour\n\
               B-2,\"Beta, \"\"the\"\" Oy\",ap@beta.fi,fi,eur,14,false,red\n\
               A-1,Alpha AB,,SE,SEK,,true,blue\n\
               C-3,Gamma,not-an-email,DE,EUR,30,maybe,green\n\
               C-3,Gamma again,,DE,EUR,30,true,green\n";
    let started = t.import_csv(&a, csv).await;
    assert_eq!(started["contentType"], "text/csv");
    let job = t.wait_for_job(&a, job_id(&started)).await;
    assert_eq!(job["status"], "FINISHED", "{job}");
    assert_eq!(counts(&job), [4, 3, 0, 0, 1]);
    // Record 3 is bad twice over (email, active); record 4 repeats C-3... which record 3 never
    // imported, so record 4 is the one that counts.
    assert_eq!(error_records(&job), [3, 3]);
    assert_eq!(job["warnings"][0]["field"], "colour");

    let beta = t.fetch(&a, "/v1/suppliers/B-2").await.ok();
    assert_eq!(beta["name"], "Beta, \"the\" Oy");
    assert_eq!(
        (beta["country"].as_str(), beta["currency"].as_str()),
        (Some("FI"), Some("EUR"))
    );
    assert_eq!(
        (beta["paymentTermsDays"].as_u64(), beta["active"].as_bool()),
        (Some(14), Some(false))
    );
    let alpha = t.fetch(&a, "/v1/suppliers/A-1").await.ok();
    assert!(alpha["email"].is_null() && alpha["paymentTermsDays"].is_null());

    // 3 cards plus 17 more, listed 7 at a time: each exactly once, in externalId order.
    let more = t.import_csv(&a, &supplier_csv("D", 17)).await;
    t.wait_for_job(&a, job_id(&more)).await;
    let listed: Vec<String> = t
        .all_suppliers(&a, 7)
        .await
        .iter()
        .map(|s| s["externalId"].as_str().unwrap().to_string())
        .collect();
    let mut expected = listed.clone();
    expected.sort();
    expected.dedup();
    assert_eq!(listed, expected);
    assert_eq!(listed.len(), 20);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_thousand_row_csv_through_the_upload_url() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    // What the URL is signed for, tried on a small file (a refused PUT of a large body may see
    // its connection closed before the answer arrives, with S3 as with the local engine).
    let small = supplier_csv("S", 3);
    let (_, small_url) = t.upload_job(&a, "text/csv", small.len()).await;
    // The signature covers the content type: another one is refused by S3.
    assert_eq!(
        t.put_file(&small_url, "application/json", small.clone().into_bytes())
            .await,
        403
    );
    // So does the size: a file larger than declared is refused by S3.
    let mut longer = small.clone().into_bytes();
    longer.extend_from_slice(b"S99999,Extra,FI,EUR,30,true\n");
    assert_eq!(t.put_file(&small_url, "text/csv", longer).await, 403);
    assert_eq!(
        t.put_file(&small_url, "text/csv", small.clone().into_bytes())
            .await,
        200
    );
    // One job, one file: the URL takes no second file while it is valid.
    assert_eq!(
        t.put_file(&small_url, "text/csv", small.into_bytes()).await,
        412
    );

    let csv = supplier_csv("U", 20_000);
    let (job, url) = t.upload_job(&a, "text/csv", csv.len()).await;
    assert_eq!(job["source"], "UPLOAD");
    assert_eq!(t.put_file(&url, "text/csv", csv.into_bytes()).await, 200);
    let done = t.wait_for_job(&a, job_id(&job)).await;
    assert_eq!(done["status"], "FINISHED", "{done}");
    assert_eq!(counts(&done), [20_000, 20_000, 0, 0, 0]);
    assert!(done["processingStartedAt"].is_string());
    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, 20_003);
    let last = t.fetch(&a, "/v1/suppliers/U20000").await.ok();
    assert_eq!(last["name"], "Supplier 20000, Ltd");
    t.stop().await;
}

/// Past 65,536 records the worker's key index leaves memory for sorted files on /tmp
/// (features/imports/file_keys.rs); what it answers must not change.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_too_large_to_keep_its_keys_in_memory_still_finds_every_duplicate_and_full_syncs_exactly(
) {
    let _turn = heavy_test().await;
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let before: Vec<Value> = (1..=5)
        .map(|i| json!({"externalId": format!("K{i}"), "name": format!("Kept {i}")}))
        .collect();
    let first = t.import_json(&a, &before).await;
    t.wait_for_job(&a, job_id(&first)).await;

    // 70,000 new cards; K1-K3 again as they are; K4 only on a row that fails; K5 not at all;
    // then the first two new cards once more.
    let mut csv = supplier_csv("U", 70_000);
    for i in 1..=3 {
        csv.push_str(&format!("K{i},Kept {i},,,,\n"));
    }
    csv.push_str("K4,,FI,EUR,30,true\n");
    csv.push_str("U00001,Again,FI,EUR,30,true\nU00002,Again,FI,EUR,30,true\n");
    let request = t.import_request().json(&json!({
        "type": "SUPPLIER_CARDS", "contentType": "text/csv", "contentLength": csv.len(),
        "mode": "REPLACE",
    }));
    let job = t.start_import(&a, request).await;
    let url = job["upload"]["url"].as_str().unwrap();
    assert_eq!(t.put_file(url, "text/csv", csv.into_bytes()).await, 200);
    let done = t
        .wait_for_job_within(&a, job_id(&job), Duration::from_secs(600))
        .await;
    assert_eq!(done["status"], "FINISHED", "{done}");
    assert_eq!(counts(&done), [70_006, 70_000, 0, 3, 3], "{done}");
    assert_eq!(done["counts"]["deactivated"], 1, "only K5: {done}");
    let duplicates: Vec<(u64, &str)> = done["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["message"].as_str().unwrap().contains("more than once"))
        .map(|e| {
            (
                e["record"].as_u64().unwrap(),
                e["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(duplicates.len(), 2, "{done}");
    assert_eq!(duplicates[0].0, 70_005);
    assert!(
        duplicates[0].1.contains("record 1 has it"),
        "{duplicates:?}"
    );
    assert!(
        duplicates[1].1.contains("record 2 has it"),
        "{duplicates:?}"
    );
    // The first of each stands; the failed row kept K4; K5 was deactivated.
    assert_eq!(
        t.fetch(&a, "/v1/suppliers/U00001").await.ok()["name"],
        "Supplier 1, Ltd"
    );
    assert_eq!(t.fetch(&a, "/v1/suppliers/K4").await.ok()["active"], true);
    assert_eq!(t.fetch(&a, "/v1/suppliers/K5").await.ok()["active"], false);
    assert_eq!(t.fetch(&a, "/v1/suppliers/K1").await.ok()["active"], true);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn files_that_cannot_be_imported_fail_the_job_with_a_reason_and_change_nothing() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;

    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 0x80)
        .collect();
    let failed = t.import_upload(&a, "text/csv", noise).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert!(failure_reason(&failed).contains("UTF-8"), "{failed}");
    assert!(failed["finishedAt"].is_string());

    // A Latin-1 row late in the file fails the job before any earlier row is written.
    let mut latin1 = supplier_csv("L", 300).into_bytes();
    latin1.extend_from_slice(b"L99999,M\xfcller GmbH,DE,EUR,30,true\n");
    let failed = t.import_upload(&a, "text/csv", latin1).await;
    assert_eq!(failed["status"], "FAILED");
    assert!(failure_reason(&failed).contains("row 301"), "{failed}");

    // Uploaded, a file without the required columns fails its job (inline, it is a 400:
    // see every_refused_start_call_names_its_problem_and_starts_no_job).
    let missing_columns = b"id,title\n1,Acme\n".to_vec();
    let failed = t.import_upload(&a, "text/csv", missing_columns).await;
    assert_eq!(failed["status"], "FAILED");
    assert!(failure_reason(&failed).contains("externalId, name"));

    let broken = br#"[{"externalId": "J1", "name": "A"}, {"externalId": "J2""#.to_vec();
    let failed = t.import_upload(&a, "application/json", broken).await;
    assert_eq!(failed["status"], "FAILED");
    assert!(failure_reason(&failed).contains("not closed"), "{failed}");

    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, 0);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_url_never_used_fails_its_job_after_the_deadline() {
    let t = TestStack::start_with(DevOptions {
        ..quick_deadlines()
    })
    .await;
    let a = t.connector_all_scopes().await;
    let csv = supplier_csv("Z", 1);
    let (job, url) = t.upload_job(&a, "text/csv", csv.len()).await;
    let failed = t.wait_for_job(&a, job_id(&job)).await;
    assert_eq!(failed["status"], "FAILED");
    assert!(
        failure_reason(&failed).contains("no file was uploaded"),
        "{failed}"
    );
    // And the expired URL no longer takes a file.
    assert_eq!(t.put_file(&url, "text/csv", csv.into_bytes()).await, 403);
    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, 0);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_whose_event_was_lost_is_announced_again_and_imported() {
    let t = TestStack::start_with(DevOptions {
        process_imports: false,
        ..quick_deadlines()
    })
    .await;
    let a = t.connector_all_scopes().await;
    let csv = supplier_csv("R", 50);
    let (job, url) = t.upload_job(&a, "text/csv", csv.len()).await;
    // The file lands, but its notification is lost.
    assert_eq!(t.put_file(&url, "text/csv", csv.into_bytes()).await, 200);
    t.stack
        .delivering_imports
        .store(true, std::sync::atomic::Ordering::Relaxed);
    // Past the upload deadline the sweep finds the file and has S3 announce it again.
    let done = t.wait_for_job(&a, job_id(&job)).await;
    assert_eq!(done["status"], "FINISHED", "{done}");
    assert_eq!(counts(&done), [50, 50, 0, 0, 0]);
    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, 50);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_never_picked_up_even_when_announced_again_fails_with_a_reason() {
    let t = TestStack::start_with(DevOptions {
        process_imports: false,
        import_processing_deadline: Duration::from_secs(1),
        ..quick_deadlines()
    })
    .await;
    let a = t.connector_all_scopes().await;
    let csv = supplier_csv("Q", 5);
    let (job, url) = t.upload_job(&a, "text/csv", csv.len()).await;
    assert_eq!(t.put_file(&url, "text/csv", csv.into_bytes()).await, 200);
    let failed = t.wait_for_job(&a, job_id(&job)).await;
    assert_eq!(failed["status"], "FAILED");
    assert!(
        failure_reason(&failed).contains("announced again"),
        "{failed}"
    );
    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, 0);
    t.stop().await;
}

/// A start call's JSON body for these supplier-card records.
fn records_body(records: Vec<Value>) -> Value {
    json!({"type": "SUPPLIER_CARDS", "records": records})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_idempotency_key_answers_the_first_job_and_imports_its_records_once() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let body = records_body(supplier_records("I", 3));
    let first = t.start_keyed(&a, "batch-2026-11-21", &body).await;
    assert_eq!(first.status, 202, "{}", first.text);
    let again = t.start_keyed(&a, "batch-2026-11-21", &body).await;
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.json()["jobId"], first.json()["jobId"]);
    t.wait_for_job(&a, job_id(&first.json())).await;
    assert_eq!(t.count_items(a.company, "IMPORTJOB#").await, 1);
    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, 3);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idempotency_key_belongs_to_its_client_and_company_and_another_request_may_not_reuse_it()
{
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let b = t.connector_all_scopes().await;
    let key = "batch-2026-11-21";
    let first = t
        .start_keyed(&a, key, &records_body(supplier_records("I", 3)))
        .await
        .json();
    // The same key with another request is refused, not replayed, and names no job.
    let reused = t
        .start_keyed(&a, key, &records_body(supplier_records("J", 5)))
        .await;
    let body = reused.error(422, "IDEMPOTENCY_KEY_REUSED");
    assert!(!body.to_string().contains(job_id(&first)));
    // Another company, or another client of the same company who guesses the key, makes its
    // own job: no part of the first (neither its id nor an upload URL for it).
    let (_, token) = t
        .client_for(
            &[a.company],
            &[Scope::ImportsWrite, Scope::ImportsRead],
            600,
        )
        .await;
    let neighbour = Connector { token, ..a.clone() };
    for other in [&b, &neighbour] {
        let theirs = t
            .start_keyed(other, key, &records_body(supplier_records("I", 3)))
            .await;
        assert_ne!(theirs.json()["jobId"], first["jobId"]);
    }
    // A request that would be refused is refused, key or no key; a key that is no key is a 400.
    t.start_keyed(&a, key, &json!([]))
        .await
        .error(400, "VALIDATION_ERROR");
    t.start_keyed(&a, "has spaces in it", &records_body(vec![]))
        .await
        .invalid("Idempotency-Key");
    assert_eq!(t.count_items(a.company, "IMPORTJOB#").await, 2);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_upload_job_hands_out_a_fresh_url_for_the_same_file() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let csv = supplier_csv("P", 2);
    let body =
        json!({"type": "SUPPLIER_CARDS", "contentType": "text/csv", "contentLength": csv.len()});
    let first = t.start_keyed(&a, "upload-1", &body).await.json();
    let again = t.start_keyed(&a, "upload-1", &body).await.json();
    assert_eq!(again["jobId"], first["jobId"]);
    let url = again["upload"]["url"].as_str().unwrap();
    assert_eq!(t.put_file(url, "text/csv", csv.into_bytes()).await, 200);
    let done = t.wait_for_job(&a, job_id(&first)).await;
    assert_eq!(counts(&done), [2, 2, 0, 0, 0]);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn another_companys_jobs_and_suppliers_are_not_found_and_its_header_is_not_granted() {
    let t = TestStack::start().await;
    let (a, b) = (
        t.connector_all_scopes().await,
        t.connector_all_scopes().await,
    );
    let started = t.import_json(&a, &supplier_records("T", 3)).await;
    let job = format!("/v1/import-jobs/{}", job_id(&started));
    t.wait_for_job(&a, job_id(&started)).await;
    t.fetch(&b, &job).await.error(404, "NOT_FOUND");
    t.fetch(&b, "/v1/suppliers/T00001")
        .await
        .error(404, "NOT_FOUND");
    assert!(t.all_suppliers(&b, 100).await.is_empty());
    // A's header with B's token: B holds no grant for A.
    let b_on_a = Connector {
        company: a.company,
        ..b
    };
    t.fetch(&b_on_a, &job).await.error(403, "FORBIDDEN");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn job_and_supplier_paths_are_checked_and_an_unknown_job_is_not_found() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let unknown = format!("/v1/import-jobs/{}", uuid::Uuid::new_v4());
    t.fetch(&a, &unknown).await.error(404, "NOT_FOUND");
    t.fetch(&a, "/v1/import-jobs/not-a-uuid")
        .await
        .invalid("jobId");
    let too_long = format!("/v1/suppliers/{}", "x".repeat(65));
    t.fetch(&a, &too_long).await.invalid("externalId");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_continuation_key_from_another_list_or_another_company_is_refused() {
    let t = TestStack::start().await;
    let (a, b) = (
        t.connector_all_scopes().await,
        t.connector_all_scopes().await,
    );
    t.publish_many(a.company, 3).await;
    t.import_upload(&a, "text/csv", supplier_csv("K", 3).into_bytes())
        .await;
    let invoices = t.list_exportable(&a, 1, None).await.ok();
    let suppliers = t.fetch(&a, "/v1/suppliers?limit=1").await.ok();
    for (who, key) in [
        (&a, &invoices["continuationKey"]),
        (&b, &suppliers["continuationKey"]),
    ] {
        let path = format!("/v1/suppliers?continuationKey={}", key.as_str().unwrap());
        t.fetch(who, &path)
            .await
            .error(400, "INVALID_CONTINUATION_KEY");
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refused_start_call_names_its_problem_and_starts_no_job() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let json_cases: [(Value, &str); 12] = [
        // Upload jobs declare the file's exact size, within the limit.
        (
            json!({"type": "SUPPLIER_CARDS", "contentType": "text/csv"}),
            "contentLength",
        ),
        (
            json!({"type": "SUPPLIER_CARDS", "contentType": "text/csv", "contentLength": 0}),
            "contentLength",
        ),
        (
            json!({"type": "SUPPLIER_CARDS", "contentType": "text/csv", "contentLength": 134_217_729u64}),
            "contentLength",
        ),
        (
            json!({"type": "SUPPLIER_CARDS", "contentType": "text/csv", "contentLength": "12"}),
            "contentLength",
        ),
        (
            json!({"type": "SUPPLIER_CARDS", "records": [], "contentLength": 12}),
            "contentLength",
        ),
        (json!({"type": "VENDORS", "records": []}), "type"),
        (json!({"records": []}), "type"),
        (
            json!({"type": "SUPPLIER_CARDS", "records": {"externalId": "x"}}),
            "records",
        ),
        (json!({"type": "SUPPLIER_CARDS"}), "records"),
        (
            json!({"type": "SUPPLIER_CARDS", "contentType": "text/plain"}),
            "contentType",
        ),
        (
            json!({"type": "SUPPLIER_CARDS", "records": [], "contentType": "text/csv"}),
            "contentType",
        ),
        (
            json!({"type": "SUPPLIER_CARDS", "records": [], "extra": 1}),
            "extra",
        ),
    ];
    for (body, field) in json_cases {
        let resp = t
            .post_json(&a, "/v1/import-jobs", &body)
            .send()
            .await
            .unwrap();
        let error = Reply::read(resp).await.error(400, "VALIDATION_ERROR");
        assert_eq!(error_field(&error), field, "{body}");
    }
    let raw = |content_type: &str, path: &str, body: Vec<u8>| {
        t.http
            .post(t.url(path))
            .bearer_auth(&a.token)
            .header("Lightyear-Company-ID", a.company.to_string())
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let resp = raw(
        "application/json",
        "/v1/import-jobs",
        b"{\"type\": ".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(
        error_field(&Reply::read(resp).await.error(400, "VALIDATION_ERROR")),
        "body"
    );
    let resp = raw("text/csv", "/v1/import-jobs", b"externalId,name\n".to_vec())
        .await
        .unwrap();
    assert_eq!(
        error_field(&Reply::read(resp).await.error(400, "VALIDATION_ERROR")),
        "type"
    );
    let resp = raw(
        "text/csv",
        "/v1/import-jobs?type=SUPPLIER_CARDS",
        Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        error_field(&Reply::read(resp).await.error(400, "VALIDATION_ERROR")),
        "body"
    );
    let resp = raw(
        "text/plain",
        "/v1/import-jobs?type=SUPPLIER_CARDS",
        b"a,b\n".to_vec(),
    )
    .await
    .unwrap();
    Reply::read(resp).await.error(415, "UNSUPPORTED_MEDIA_TYPE");
    let big = supplier_csv("B", 120_000);
    assert!(big.len() > 5 * 1024 * 1024);
    let resp = raw(
        "text/csv",
        "/v1/import-jobs?type=SUPPLIER_CARDS",
        big.into_bytes(),
    )
    .await
    .unwrap();
    let error = Reply::read(resp).await.error(413, "PAYLOAD_TOO_LARGE");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("upload URL"));

    // Tokens without the route's scope.
    let reader = t.connector(&[Scope::ImportsRead]).await;
    let resp = t
        .post_json(
            &reader,
            "/v1/import-jobs",
            &json!({"type": "SUPPLIER_CARDS", "records": []}),
        )
        .send()
        .await
        .unwrap();
    Reply::read(resp).await.error(403, "FORBIDDEN");
    let writer = t.connector(&[Scope::ImportsWrite]).await;
    for path in [
        "/v1/suppliers",
        "/v1/suppliers/x",
        &format!("/v1/import-jobs/{}", uuid::Uuid::new_v4()),
    ] {
        let resp = t.get(&writer, path).send().await.unwrap();
        Reply::read(resp).await.error(403, "FORBIDDEN");
    }
    for tenant in [&a, &reader, &writer] {
        assert_eq!(t.count_items(tenant.company, "IMPORTJOB#").await, 0);
        assert_eq!(t.count_items(tenant.company, "SUPPLIER#").await, 0);
    }
    t.stop().await;
}

#[tokio::test]
async fn supplier_ids_in_the_path_are_percent_decoded_exactly_once() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let cards: Vec<_> = ["ACME 2", "ACME%202", "Müller/Ost"]
        .iter()
        .map(|id| json!({"externalId": id, "name": format!("Supplier {id}")}))
        .collect();
    let job = t.import_json(&a, &cards).await;
    let done = t.wait_for_job(&a, job_id(&job)).await;
    assert_eq!(done["counts"]["created"], 3, "{done}");
    for (path, id) in [
        ("/v1/suppliers/ACME%202", "ACME 2"),
        ("/v1/suppliers/ACME%25202", "ACME%202"),
        ("/v1/suppliers/M%C3%BCller%2FOst", "Müller/Ost"),
    ] {
        let card = t.fetch(&a, path).await.ok();
        assert_eq!(card["externalId"], id, "{path}");
    }
    let err = t
        .fetch(&a, "/v1/suppliers/%FF%FE")
        .await
        .error(400, "VALIDATION_ERROR");
    assert_eq!(error_field(&err), "externalId");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_report_quoting_long_multibyte_values_is_cut_by_bytes_and_the_job_still_finishes()
{
    use ledgerdock_shared::features::imports::MAX_REPORTED_ERROR_BYTES;
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    // Each record: a 64-character multi-byte externalId and two invalid codes that the error
    // messages quote back (50 three-byte characters each): about 1 KB of errors per record.
    let records: Vec<Value> = (1..=1200)
        .map(|i| {
            json!({
                "externalId": format!("{i:05}{}", "ü".repeat(59)),
                "name": "Supplier",
                "country": "€".repeat(50),
                "currency": "€".repeat(50),
            })
        })
        .collect();
    let started = t.import_json(&a, &records).await;
    let job = t.wait_for_job(&a, job_id(&started)).await;
    assert_eq!(job["status"], "FINISHED", "{}", job["failureReason"]);
    assert_eq!(counts(&job), [1200, 0, 0, 0, 1200]);
    assert_eq!(job["errorsTruncated"], true);
    let kept = job["errors"].as_array().unwrap();
    assert!(kept.len() > 100 && kept.len() < 1000, "{}", kept.len());
    let bytes: usize = kept
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap().len())
        .sum();
    assert!(bytes <= MAX_REPORTED_ERROR_BYTES, "{bytes}");
    // The kept errors are the first ones, in file order.
    assert_eq!(error_records(&job)[0], 1);
    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, 0);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_over_the_record_limit_fails_before_any_card_is_written() {
    use ledgerdock_shared::features::imports::MAX_RECORDS;
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let mut csv = String::from("externalId,name\n");
    for i in 0..=MAX_RECORDS {
        csv.push_str(&format!("{i},n\n"));
    }
    let (job, url) = t.upload_job(&a, "text/csv", csv.len()).await;
    assert_eq!(t.put_file(&url, "text/csv", csv.into_bytes()).await, 200);
    let failed = t.wait_for_job(&a, job_id(&job)).await;
    assert_eq!(failed["status"], "FAILED");
    assert!(
        failure_reason(&failed).contains(&format!("more than {MAX_RECORDS} records")),
        "{failed}"
    );
    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, 0);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inline_csv_that_cannot_be_imported_as_a_whole_is_a_400_and_starts_no_job() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    for (csv, says) in [
        (
            "id,title\n1,Acme\n",
            "lacks the required columns externalId, name",
        ),
        (
            "externalId,title\nA1,Acme\n",
            "lacks the required column name",
        ),
        (
            "externalId,name,name\nA1,Acme,Acme\n",
            "names the column name twice",
        ),
    ] {
        let resp = t
            .http
            .post(t.url("/v1/import-jobs?type=SUPPLIER_CARDS"))
            .bearer_auth(&a.token)
            .header("Lightyear-Company-ID", a.company.to_string())
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        let body = Reply::read(resp).await.error(400, "VALIDATION_ERROR");
        assert_eq!(error_field(&body), "body");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
    assert_eq!(t.count_items(a.company, "IMPORTJOB#").await, 0);
    // A bad row is still the job's to report; the file as a whole is fine.
    let job = t.import_csv(&a, "name,externalId\nAcme,A1\n,A2\n").await;
    let done = t.wait_for_job(&a, job_id(&job)).await;
    assert_eq!(done["status"], "FINISHED", "{done}");
    assert_eq!(done["counts"]["created"], 1);
    assert_eq!(done["errors"][0]["record"], 2);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_number_written_with_a_fraction_is_a_whole_number() {
    // JSON Schema (and many encoders) count 1260.0 as the integer 1260.
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let job = t
        .start_import(
            &a,
            t.import_request().json(&json!({
                "type": "SUPPLIER_CARDS", "contentType": "text/csv", "contentLength": 1260.0
            })),
        )
        .await;
    assert_eq!(job["upload"]["headers"]["Content-Length"], "1260");
    t.post(
        &a,
        "/v1/import-jobs",
        &json!({"type": "SUPPLIER_CARDS", "contentType": "text/csv", "contentLength": 1260.5}),
    )
    .await
    .invalid("contentLength");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_cut_off_from_dynamodb_mid_file_is_retried_once_its_lease_lapses_and_finishes() {
    let _turn = heavy_test().await;
    // A lease longer than the failed call and release take (so it is still held when they
    // have failed), and shorter than Lambda's minute before its first retry.
    let options = DevOptions {
        import_lease: Duration::from_secs(20),
        ..options()
    };
    let (t, proxy, backing) = TestStack::behind_stalling_proxy_with(options).await;
    let a = t.connector_all_scopes().await;
    let csv = supplier_csv("C", 60_000);
    let (job, url) = t.upload_job(&a, "text/csv", csv.len()).await;
    assert_eq!(t.put_file(&url, "text/csv", csv.into_bytes()).await, 200);
    while t.job(&a, job_id(&job)).await["counts"]["created"] == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // DynamoDB hangs long enough for the worker's call and its lease release to time out
    // (6 s each at most): the lease is left held, to lapse. The retry must come after it has.
    proxy.stall();
    tokio::time::sleep(Duration::from_secs(15)).await;
    proxy.resume();
    // The retry reads the whole file again before it resumes: on official DynamoDB Local,
    // sharing its JVM with the rest of the suite, the 60,000 rows took over two minutes (CI).
    let done = t
        .wait_for_job_within(&a, job_id(&job), Duration::from_secs(360))
        .await;
    assert_eq!(done["status"], "FINISHED", "{done}");
    assert_eq!(counts(&done), [60_000, 60_000, 0, 0, 0]);
    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, 60_000);
    drop(proxy);
    backing.stop().await;
    t.stop().await;
}
