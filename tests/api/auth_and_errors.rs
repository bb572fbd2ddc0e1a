//! Every mistake a client can make gets the documented 4xx and changes nothing.

use ledgerdock_infra::dev::oauth::TokenIssuer;
use ledgerdock_shared::domain::InvoiceStatus;
use ledgerdock_shared::domain::Scope;
use ledgerdock_tests::*;
use serde_json::{json, Value};

#[tokio::test]
async fn bad_tokens_are_401() {
    let (t, a, id) = TestStack::with_one_invoice().await;
    let path = format!("/v1/invoices/{id}/complete");
    let company = a.company.to_string();

    let no_token = t
        .http
        .post(t.url(&path))
        .header("Lightyear-Company-ID", &company)
        .json(&json!({}));
    no_token.call().await.error(401, "UNAUTHENTICATED");

    let (foreign, _) = TokenIssuer::generate(t.stack.api.issuer.issuer()).unwrap();
    let wrongly_signed = foreign.issue(&a.client_id, &Scope::ALL).unwrap();
    let mut expired_claims = t.stack.api.issuer.verify(&a.token).unwrap();
    // Past the verifier's clock-skew leeway.
    expired_claims.exp =
        chrono::Utc::now().timestamp() - ledgerdock_shared::edge::token::LEEWAY_SECS - 5;
    let expired = t.stack.api.issuer.sign(&expired_claims).unwrap();
    let mut tampered = a.token.clone();
    tampered.insert(tampered.len() / 2, 'x');
    for bad in ["garbage", "a.b.c", &wrongly_signed, &expired, &tampered] {
        let req = t
            .http
            .post(t.url(&path))
            .bearer_auth(bad)
            .header("Lightyear-Company-ID", &company)
            .json(&json!({}));
        req.call().await.error(401, "UNAUTHENTICATED");
    }
    let basic = t
        .http
        .get(t.url("/v1/invoices/exportable"))
        .basic_auth(&a.client_id, Some(&a.client_secret));
    basic
        .header("Lightyear-Company-ID", &company)
        .call()
        .await
        .error(401, "UNAUTHENTICATED");
    t.assert_untouched(&a, id).await;
    t.stop().await;
}

#[tokio::test]
async fn a_token_narrowed_to_invoices_read_can_list_but_not_complete_or_reject() {
    let (t, a, id) = TestStack::with_one_invoice().await;
    let narrowed = t
        .token(
            &a.client_id,
            &a.client_secret,
            Some("ledgerdock/invoices.read"),
        )
        .await;
    let read_only = Connector {
        token: narrowed,
        ..a.clone()
    };
    t.fetch(&read_only, "/v1/invoices/exportable").await.ok();
    let body = t
        .complete(&read_only, id, &json!({}))
        .await
        .error(403, "FORBIDDEN");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invoices.write"));
    let reject = json!({"reason": "x"});
    t.reject(&read_only, id, &reject)
        .await
        .error(403, "FORBIDDEN");
    t.assert_untouched(&a, id).await;
    t.stop().await;
}

#[tokio::test]
async fn a_client_acts_for_a_company_only_with_the_scopes_its_grant_there_holds() {
    let (t, a, id) = TestStack::with_one_invoice().await;
    // Granted A's company for reading only: it reads, and may not complete, whatever its
    // token carries.
    let limited = t.connector_all_scopes().await;
    let reading = [Scope::InvoicesRead];
    t.admin()
        .grant(&limited.client_id, a.company, Some(&reading))
        .await
        .unwrap();
    let limited_on_a = Connector {
        company: a.company,
        ..limited
    };
    t.invoice(&limited_on_a, id).await.ok();
    t.complete(&limited_on_a, id, &json!({}))
        .await
        .error(403, "FORBIDDEN");
    t.assert_untouched(&a, id).await;
    t.stop().await;
}

