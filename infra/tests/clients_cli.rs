//! `ledgerdock clients …` end to end: the real binary, run as an operator would, against a dev
//! stack started in-process; its credentials are then used on the stack's token endpoint and API.

use std::process::Command;

use ledgerdock_infra::dev::{DevOptions, DevStack};
use serde_json::Value;

struct Cli {
    dynamodb: String,
}

impl Cli {
    /// Runs `ledgerdock clients <args> --json`; returns (success, stdout as JSON or text, stderr).
    fn run(&self, args: &[&str]) -> (bool, Value, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_ledgerdock"))
            .arg("clients")
            .args(args)
            .args(["--json", "--dynamodb-endpoint", &self.dynamodb])
            .output()
            .expect("ledgerdock runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let json = serde_json::from_str(&stdout).unwrap_or(Value::String(stdout));
        (
            out.status.success(),
            json,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> Value {
        let (ok, out, err) = self.run(args);
        assert!(ok, "ledgerdock clients {args:?} failed: {err}");
        out
    }
}

async fn token(http: &reqwest::Client, url: &str, id: &str, secret: &str) -> (u16, Value) {
    let resp = http
        .post(url)
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn onboarding_a_system_from_create_to_delete() {
    let scratch = tempfile::tempdir().unwrap();
    let stack = DevStack::start(DevOptions::ephemeral(scratch.path().to_path_buf()))
        .await
        .unwrap();
    let cli = Cli {
        dynamodb: stack.dynamodb_url.clone(),
    };
    let http = reqwest::Client::new();
    let (a, b) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );

    let created = cli.ok(&[
        "create",
        "--name",
        "Acme ERP",
        "--company",
        &a,
        "--scopes",
        "invoices.read",
        "--rate-limit",
        "50",
    ]);
    let id = created["credentials"]["clientId"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = created["credentials"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        created["client"]["scopes"],
        serde_json::json!(["invoices.read"])
    );
    assert_eq!(created["client"]["rateLimit"], 50);
    assert_eq!(created["client"]["grants"][0]["companyId"], a.as_str());

    // The credentials work: list is allowed, complete is not (no invoices.write).
    let (status, body) = token(&http, &stack.token_url, &id, &secret).await;
    assert_eq!(status, 200);
    let access = body["access_token"].as_str().unwrap().to_string();
    let call = |method: reqwest::Method, path: &str, company: &str| {
        http.request(method, format!("{}{path}", stack.api_url))
            .bearer_auth(&access)
            .header("Lightyear-Company-ID", company)
    };
    let resp = call(reqwest::Method::GET, "/v1/invoices/exportable", &a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-ratelimit-limit"], "50");
    let resp = call(
        reqwest::Method::POST,
        &format!("/v1/invoices/{}/complete", uuid::Uuid::new_v4()),
        &a,
    )
    .json(&serde_json::json!({}))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 403);

    let listed = cli.ok(&["list"]);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["clientId"] == id.as_str()));
    let shown = cli.ok(&["show", &id]);
    let today = shown["usage"]
        .as_object()
        .unwrap()
        .values()
        .next_back()
        .unwrap()
        .clone();
    assert_eq!(today["list-exportable-invoices"], 1);

    // Grant B with invoices.write: the token scopes become the union.
    let granted = cli.ok(&["grant", &id, "--company", &b, "--scopes", "invoices.write"]);
    assert_eq!(
        granted["scopes"],
        serde_json::json!(["invoices.read", "invoices.write"])
    );
    assert_eq!(granted["grants"].as_array().unwrap().len(), 2);
    let revoked = cli.ok(&["revoke", &id, "--company", &b]);
    assert_eq!(revoked["scopes"], serde_json::json!(["invoices.read"]));
    assert_eq!(revoked["webhookSubscriptionsDisabled"], 0);

    let rotated = cli.ok(&["rotate-secret", &id]);
    let new_secret = rotated["clientSecret"].as_str().unwrap();
    assert_eq!(token(&http, &stack.token_url, &id, &secret).await.0, 401);
    assert_eq!(token(&http, &stack.token_url, &id, new_secret).await.0, 200);

    let deleted = cli.ok(&["delete", &id]);
    assert_eq!(deleted["deleted"], true);
    assert_eq!(deleted["webhookSubscriptionsDeleted"], 0);
    assert_eq!(token(&http, &stack.token_url, &id, new_secret).await.0, 401);
    let resp = call(reqwest::Method::GET, "/v1/invoices/exportable", &a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "a deleted client's token stops working");

    // Mistakes get a clear message and a failing exit code.
    let (ok, _, err) = cli.run(&["show", &id]);
    assert!(!ok && err.contains("there is no client"), "{err}");
    let (ok, _, err) = cli.run(&[
        "create",
        "--name",
        "x",
        "--company",
        &a,
        "--scopes",
        "invoices.delete",
    ]);
    assert!(!ok && err.contains("is not a scope"), "{err}");
    let (ok, _, err) = cli.run(&[
        "create",
        "--name",
        "x",
        "--company",
        "not-a-uuid",
        "--scopes",
        "invoices.read",
    ]);
    assert!(!ok && err.contains("UUID"), "{err}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn publishing_an_invoice_whose_amounts_overflow_is_refused_naming_the_field() {
    let scratch = tempfile::tempdir().unwrap();
    let stack = DevStack::start(DevOptions::ephemeral(scratch.path().to_path_buf()))
        .await
        .unwrap();
    let huge = "79228162514264337593543950335";
    let line = serde_json::json!({
        "description": "x", "quantity": "1", "unitPrice": huge, "amount": huge, "taxAmount": "0"
    });
    let invoice = serde_json::json!({
        "documentType": "INVOICE", "invoiceNumber": "INV-1", "supplier": {"name": "Acme"},
        "issueDate": "2026-11-01", "currency": "EUR",
        "subtotal": huge, "taxTotal": "0", "total": huge,
        "lineItems": [line.clone(), line]
    });
    let file = scratch.path().join("invoice.json");
    std::fs::write(&file, invoice.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ledgerdock"))
        .args([
            "invoices",
            "publish",
            "--company",
            &uuid::Uuid::new_v4().to_string(),
        ])
        .arg("--file")
        .arg(&file)
        .args([
            "--dynamodb-endpoint",
            &stack.dynamodb_url,
            "--s3-endpoint",
            &stack.s3_url,
        ])
        .output()
        .unwrap();
    // A refusal, not a crash: exit code 1 (an abort would be a signal, no code).
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("subtotal: must have at most 15 digits before the decimal point\n"),
        "{stderr}"
    );
    stack.stop().await;
}
