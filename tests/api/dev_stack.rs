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

#[tokio::test]
async fn demo_seed_writes_demo_json_persists_and_does_not_duplicate() {
    if std::env::var(EXTERNAL_DYNAMODB_ENV).is_ok() {
        // Persistence is the embedded engine's job; an external DynamoDB keeps its own data.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = TestStack::start_with(persistent(dir.path())).await;
    let demo: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("demo.json")).unwrap()).unwrap();
    assert_eq!(demo["apiUrl"], t.stack.api_url);
    assert_eq!(
        demo["tokenUrl"],
        format!("{}/oauth2/token", t.stack.api_url)
    );
    assert!(demo["s3Url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert!(demo["dynamodbUrl"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    let companies = demo["companies"].as_array().unwrap();
    assert_eq!(companies.len(), 2);
    assert!(companies[0]["invoiceCount"].as_u64().unwrap() >= 30);
    assert!(companies[1]["invoiceCount"].as_u64().unwrap() >= 5);

    let tenant = |c: &Value, token: String| Connector {
        company: c["companyId"].as_str().unwrap().parse().unwrap(),
        client_id: c["clientId"].as_str().unwrap().into(),
        client_secret: c["clientSecret"].as_str().unwrap().into(),
        token,
    };
    let first = &companies[0];
    let token = t
        .token(
            first["clientId"].as_str().unwrap(),
            first["clientSecret"].as_str().unwrap(),
            None,
        )
        .await;
    let a = tenant(first, token);
    let ids = t.poll_all(&a, 200).await;
    assert_eq!(ids.len() as u64, first["invoiceCount"].as_u64().unwrap());

    // Every demo invoice has 1–50 lines and a real PDF; the demo client is not granted company 2.
    let detail = t.fetch(&a, &format!("/v1/invoices/{}", ids[0])).await.ok();
    let lines = detail["lineItems"].as_array().unwrap().len();
    assert!((1..=50).contains(&lines));
    let url = t
        .fetch(
            &a,
            &format!("/v1/invoices/{}/download-url?format=PDF", ids[0]),
        )
        .await
        .ok();
    let pdf = reqwest::get(url["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let a_on_b = Connector {
        company: companies[1]["companyId"].as_str().unwrap().parse().unwrap(),
        ..a.clone()
    };
    t.fetch(&a_on_b, "/v1/invoices/exportable")
        .await
        .error(403, "FORBIDDEN");

    // Export one, restart on the same data dir with --seed-demo again.
    t.post(
        &a,
        &format!("/v1/invoices/{}/complete", ids[0]),
        &serde_json::json!({}),
    )
    .await
    .ok();
    t.stop().await;
    let t = TestStack::start_with(persistent(dir.path())).await;
    let demo: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("demo.json")).unwrap()).unwrap();
    let first = &demo["companies"][0];
    let token = t
        .token(
            first["clientId"].as_str().unwrap(),
            first["clientSecret"].as_str().unwrap(),
            None,
        )
        .await;
    let a = tenant(first, token);
    let after = t.poll_all(&a, 200).await;
    assert_eq!(
        after.len(),
        ids.len() - 1,
        "data persisted, the exported invoice stays exported, nothing duplicated"
    );
    let detail = t.fetch(&a, &format!("/v1/invoices/{}", ids[0])).await.ok();
    assert_eq!(detail["status"], "EXPORTED");
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