#[tokio::test]
async fn a_client_naming_a_company_it_was_never_granted_is_refused_on_every_route() {
    let (t, a, id) = TestStack::with_one_invoice().await;
    let b_on_a = Connector {
        company: a.company,
        ..t.connector_all_scopes().await
    };
    for path in [
        "exportable".to_string(),
        id.to_string(),
        format!("{id}/download-url"),
    ] {
        let path = format!("/v1/invoices/{path}");
        t.fetch(&b_on_a, &path).await.error(403, "FORBIDDEN");
    }
    for (action, body) in [("complete", json!({})), ("reject", json!({"reason": "x"}))] {
        let path = format!("/v1/invoices/{id}/{action}");
        t.post(&b_on_a, &path, &body).await.error(403, "FORBIDDEN");
    }
    t.assert_untouched(&a, id).await;
    t.stop().await;
}

#[tokio::test]
async fn company_header_must_be_present_and_a_uuid() {
    let (t, a, id) = TestStack::with_one_invoice().await;
    let url = t.url(&format!("/v1/invoices/{id}/complete"));
    let missing = t.http.post(&url).bearer_auth(&a.token).json(&json!({}));
    let body = missing.call().await.error(400, "VALIDATION_ERROR");
    assert_eq!(error_field(&body), "Lightyear-Company-ID");
    for bad in ["not-a-uuid", "123", "5b7e4d1a0c3f4a8e9b216f0d2c7a9e11"] {
        let req = t
            .http
            .post(&url)
            .bearer_auth(&a.token)
            .header("Lightyear-Company-ID", bad)
            .json(&json!({}));
        let body = req.call().await.error(400, "VALIDATION_ERROR");
        assert_eq!(error_field(&body), "Lightyear-Company-ID");
    }
    t.assert_untouched(&a, id).await;
    t.stop().await;
}

#[tokio::test]
async fn other_companies_invoices_and_unknown_or_malformed_ids() {
    let (t, a, id) = TestStack::with_one_invoice().await;
    let b = t.connector_all_scopes().await;

    // B, with its own company header, asks for A's invoice: it does not exist for B.
    for req in [
        t.get(&b, &format!("/v1/invoices/{id}")),
        t.get(&b, &format!("/v1/invoices/{id}/download-url")),
        t.post_json(&b, &format!("/v1/invoices/{id}/complete"), &json!({})),
        t.post_json(
            &b,
            &format!("/v1/invoices/{id}/reject"),
            &json!({"reason": "x"}),
        ),
    ] {
        req.call().await.error(404, "NOT_FOUND");
    }
    let unknown = uuid::Uuid::new_v4();
    t.invoice(&a, unknown).await.error(404, "NOT_FOUND");
    t.complete(&a, unknown, &json!({}))
        .await
        .error(404, "NOT_FOUND");
    for bad in ["not-an-id", "1234", "INV-1001", "%20"] {
        let body = t.invoice(&a, bad).await.error(400, "VALIDATION_ERROR");
        assert_eq!(error_field(&body), "invoiceId");
    }
    t.assert_untouched(&a, id).await;
    t.stop().await;
}

#[tokio::test]
async fn a_limit_that_is_not_one_whole_number_from_1_to_200_is_a_400_naming_it() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    // The last two as schemathesis once sent them: a control character, and the parameter
    // twice (which of the two was meant is not guessed).
    for bad in [
        "0",
        "201",
        "-1",
        "abc",
        "1.5",
        "%2B5",
        "%0D1",
        "5&limit=150",
    ] {
        let path = format!("/v1/invoices/exportable?limit={bad}");
        t.fetch(&a, &path).await.invalid("limit");
    }
    t.stop().await;
}

