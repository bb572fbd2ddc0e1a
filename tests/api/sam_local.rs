//! The functions under the real `sam local start-api` (SAM's API Gateway emulation and AWS's
//! runtime interface emulator, in Docker), as docs/operations.md's "sam local" section runs them: SAM
//! runs no Cognito authorizer, so each function verifies the dev stack's token itself.
//!
//! Needs Docker (and busybox for the stand-in base image): `.ci/run` runs it as its own step
//! with `cargo test -p ledgerdock-tests --test api -- --ignored sam_local`. Where Docker cannot be
//! used, it says why and passes.

use ledgerdock_infra::dev::DevOptions;
use ledgerdock_tests::emulator::runtime_interface_emulator;
use ledgerdock_tests::sam_local::{
    bridge_gateway, build_dir, docker_unavailable, stand_in_image, SamApi,
};
use ledgerdock_tests::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Docker; run by .ci/run's sam local step"]
async fn a_connector_polls_downloads_and_completes_through_sam_local_start_api() {
    if let Some(reason) = docker_unavailable() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    // aws-sam-cli must be there (it also ships the emulator).
    assert!(
        runtime_interface_emulator().is_some(),
        "pip install aws-sam-cli"
    );
    let image = stand_in_image();
    let t = TestStack::start_with(DevOptions {
        host: bridge_gateway(image),
        ..options()
    })
    .await;
    let a = t.connector_all_scopes().await;
    let stranger = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, 3).await;
    let build = tempfile::tempdir().unwrap();
    let template = build_dir(build.path());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sam = SamApi::start(&template, &t.stack, image, port).await;
    let call = |method: reqwest::Method, path: &str, tenant: &Connector| {
        t.http
            .request(method, format!("{}{path}", sam.url))
            .bearer_auth(&tenant.token)
            .header("Lightyear-Company-ID", tenant.company.to_string())
    };

    // 1. The poll: every ready invoice, in order, through SAM.
    let page = call(reqwest::Method::GET, "/v1/invoices/exportable?limit=2", &a)
        .call()
        .await
        .ok();
    assert_eq!(
        page["items"],
        json!([ids[0].to_string(), ids[1].to_string()]),
        "{}",
        sam.output()
    );
    // A continuation key from SAM's functions opens in the dev API's, and back: one secret.
    let key = page["continuationKey"].as_str().unwrap();
    let rest = t
        .fetch(
            &a,
            &format!("/v1/invoices/exportable?limit=2&continuationKey={key}"),
        )
        .await
        .ok();
    assert_eq!(rest["items"], json!([ids[2].to_string()]));

    // 2. Detail, 3. the soft copy, downloaded from the S3 engine, 4. complete.
    let id = ids[0];
    let detail = call(reqwest::Method::GET, &format!("/v1/invoices/{id}"), &a)
        .call()
        .await
        .ok();
    assert_eq!(detail["invoiceId"], id.to_string());
    assert_eq!(detail["lineItems"].as_array().unwrap().len(), 1);
    let link = call(
        reqwest::Method::GET,
        &format!("/v1/invoices/{id}/download-url"),
        &a,
    )
    .call()
    .await
    .ok();
    let file = t
        .http
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(
        file.bytes().await.unwrap().to_vec(),
        sample(ledgerdock_shared::domain::DocumentFormat::Pdf)
    );
    let done = call(
        reqwest::Method::POST,
        &format!("/v1/invoices/{id}/complete"),
        &a,
    )
    .json(&json!({"externalId": "ERP-SAM-1"}))
    .call()
    .await
    .ok();
    assert_eq!(done["status"], "EXPORTED");
    assert_eq!(
        t.stored(a.company, id).await.unwrap().status.as_str(),
        "EXPORTED"
    );

    // Refusals: a garbage or missing token is 401, a company not granted is 403.
    let garbage = t
        .http
        .get(format!("{}/v1/invoices/exportable", sam.url))
        .bearer_auth("not.a.token")
        .header("Lightyear-Company-ID", a.company.to_string())
        .send()
        .await
        .unwrap();
    Reply::read(garbage).await.error(401, "UNAUTHENTICATED");
    let missing = t
        .http
        .get(format!("{}/v1/invoices/exportable", sam.url))
        .header("Lightyear-Company-ID", a.company.to_string())
        .send()
        .await
        .unwrap();
    Reply::read(missing).await.error(401, "UNAUTHENTICATED");
    let mut foreign = stranger.clone();
    foreign.company = a.company;
    let resp = call(reqwest::Method::GET, "/v1/invoices/exportable", &foreign)
        .send()
        .await
        .unwrap();
    Reply::read(resp).await.error(403, "FORBIDDEN");
    drop(sam);
    t.stop().await;
}
