//! `ledgerdock dev` itself: the demo seed, demo.json, persistence across restarts.

use ledgerdock_infra::dev::DevOptions;
use ledgerdock_tests::*;
use serde_json::Value;

fn persistent(dir: &std::path::Path) -> DevOptions {
    DevOptions {
        in_memory: false,
        data_dir: dir.to_path_buf(),
        seed_demo: true,
        ..options()
    }
}

/// The demo.json a seeded stack wrote into `dir`.
fn demo_json(dir: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("demo.json")).unwrap()).unwrap()
}

/// The connector demo.json names for its `n`th company, with a fresh token.
async fn demo_connector(t: &TestStack, demo: &Value, n: usize) -> Connector {
    let company = &demo["companies"][n];
    let (id, secret) = (
        company["clientId"].as_str().unwrap(),
        company["clientSecret"].as_str().unwrap(),
    );
    Connector {
        company: company["companyId"].as_str().unwrap().parse().unwrap(),
        client_id: id.into(),
        client_secret: secret.into(),
        token: t.token(id, secret, None).await,
    }
}

/// The demo tests run on the embedded engine: persistence is its job (an external DynamoDB
/// keeps its own data), and the seed is written for it.
fn embedded_engine() -> bool {
    std::env::var(EXTERNAL_DYNAMODB_ENV).is_err()
}

#[tokio::test]
async fn the_demo_seed_writes_demo_json_naming_the_stack_and_two_companies() {
    if !embedded_engine() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = TestStack::start_with(persistent(dir.path())).await;
    let demo = demo_json(dir.path());
    assert_eq!(demo["apiUrl"], t.stack.api_url);
    assert_eq!(
        demo["tokenUrl"],
        format!("{}/oauth2/token", t.stack.api_url)
    );
    for url in ["s3Url", "dynamodbUrl"] {
        assert!(
            demo[url].as_str().unwrap().starts_with("http://127.0.0.1:"),
            "{url}"
        );
    }
    let companies = demo["companies"].as_array().unwrap();
    assert_eq!(companies.len(), 2);
    assert!(companies[0]["invoiceCount"].as_u64().unwrap() >= 30);
    assert!(companies[1]["invoiceCount"].as_u64().unwrap() >= 5);
    let a = demo_connector(&t, &demo, 0).await;
    let ids = t.poll_all(&a, 200).await;
    assert_eq!(
        ids.len() as u64,
        companies[0]["invoiceCount"].as_u64().unwrap()
    );
    t.stop().await;
}

#[tokio::test]
async fn each_demo_invoice_has_lines_and_a_real_pdf_and_the_demo_client_has_one_company() {
    if !embedded_engine() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = TestStack::start_with(persistent(dir.path())).await;
    let demo = demo_json(dir.path());
    let a = demo_connector(&t, &demo, 0).await;
    let id = t.poll_all(&a, 200).await[0].clone();
    let detail = t.fetch(&a, &format!("/v1/invoices/{id}")).await.ok();
    assert!((1..=50).contains(&detail["lineItems"].as_array().unwrap().len()));
    let url = t
        .fetch(&a, &format!("/v1/invoices/{id}/download-url?format=PDF"))
        .await
        .ok();
    let pdf = reqwest::get(url["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let company_b = demo["companies"][1]["companyId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let a_on_b = Connector {
        company: company_b,
        ..a
    };
    t.fetch(&a_on_b, "/v1/invoices/exportable")
        .await
        .error(403, "FORBIDDEN");
    t.stop().await;
}

#[tokio::test]
async fn a_restart_on_the_same_data_keeps_what_was_exported_and_seeds_nothing_twice() {
    if !embedded_engine() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = TestStack::start_with(persistent(dir.path())).await;
    let a = demo_connector(&t, &demo_json(dir.path()), 0).await;
    let ids = t.poll_all(&a, 200).await;
    t.complete(&a, &ids[0], &serde_json::json!({})).await.ok();
    t.stop().await;
    let t = TestStack::start_with(persistent(dir.path())).await;
    let a = demo_connector(&t, &demo_json(dir.path()), 0).await;
    let after = t.poll_all(&a, 200).await;
    let why = "data persisted, the exported invoice stays exported, nothing duplicated";
    assert_eq!(after.len(), ids.len() - 1, "{why}");
    assert_eq!(t.invoice(&a, &ids[0]).await.ok()["status"], "EXPORTED");
    t.stop().await;
}

#[tokio::test]
async fn in_memory_stack_still_writes_demo_json() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestStack::start_with(DevOptions {
        data_dir: dir.path().to_path_buf(),
        seed_demo: true,
        ..options()
    })
    .await;
    assert!(dir.path().join("demo.json").exists());
    assert!(
        !dir.path().join("dynamodb.sqlite").exists(),
        "in memory: no data file"
    );
    let health = t.http.get(t.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    t.stop().await;
}

#[tokio::test]
async fn secrets_on_disk_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // An older stack may have left a world-readable file behind: it is narrowed too.
    std::fs::write(dir.path().join("demo.json"), b"{}").unwrap();
    std::fs::set_permissions(
        dir.path().join("demo.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let t = TestStack::start_with(persistent(dir.path())).await;
    for file in ["keys.json", "demo.json"] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} is {:o}", mode & 0o777);
    }
    t.stop().await;
}