#[tokio::test]
async fn another_companys_forged_or_malformed_continuation_key_is_refused_and_ones_own_works() {
    let t = TestStack::start().await;
    let (a, b) = (
        t.connector_all_scopes().await,
        t.connector_all_scopes().await,
    );
    t.publish_many(a.company, 3).await;
    t.publish_many(b.company, 3).await;
    let key_of = |page: Value| page["continuationKey"].as_str().unwrap().to_string();
    let a_key = key_of(t.list_exportable(&a, 1, None).await.ok());
    let b_key = key_of(t.list_exportable(&b, 1, None).await.ok());
    let mut forged = a_key.clone().into_bytes();
    forged[5] = if forged[5] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [
        b_key.as_str(),
        forged.as_str(),
        "garbage",
        "e30.e30",
        "null",
    ] {
        let request = t
            .get(&a, "/v1/invoices/exportable")
            .query(&[("continuationKey", bad)]);
        request.call().await.error(400, "INVALID_CONTINUATION_KEY");
    }
    let next = t.list_exportable(&a, 5, Some(&a_key)).await.ok();
    assert_eq!(next["items"].as_array().unwrap().len(), 2);
    t.stop().await;
}

#[tokio::test]
async fn a_bad_reject_or_complete_body_is_a_400_naming_the_field_and_changes_nothing() {
    let (t, a, id) = TestStack::with_one_invoice().await;
    let (reject, complete) = ("reject", "complete");
    for (action, payload, field) in [
        (reject, json!({}), "reason"),
        (reject, json!({"reason": ""}), "reason"),
        (reject, json!({"reason": "   "}), "reason"),
        (reject, json!({"reason": "x".repeat(1001)}), "reason"),
        (reject, json!({"reason": 42}), "reason"),
        (reject, json!({"reason": "ok", "code": 7}), "code"),
        (
            reject,
            json!({"reason": "ok", "unexpected": true}),
            "unexpected",
        ),
        (complete, json!({"externalId": 5}), "externalId"),
        (complete, json!({"externalUrl": "not a url"}), "externalUrl"),
        (complete, json!({"externalId": ""}), "externalId"),
    ] {
        let path = format!("/v1/invoices/{id}/{action}");
        t.post(&a, &path, &payload).await.invalid(field);
    }
    t.assert_untouched(&a, id).await;
    t.stop().await;
}

