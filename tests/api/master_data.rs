//! Master data beyond supplier cards: GL accounts, tax codes, tracking categories and purchase
//! orders imported by JSON and CSV, read back page by page and one by one; dry runs that write
//! nothing; full syncs that deactivate what a file leaves out, and never on a broken file;
//! cross-checks that warn instead of failing.

use ledgerdock_tests::*;
use serde_json::{json, Value};

/// A job's record warnings as `(record, key, field)`.
fn warnings(job: &Value) -> Vec<(u64, String, String)> {
    job["recordWarnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["record"].as_u64().unwrap(),
                w["key"].as_str().unwrap_or_default().to_string(),
                w["field"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn tax_codes() -> Vec<Value> {
    vec![
        json!({"code": "S20", "name": "Standard 20%", "rate": "20", "type": "input"}),
        json!({"code": "R5", "name": "Reduced", "rate": "5.5", "type": "INPUT"}),
        json!({"code": "RC", "name": "Reverse charge", "rate": "0", "type": "reverse charge"}),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn gl_accounts_and_tax_codes_are_imported_and_read_back_exactly_as_sent() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let job = t.imported(&a, "TAX_CODES", &tax_codes(), json!({})).await;
    assert_eq!(job["status"], "FINISHED", "{job}");
    assert_eq!(counts(&job), [3, 3, 0, 0, 0]);
    let csv = "code,name,type,defaultTaxCode,active\n\
               4000,Office supplies,expense,S20,\n\
               1200,Bank,ASSET,,false\n";
    let started = t.import_csv_of(&a, "GL_ACCOUNTS", csv, "").await;
    let job = t.wait_for_job(&a, job_id(&started)).await;
    assert_eq!(counts(&job), [2, 2, 0, 0, 0], "{job}");
    assert_eq!(count(&job, "warned"), 0, "S20 was imported first: {job}");

    let accounts = t.all_items(&a, "/v1/gl-accounts", 1).await;
    let codes: Vec<&str> = accounts
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["1200", "4000"], "in code order, page by page");
    let office = t.fetch(&a, "/v1/gl-accounts/4000").await.ok();
    assert_eq!(
        (
            &office["name"],
            &office["type"],
            &office["defaultTaxCode"],
            &office["active"]
        ),
        (
            &json!("Office supplies"),
            &json!("EXPENSE"),
            &json!("S20"),
            &json!(true)
        )
    );
    assert_eq!(office["lastImportJobId"], job["jobId"]);
    assert!(office["createdAt"].is_string() && office["updatedAt"].is_string());
    let bank = t.fetch(&a, "/v1/gl-accounts/1200").await.ok();
    assert_eq!(
        (&bank["defaultTaxCode"], &bank["active"]),
        (&Value::Null, &json!(false))
    );

    let reduced = t.fetch(&a, "/v1/tax-codes/R5").await.ok();
    assert_eq!(
        (&reduced["rate"], &reduced["type"]),
        (&json!("5.5"), &json!("INPUT"))
    );
    let reverse = t.fetch(&a, "/v1/tax-codes/RC").await.ok();
    assert_eq!(reverse["type"], "REVERSE_CHARGE");
    assert_eq!(t.all_items(&a, "/v1/tax-codes", 200).await.len(), 3);

    // Another company sees none of it.
    let b = t.connector_all_scopes().await;
    t.fetch(&b, "/v1/gl-accounts/4000")
        .await
        .error(404, "NOT_FOUND");
    assert!(t.all_items(&b, "/v1/tax-codes", 200).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn each_bad_record_is_reported_by_field_and_the_rest_imported_again_unchanged() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let mut records = tax_codes();
    records.push(json!({"code": "X1", "name": "Float", "rate": 7.5, "type": "INPUT"}));
    records.push(json!({"code": "X2", "name": "Over", "rate": "101", "type": "INPUT"}));
    records.push(json!({"code": "X3", "name": "Kind", "rate": "1", "type": "SALES"}));
    records.push(json!({"code": "S20", "name": "Again", "rate": "20", "type": "INPUT"}));
    let job = t.imported(&a, "TAX_CODES", &records, json!({})).await;
    assert_eq!(counts(&job), [7, 3, 0, 0, 4], "{job}");
    let named: Vec<(u64, &str, &str)> = job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["record"].as_u64().unwrap(),
                e["key"].as_str().unwrap(),
                e["field"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            (4, "X1", "rate"),
            (5, "X2", "rate"),
            (6, "X3", "type"),
            (7, "S20", "code")
        ]
    );
    assert!(t.fetch(&a, "/v1/tax-codes/X1").await.status == 404);
    // The same file again: nothing changes.
    let again = t.imported(&a, "TAX_CODES", &tax_codes(), json!({})).await;
    assert_eq!(counts(&again), [3, 0, 0, 3, 0], "{again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tracking_category_lists_its_own_options_and_an_unknown_one_is_a_404() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let mut csv = String::from("category,optionCode,name,active\n");
    for i in 1..=5 {
        csv.push_str(&format!("Department,D{i},Department {i},\n"));
    }
    // A category whose name holds the key separator stays apart from its neighbour.
    csv.push_str("Dep#artment,X,Tricky,true\nProject,P1,Apollo,false\n");
    let started = t.import_csv_of(&a, "TRACKING_CATEGORIES", &csv, "").await;
    let job = t.wait_for_job(&a, job_id(&started)).await;
    assert_eq!(counts(&job), [7, 7, 0, 0, 0], "{job}");

    let department = t
        .all_items(&a, "/v1/tracking-categories/Department", 2)
        .await;
    let options: Vec<&str> = department
        .iter()
        .map(|o| o["optionCode"].as_str().unwrap())
        .collect();
    assert_eq!(options, ["D1", "D2", "D3", "D4", "D5"]);
    assert!(department.iter().all(|o| o["category"] == "Department"));
    let tricky = t
        .all_items(&a, "/v1/tracking-categories/Dep%23artment", 10)
        .await;
    assert_eq!(tricky.len(), 1);
    let all = t.all_items(&a, "/v1/tracking-categories", 3).await;
    assert_eq!(all.len(), 7);
    let project = &t.all_items(&a, "/v1/tracking-categories/Project", 10).await[0];
    assert_eq!(
        (&project["name"], &project["active"]),
        (&json!("Apollo"), &json!(false))
    );
    t.fetch(&a, "/v1/tracking-categories/Region")
        .await
        .error(404, "NOT_FOUND");
    // A continuation key of one category is no key for another.
    let first = t
        .fetch(&a, "/v1/tracking-categories/Department?limit=2")
        .await
        .ok();
    let key = first["continuationKey"].as_str().unwrap();
    let reply = t
        .fetch(
            &a,
            &format!("/v1/tracking-categories/Project?continuationKey={key}"),
        )
        .await;
    reply.error(400, "INVALID_CONTINUATION_KEY");
}

#[tokio::test(flavor = "multi_thread")]
async fn purchase_orders_group_csv_rows_into_lines_and_warn_of_what_they_name_that_is_missing() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    t.imported(
        &a,
        "SUPPLIER_CARDS",
        &[json!({"externalId": "S-1", "name": "Acme"})],
        json!({}),
    )
    .await;
    t.imported(
        &a,
        "GL_ACCOUNTS",
        &[json!({"code": "4000", "name": "Supplies", "type": "EXPENSE"})],
        json!({}),
    )
    .await;
    let csv = "poNumber,supplierExternalId,currency,issueDate,status,lineNumber,description,quantity,unitPrice,amount,accountCode,taxCode,receivedQuantity\n\
               PO-1,S-1,EUR,2026-11-30,OPEN,1,Paper,10,2.50,25.00,4000,,\n\
               PO-1,,,,,2,Toner,1,80,80.00,4000,,1\n\
               PO-2,S-9,EUR,2026-11-30,partly received,1,Chairs,4,100,400,6100,S20,2\n\
               PO-3,S-1,EUR,2026-11-31,OPEN,1,Bad date,1,1,1,,,\n\
               PO-1,S-1,EUR,2026-11-30,OPEN,3,Late row,1,1,1,,,\n";
    let started = t.import_csv_of(&a, "PURCHASE_ORDERS", csv, "").await;
    let job = t.wait_for_job(&a, job_id(&started)).await;
    // PO-1 (rows 1-2), PO-2 (row 3), PO-3 (row 4: a bad date), PO-1 again (row 5: not adjacent).
    assert_eq!(counts(&job), [4, 2, 0, 0, 2], "{job}");
    assert_eq!(error_records(&job), [4, 5]);
    assert_eq!(job["errors"][0]["field"], "issueDate");
    assert_eq!(job["errors"][1]["field"], "poNumber");
    assert!(job["errors"][1]["message"]
        .as_str()
        .unwrap()
        .contains("record 1"));
    // PO-2 names a supplier, an account and a tax code that are not there: imported, warned.
    assert_eq!(count(&job, "warned"), 1);
    assert_eq!(
        warnings(&job),
        [
            (3, "PO-2".into(), "supplierExternalId".into()),
            (3, "PO-2".into(), "lines[0].accountCode".into()),
            (3, "PO-2".into(), "lines[0].taxCode".into()),
        ]
    );
    let po = t.fetch(&a, "/v1/purchase-orders/PO-1").await.ok();
    assert_eq!(po["lines"].as_array().unwrap().len(), 2);
    assert_eq!(
        po["lines"][1],
        json!({"lineNumber": 2, "description": "Toner", "quantity": "1", "unitPrice": "80",
               "amount": "80.00", "accountCode": "4000", "taxCode": null, "receivedQuantity": "1"})
    );
    let partly = t.fetch(&a, "/v1/purchase-orders/PO-2").await.ok();
    assert_eq!(partly["status"], "PARTLY_RECEIVED");
    let all = t.all_items(&a, "/v1/purchase-orders", 1).await;
    assert_eq!(all.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_of_10000_rows_reports_exactly_the_3_bad_ones_and_writes_no_master_data() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    // Some accounts already there, one of them changed by the file.
    let existing: Vec<Value> = (1..=100)
        .map(|i| json!({"code": format!("{i:05}"), "name": format!("Account {i}"), "type": "EXPENSE"}))
        .collect();
    t.imported(&a, "GL_ACCOUNTS", &existing, json!({})).await;
    let mut csv = String::from("code,name,type\n");
    for i in 1..=10_000 {
        let row = match i {
            17 => "00017,Renamed,EXPENSE".to_string(),
            500 => "00500,No type,".to_string(),
            5000 => ",No code,ASSET".to_string(),
            9999 => "09999,Bad type,COSTS".to_string(),
            _ => format!("{i:05},Account {i},EXPENSE"),
        };
        csv.push_str(&row);
        csv.push('\n');
    }
    let before = t.master_data_items(a.company).await;
    let started = t
        .import_csv_of(&a, "GL_ACCOUNTS", &csv, "&dryRun=true")
        .await;
    assert_eq!(started["dryRun"], true);
    let job = t.wait_for_job(&a, job_id(&started)).await;
    assert_eq!(job["status"], "FINISHED", "{job}");
    // As a real run would: 99 unchanged, 1 updated, 9,897 created, 3 failed.
    assert_eq!(counts(&job), [10_000, 9_897, 1, 99, 3], "{job}");
    assert_eq!(error_records(&job), [500, 5000, 9999]);
    assert_eq!(
        t.master_data_items(a.company).await,
        before,
        "a dry run wrote master data"
    );

    // The real run does what the dry run said.
    let started = t.import_csv_of(&a, "GL_ACCOUNTS", &csv, "").await;
    let real = t.wait_for_job(&a, job_id(&started)).await;
    assert_eq!(counts(&real), counts(&job));
    assert_eq!(real["errors"], job["errors"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_sync_deactivates_what_the_file_leaves_out_and_never_deletes_it() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    t.imported(&a, "TAX_CODES", &tax_codes(), json!({})).await;
    let accounts: Vec<Value> = ["1000", "2000", "3000", "4000"]
        .iter()
        .map(|c| json!({"code": c, "name": format!("Account {c}"), "type": "ASSET"}))
        .collect();
    t.imported(&a, "GL_ACCOUNTS", &accounts, json!({})).await;
    // The ERP's chart now: 1000 and 2000 as they were, 5000 new, 3000 named by a bad record.
    let chart = [
        accounts[0].clone(),
        accounts[1].clone(),
        json!({"code": "5000", "name": "New", "type": "REVENUE"}),
        json!({"code": "3000", "name": "Broken", "type": "NOPE"}),
    ];
    let dry = t
        .imported(
            &a,
            "GL_ACCOUNTS",
            &chart,
            json!({"mode": "REPLACE", "dryRun": true}),
        )
        .await;
    assert_eq!(
        (count(&dry, "deactivated"), count(&dry, "created")),
        (1, 1),
        "{dry}"
    );
    assert_eq!(
        t.fetch(&a, "/v1/gl-accounts/4000").await.ok()["active"],
        true
    );

    let job = t
        .imported(&a, "GL_ACCOUNTS", &chart, json!({"mode": "REPLACE"}))
        .await;
    assert_eq!(
        (&job["status"], &job["mode"]),
        (&json!("FINISHED"), &json!("REPLACE"))
    );
    assert_eq!(counts(&job), [4, 1, 0, 2, 1], "{job}");
    assert_eq!(
        count(&job, "deactivated"),
        1,
        "only 4000: 3000 is named by a failed record"
    );
    let gone = t.fetch(&a, "/v1/gl-accounts/4000").await.ok();
    assert_eq!(
        (&gone["active"], &gone["lastImportJobId"]),
        (&json!(false), &job["jobId"])
    );
    assert_eq!(
        t.fetch(&a, "/v1/gl-accounts/3000").await.ok()["active"],
        true
    );
    assert_eq!(
        t.all_items(&a, "/v1/gl-accounts", 200).await.len(),
        5,
        "none deleted"
    );
    // Another type is not touched by this type's sync.
    assert!(t
        .all_items(&a, "/v1/tax-codes", 200)
        .await
        .iter()
        .all(|c| c["active"] == true));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_sync_of_a_broken_file_deactivates_nothing() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let accounts: Vec<Value> = (1..=20)
        .map(|i| json!({"code": format!("{i}"), "name": "A", "type": "ASSET"}))
        .collect();
    t.imported(&a, "GL_ACCOUNTS", &accounts, json!({})).await;
    // Every record bad: refused, nothing deactivated.
    let bad = [
        json!({"code": "1", "name": "A"}),
        json!({"name": "B", "type": "ASSET"}),
    ];
    let job = t
        .imported(&a, "GL_ACCOUNTS", &bad, json!({"mode": "REPLACE"}))
        .await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert!(
        failure_reason(&job).contains("nothing was deactivated"),
        "{job}"
    );
    // A file that cannot be read as a whole: failed before any record.
    let started = t
        .import_csv_of(
            &a,
            "GL_ACCOUNTS",
            "code,name,type\n1,A,ASSET\n",
            "&mode=REPLACE",
        )
        .await;
    let fine = t.wait_for_job(&a, job_id(&started)).await;
    assert_eq!(
        count(&fine, "deactivated"),
        19,
        "a good file does deactivate: {fine}"
    );
    let request = t
        .import_request()
        .json(&json!({"type": "GL_ACCOUNTS", "mode": "REPLACE", "contentType": "application/json", "contentLength": 11}));
    let upload = t.start_import(&a, request).await;
    let url = upload["upload"]["url"].as_str().unwrap();
    assert_eq!(
        t.put_file(url, "application/json", b"[{\"code\": 1".to_vec())
            .await,
        200
    );
    let broken = t.wait_for_job(&a, job_id(&upload)).await;
    assert_eq!(broken["status"], "FAILED", "{broken}");
    assert_eq!(t.fetch(&a, "/v1/gl-accounts/1").await.ok()["active"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_mode_or_dry_run_is_a_400_naming_it_and_starts_nothing() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    for (body, field) in [
        (
            json!({"type": "GL_ACCOUNTS", "records": [], "mode": "SYNC"}),
            "mode",
        ),
        (
            json!({"type": "GL_ACCOUNTS", "records": [], "dryRun": "yes"}),
            "dryRun",
        ),
        (json!({"type": "LEDGERS", "records": []}), "type"),
    ] {
        let reply = t.post(&a, "/v1/import-jobs", &body).await;
        assert_eq!(error_field(&reply.error(400, "VALIDATION_ERROR")), field);
    }
    let reply = t
        .post(
            &a,
            "/v1/import-jobs?mode=UPSERT",
            &json!({"type": "GL_ACCOUNTS", "records": [], "mode": "REPLACE"}),
        )
        .await;
    assert_eq!(error_field(&reply.error(400, "VALIDATION_ERROR")), "mode");
    // A CSV header lacking the type's required columns.
    let reply = t
        .request_as(&a, reqwest::Method::POST, "/v1/import-jobs?type=TAX_CODES")
        .header("content-type", "text/csv")
        .body("code,name\nS,Standard\n")
        .call()
        .await;
    let body = reply.error(400, "VALIDATION_ERROR");
    assert!(
        body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("rate, type"),
        "{body}"
    );
    assert_eq!(t.count_items(a.company, "IMPORTJOB#").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn large_purchase_orders_page_through_whole_with_each_page_far_under_6_mb() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    // Ten orders of 200 lines at their longest (four-byte characters), about 250 KB each as
    // stored: DynamoDB ends a Query at 1 MB, so a page of 200 is cut short after a few, and
    // the list must say more follow. (Official DynamoDB Local cuts at 1 MB as AWS does.)
    let text = |chars: usize| "\u{1F600}".repeat(chars);
    let orders: Vec<Value> = (0..10)
        .map(|o| {
            let lines: Vec<Value> = (1..=200)
                .map(|n| {
                    json!({"lineNumber": n, "description": text(200), "quantity": "1",
                           "unitPrice": "1", "amount": "1", "accountCode": text(50),
                           "taxCode": text(50)})
                })
                .collect();
            json!({"poNumber": format!("BIG-{o}"), "supplierExternalId": "S-1", "currency": "EUR",
                   "issueDate": "2026-11-30", "status": "OPEN", "lines": lines})
        })
        .collect();
    let job = t.imported(&a, "PURCHASE_ORDERS", &orders, json!({})).await;
    assert_eq!(count(&job, "created"), 10, "{job}");
    let mut numbers = Vec::new();
    let mut key: Option<String> = None;
    loop {
        let path = match &key {
            Some(k) => format!("/v1/purchase-orders?limit=200&continuationKey={k}"),
            None => "/v1/purchase-orders?limit=200".to_string(),
        };
        let reply = t.fetch(&a, &path).await;
        assert!(
            reply.text.len() < 2 * 1024 * 1024,
            "{} bytes",
            reply.text.len()
        );
        let page = reply.ok();
        numbers.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|po| po["poNumber"].as_str().unwrap().to_string()),
        );
        match page["continuationKey"].as_str() {
            Some(k) => key = Some(k.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..10).map(|o| format!("BIG-{o}")).collect();
    assert_eq!(numbers, expected);
}
