//! Functions invoked directly, with their own state, as Lambda would: an API function given an
//! event without authorizer claims (as `sam local` delivers it), and the publish-invoice
//! function given its event.

use ledgerdock_infra::dev::oauth::TokenIssuer;
use ledgerdock_shared::domain::{DocumentFormat, Scope};
use ledgerdock_tests::*;
use serde_json::json;

/// An API Gateway (REST, payload v1) event as `sam local start-api` delivers it: a request
/// context, but no authorizer claims, since SAM runs no Cognito authorizer.
fn claimless_event(
    path: &str,
    token: Option<&str>,
    company: ledgerdock_shared::domain::CompanyId,
) -> lambda_http::Request {
    use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    let mut context = ApiGatewayProxyRequestContext::default();
    context.request_id = Some(uuid::Uuid::new_v4().to_string());
    context.stage = Some("Prod".into());
    context.resource_path = Some(path.into());
    let mut builder = http::Request::builder()
        .method("GET")
        .uri(path)
        .header("Lightyear-Company-ID", company.to_string());
    if let Some(token) = token {
        builder = builder.header("Authorization", format!("Bearer {token}"));
    }
    builder
        .body(lambda_http::Body::Empty)
        .unwrap()
        .with_request_context(RequestContext::ApiGatewayV1(context))
}

#[tokio::test(flavor = "multi_thread")]
async fn without_authorizer_claims_a_function_verifies_the_token_only_where_given_a_jwks() {
    use ledgerdock_shared::edge::config::TokenKeys;
    use ledgerdock_shared::gate::serve;
    use ledgerdock_shared::handlers::{
        invoices::complete_invoice_export, invoices::list_exportable_invoices,
    };
    let t = TestStack::start().await;
    let a = t.connector(&[Scope::InvoicesRead]).await;
    let ids = t.publish_many(a.company, 2).await;
    let list = &list_exportable_invoices::ROUTE;
    let status = |response: lambda_http::Response<lambda_http::Body>| {
        let code = response.status().as_u16();
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        (code, body)
    };

    // As deployed in AWS (no JWKS setting): a claim-less event is a 401, token or not.
    let app = &t.stack.functions.of("list-exportable-invoices");
    let (code, body) = status(
        serve(
            app,
            list,
            claimless_event("/v1/invoices/exportable", Some(&a.token), a.company),
        )
        .await,
    );
    assert_eq!(code, 401, "{body}");
    assert_eq!(body["error"]["code"], "UNAUTHENTICATED");

    // As sam local runs it: the same handler verifies the bearer token against the JWKS.
    let mut config = app.config.clone();
    config.token_keys = Some(TokenKeys {
        jwks_url: format!("{}/.well-known/jwks.json", t.stack.api_url),
        issuer: t.stack.api.issuer.issuer().to_string(),
    });
    // Signed as the function itself, as sam local's container would be with its own role.
    let (dynamodb, s3) = ledgerdock_infra::dev::local_sdk_as(
        &ledgerdock_infra::dev::iam::access_key_of("list-exportable-invoices"),
        &t.stack.dynamodb_url,
        &t.stack.s3_url,
    );
    let local = ledgerdock_shared::AppState::with_sdk(config, dynamodb, s3, t.stack.sqs.clone());
    let (code, body) = status(
        serve(
            &local,
            list,
            claimless_event("/v1/invoices/exportable", Some(&a.token), a.company),
        )
        .await,
    );
    assert_eq!(code, 200, "{body}");
    let listed: Vec<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        listed,
        ids.iter().map(|id| id.to_string()).collect::<Vec<_>>()
    );

    // ...and still refuses what the authorizer would: no token, another key's, a forged one,
    // and a scope the token lacks.
    let (foreign, _) = TokenIssuer::generate(t.stack.api.issuer.issuer()).unwrap();
    let other_key = foreign.issue(&a.client_id, &Scope::ALL).unwrap();
    let mut forged = a.token.clone();
    forged.insert(forged.len() / 2, 'x');
    for token in [None, Some(other_key.as_str()), Some(forged.as_str())] {
        let (code, body) = status(
            serve(
                &local,
                list,
                claimless_event("/v1/invoices/exportable", token, a.company),
            )
            .await,
        );
        assert_eq!(code, 401, "{token:?}: {body}");
    }
    let complete = &complete_invoice_export::ROUTE;
    let mut event = claimless_event(
        &format!("/v1/invoices/{}/complete", ids[0]),
        Some(&a.token),
        a.company,
    );
    *event.method_mut() = http::Method::POST;
    let (code, body) = status(serve(&local, complete, event).await);
    assert_eq!(code, 403, "{body}");
    t.assert_untouched(&a, ids[0]).await;
    t.stop().await;
}

#[tokio::test]
async fn publish_invoice_events_find_documents_at_the_documented_lower_case_keys() {
    use ledgerdock_shared::handlers::invoices::publish_invoice::{handle, PublishInvoiceEvent};
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let app = &t.stack.functions.of("publish-invoice");
    let id = ledgerdock_shared::domain::InvoiceId::new_random();
    // docs/operations.md: `documents/<companyId>/<invoiceId>/<format>`, format in lower case.
    let s3 = &t.stack.s3;
    let put = |key: String, bytes: Vec<u8>| async move {
        s3.put_object()
            .bucket(&app.config.bucket_name)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    };
    put(
        format!("documents/{}/{id}/pdf", a.company),
        sample(DocumentFormat::Pdf),
    )
    .await;
    put(
        format!("documents/{}/{id}/PNG", a.company),
        sample(DocumentFormat::Png),
    )
    .await;
    let event = |formats: serde_json::Value| -> PublishInvoiceEvent {
        let mut invoice = invoice_json(2, "2026-11-01T09:00:00Z");
        invoice["invoiceId"] = json!(id.to_string());
        serde_json::from_value(json!({
            "companyId": a.company.to_string(),
            "invoice": invoice,
            "documents": formats,
        }))
        .unwrap()
    };
    // A file at an upper-case key is not where the contract says: refused, nothing stored.
    let err = handle(
        app,
        event(json!([{"format": "PNG", "fileName": "scan.png"}])),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ledgerdock_shared::ApiError::Validation { details, .. }
            if details[0].field == "documents"
                && details[0].message.contains(&format!("documents/{}/{id}/png", a.company))),
        "{err:?}"
    );
    assert!(t.stored(a.company, id).await.is_none());

    let done = handle(
        app,
        event(json!([{"format": "PDF", "fileName": "INV-1.pdf"}])),
    )
    .await
    .unwrap();
    assert_eq!(done.outcome, "CREATED");
    let detail = t.invoice(&a, id).await.ok();
    assert_eq!(detail["documents"][0]["fileName"], "INV-1.pdf");
    assert_eq!(
        detail["documents"][0]["sizeBytes"],
        sample(DocumentFormat::Pdf).len()
    );
    t.stop().await;
}