#[tokio::test]
async fn a_body_cut_short_too_large_or_of_another_type_is_refused_and_changes_nothing() {
    let (t, a, id) = TestStack::with_one_invoice().await;
    let reject = format!("/v1/invoices/{id}/reject");
    let complete = format!("/v1/invoices/{id}/complete");
    let big = format!("{{\"reason\": \"{}\"}}", "x".repeat(1024 * 1024));
    for (path, content_type, body, status, code) in [
        (
            &reject,
            "application/json",
            "{\"reason\": ".to_string(),
            400,
            "VALIDATION_ERROR",
        ),
        (&reject, "application/json", big, 413, "PAYLOAD_TOO_LARGE"),
        (
            &reject,
            "text/plain",
            "{\"reason\":\"x\"}".into(),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            &complete,
            "application/xml",
            "<x/>".into(),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ] {
        let request = t.request_as(&a, reqwest::Method::POST, path);
        let reply = request
            .header("Content-Type", content_type)
            .body(body)
            .call()
            .await;
        let body = reply.error(status, code);
        if status == 400 {
            assert_eq!(error_field(&body), "body");
        }
    }
    t.assert_untouched(&a, id).await;
    t.stop().await;
}

#[tokio::test]
async fn the_token_endpoint_answers_as_cognito_does() {
    let t = TestStack::start().await;
    let a = t.connector(&[Scope::InvoicesRead]).await;
    let (id, secret) = (a.client_id.as_str(), a.client_secret.as_str());
    let grant = ("grant_type", "client_credentials");
    // Form credentials work as well as HTTP Basic (the last two rows).
    for (form, basic, status, error) in [
        (
            vec![grant, ("client_id", id), ("client_secret", secret)],
            false,
            200,
            None,
        ),
        (
            vec![grant, ("client_id", id), ("client_secret", "nope")],
            false,
            401,
            Some("invalid_client"),
        ),
        (
            vec![grant, ("client_id", "nobody"), ("client_secret", "x")],
            false,
            401,
            Some("invalid_client"),
        ),
        (
            vec![grant, ("scope", "ledgerdock/invoices.write")],
            true,
            400,
            Some("invalid_scope"),
        ),
        (
            vec![("grant_type", "password")],
            true,
            400,
            Some("unsupported_grant_type"),
        ),
    ] {
        let mut request = t.http.post(&t.stack.token_url).form(&form);
        if basic {
            request = request.basic_auth(id, Some(secret));
        }
        let reply = request.call().await;
        assert_eq!(reply.status, status, "{form:?}: {}", reply.text);
        match error {
            Some(error) => assert_eq!(reply.json(), json!({"error": error})),
            None => assert_eq!(reply.json()["expires_in"], 3600),
        }
    }
    t.stop().await;
}

#[tokio::test]
async fn the_stack_serves_its_signing_keys_its_health_and_a_json_404_elsewhere() {
    let t = TestStack::start().await;
    let jwks = t
        .http
        .get(t.url("/.well-known/jwks.json"))
        .call()
        .await
        .ok();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert!(jwks["keys"][0]["kid"]
        .as_str()
        .is_some_and(|k| !k.is_empty()));
    assert_eq!(t.http.get(t.url("/health")).call().await.status, 200);
    t.http
        .get(t.url("/v1/nowhere"))
        .call()
        .await
        .error(404, "NOT_FOUND");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dynamodb_that_stops_answering_is_a_503_well_inside_the_function_timeout() {
    use ledgerdock_shared::foundation::sdk::{ATTEMPT_TIMEOUT, OPERATION_TIMEOUT};
    // The stack under test reaches its DynamoDB through a proxy that can be made to hang.
    let (t, proxy, backing) = TestStack::behind_stalling_proxy().await;
    let a = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, 1).await;

    proxy.stall();
    for (method, path) in [
        (reqwest::Method::GET, "/v1/invoices/exportable".to_string()),
        (
            reqwest::Method::POST,
            format!("/v1/invoices/{}/complete", ids[0]),
        ),
    ] {
        let started = std::time::Instant::now();
        let resp = t
            .request(method, &a.token, a.company, &path)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert!(
            resp.headers().contains_key("retry-after"),
            "{path}: {:?}",
            resp.headers()
        );
        let body = Reply::read(resp).await.error(503, "UNAVAILABLE");
        assert!(
            elapsed >= ATTEMPT_TIMEOUT
                && elapsed < OPERATION_TIMEOUT + std::time::Duration::from_secs(2),
            "{path}: answered after {elapsed:?}"
        );
        // API functions time out after 10 s: the client hears a 503 long before a 502.
        assert!(elapsed < std::time::Duration::from_secs(9), "{elapsed:?}");
        let text = body.to_string();
        assert!(
            !text.contains("timeout") && !text.contains("DynamoDB"),
            "{text}"
        );
    }
    // The invoice the stalled complete was about is untouched in the real table.
    let stored = backing
        .stored_in(&t.stack.app.config.table_name, a.company, ids[0])
        .await
        .unwrap();
    assert_eq!(stored.status, InvoiceStatus::ReadyForExport);
    drop(proxy);
    backing.stop().await;
}

#[tokio::test]
async fn the_http_layers_own_refusals_answer_in_the_documented_shapes() {
    let t = TestStack::start().await;
    // A 100 KB client_id is no client: 401 invalid_client, as Cognito answers, never a 500.
    for (id, secret) in [
        ("x".repeat(100_000), "s".to_string()),
        ("ok".into(), "s".repeat(100_000)),
        ("a b".into(), "s".into()),
    ] {
        let (status, body) = t.token_response(&id, &secret).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body, json!({"error": "invalid_client"}));
        let form = t
            .http
            .post(&t.stack.token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), 401);
    }
    // The router's own refusals carry the API's error body.
    for (method, path, status, code) in [
        (reqwest::Method::POST, "/health", 405, "METHOD_NOT_ALLOWED"),
        (
            reqwest::Method::GET,
            "/oauth2/token",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            reqwest::Method::DELETE,
            "/.well-known/jwks.json",
            405,
            "METHOD_NOT_ALLOWED",
        ),
    ] {
        let resp = t.http.request(method, t.url(path)).send().await.unwrap();
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "application/json",
            "{path}"
        );
        Reply::read(resp).await.error(status, code);
    }
    let huge = vec![b'a'; 10 * 1024 * 1024 + 2];
    let resp = t
        .http
        .post(&t.stack.token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    Reply::read(resp).await.error(413, "PAYLOAD_TOO_LARGE");
    t.stop().await;
}

#[tokio::test]
async fn a_query_parameter_an_operation_does_not_take_is_refused_by_name_and_changes_nothing() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let id = t.publish_many(a.company, 1).await[0];
    // A mistyped limit is not silently ignored.
    let body = t
        .fetch(&a, "/v1/invoices/exportable?limt=5")
        .await
        .invalid("limt");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("takes limit, continuationKey"));
    t.post(
        &a,
        &format!("/v1/invoices/{id}/complete?force=true"),
        &json!({}),
    )
    .await
    .invalid("force");
    t.assert_untouched(&a, id).await;
    // The parameters an operation does take still work.
    t.download_url(&a, id, "PDF").await.ok();
    t.stop().await;
}

#[tokio::test]
async fn a_known_path_asked_with_another_method_is_a_405_naming_the_methods_it_takes() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let id = t.publish_many(a.company, 1).await[0];
    for (method, path, allow) in [
        (reqwest::Method::DELETE, format!("/v1/invoices/{id}"), "GET"),
        (reqwest::Method::PUT, "/v1/import-jobs".to_string(), "POST"),
        (
            reqwest::Method::GET,
            format!("/v1/invoices/{id}/complete"),
            "POST",
        ),
    ] {
        let resp = t
            .http
            .request(method.clone(), t.url(&path))
            .bearer_auth(&a.token)
            .header("Lightyear-Company-ID", a.company.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["allow"], allow, "{method} {path}");
        assert!(resp.headers().contains_key("x-request-id"));
        Reply::read(resp).await.error(405, "METHOD_NOT_ALLOWED");
    }
    t.assert_untouched(&a, id).await;
    // An unknown path is still a 404.
    let resp = t.get(&a, "/v1/nothing-here").send().await.unwrap();
    Reply::read(resp).await.error(404, "NOT_FOUND");
    t.stop().await;
}

#[tokio::test]
async fn complete_takes_any_absolute_http_url_up_to_its_length_limit() {
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let ids = t.publish_many(a.company, 2).await;
    let long = format!("https://erp.example/{}", "x".repeat(2048));
    t.post(
        &a,
        &format!("/v1/invoices/{}/complete", ids[0]),
        &json!({"externalUrl": long}),
    )
    .await
    .invalid("externalUrl");
    t.assert_untouched(&a, ids[0]).await;
    for url in ["HTTP://0", "https://x"] {
        let id = if url.starts_with("HTTP") {
            ids[0]
        } else {
            ids[1]
        };
        let done = t.complete(&a, id, &json!({"externalUrl": url})).await.ok();
        assert_eq!(done["export"]["externalUrl"], url);
    }
    t.stop().await;
}

#[tokio::test]
async fn the_dev_stack_serves_the_openapi_document_pointing_at_itself_and_a_reference_rendered_from_it(
) {
    let t = TestStack::start().await;
    let resp = t.http.get(t.url("/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let doc: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], t.stack.api_url.as_str());
    assert_eq!(
        doc["components"]["securitySchemes"]["clientCredentials"]["flows"]["clientCredentials"]
            ["tokenUrl"],
        t.stack.token_url.as_str()
    );
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|path| path.as_object().unwrap().len())
        .sum();
    assert_eq!(operations, ledgerdock_shared::handlers::ROUTES.len());

    // And a reference a person reads, rendered from it, with no token needed.
    let page = t.http.get(t.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = page.text().await.unwrap();
    for route in ledgerdock_shared::handlers::ROUTES {
        assert!(
            page.contains(&format!(
                "<code>{}</code></h3>",
                route.path.replace('&', "&amp;")
            )),
            "{} is not in /docs",
            route.path
        );
    }
    assert!(page.contains(t.stack.token_url.as_str()));
    t.stop().await;
}
