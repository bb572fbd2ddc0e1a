//! Who may do what: the isolation matrix over every route, grants versus token scopes,
//! revoke / delete / rotate taking effect without a redeploy, and per-client rate limits with
//! their headers and usage counts.

use ledgerdock_shared::domain::Scope;
use ledgerdock_shared::domain::{CompanyId, DocumentFormat, InvoiceId, InvoiceStatus};
use ledgerdock_shared::gate::Route;
use ledgerdock_shared::handlers::{
    invoices::complete_invoice_export, invoices::list_exportable_invoices, ROUTES,
};
use ledgerdock_tests::*;
use reqwest::Method;
use serde_json::{json, Value};

/// One company's resources, one of each kind the routes address.
struct Resources {
    company: CompanyId,
    to_complete: InvoiceId,
    to_reject: InvoiceId,
    job: String,
    supplier: String,
    /// The key of one record of each other kind of master data (a GL account, a tax code, a
    /// tracking category, a purchase order).
    master: String,
    /// A webhook subscription (a client's own: see `subscribed`), and where they point.
    subscription: String,
    hook_url: String,
    /// An `invoice.exported` event of its feed.
    event: String,
}

/// Subscribes the client holding `token` to `company`'s exports at `url`; the id. A client
/// that may not read invoices cannot subscribe to them (a 403): its subscription is one made
/// while it still could, written as the create call writes it.
async fn subscribed(
    t: &TestStack,
    (client_id, token): (&str, &str),
    scopes: &[Scope],
    company: CompanyId,
    url: &str,
) -> String {
    if !scopes.contains(&Scope::InvoicesRead) {
        let events = [ledgerdock_shared::domain::webhook::EventType::InvoiceExported];
        let (made, _) = t.put_subscription(company, client_id, url, &events).await;
        return made.id.to_string();
    }
    let reply = t
        .request(Method::POST, token, company, "/v1/webhook-subscriptions")
        .json(&json!({"url": url, "events": ["invoice.exported"]}))
        .call()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json()["id"].as_str().unwrap().to_string()
}

/// `prefix` keeps each company's supplier ids distinct.
async fn resources(
    t: &TestStack,
    prefix: &str,
    receiver: &ledgerdock_tests::receiver::Receiver,
) -> (Resources, Connector) {
    let owner = t.connector_all_scopes().await;
    let to_complete = t
        .publish(
            owner.company,
            1,
            "2026-11-01T08:00:00Z",
            &[DocumentFormat::Pdf],
        )
        .await;
    let to_reject = t
        .publish(
            owner.company,
            1,
            "2026-11-01T09:00:00Z",
            &[DocumentFormat::Pdf],
        )
        .await;
    let job = t.import_json(&owner, &supplier_records(prefix, 2)).await;
    let job = job["jobId"].as_str().unwrap().to_string();
    t.wait_for_job(&owner, &job).await;
    let master = format!("{prefix}-M1");
    t.import_one_of_each(&owner, &master, &format!("{prefix}00001"))
        .await;
    let exported = t.publish_many(owner.company, 1).await[0];
    t.complete(&owner, exported, &json!({})).await.ok();
    let event = t
        .read_feed_of(&owner, "types=invoice.exported", 1, 100)
        .await
        .ids()[0]
        .to_string();
    let hook_url = receiver.url.clone();
    let subscription = subscribed(
        t,
        (&owner.client_id, &owner.token),
        &Scope::ALL,
        owner.company,
        &hook_url,
    )
    .await;
    let resources = Resources {
        company: owner.company,
        to_complete,
        to_reject,
        job,
        supplier: format!("{prefix}00001"),
        master,
        subscription,
        hook_url,
        event,
    };
    (resources, owner)
}

/// The request a route gets, aimed at `target`'s resources.
fn call(
    t: &TestStack,
    route: &Route,
    token: &str,
    header: CompanyId,
    target: &Resources,
) -> reqwest::RequestBuilder {
    let method: Method = route.method.parse().unwrap();
    let path = route
        .path
        .replace(
            "{invoiceId}",
            &match route.function {
                "reject-invoice-export" => target.to_reject,
                _ => target.to_complete,
            }
            .to_string(),
        )
        .replace("{jobId}", &target.job)
        .replace("{externalId}", &target.supplier)
        .replace("{code}", &target.master)
        .replace("{category}", &target.master)
        .replace("{poNumber}", &target.master)
        .replace("{subscriptionId}", &target.subscription)
        .replace("{eventId}", &target.event);
    let request = t.request(method, token, header, &path);
    match route.function {
        "get-invoice-download-url" => request.query(&[("format", "PDF")]),
        "complete-invoice-export" => request.json(&json!({"externalId": "ERP-1"})),
        "reject-invoice-export" => request.json(&json!({"reason": "duplicate"})),
        "bulk-complete-invoice-exports" => request.json(&json!({"items": [
            {"invoiceId": target.to_complete, "externalId": "ERP-1"}
        ]})),
        "bulk-reject-invoice-exports" => request.json(&json!({"items": [
            {"invoiceId": target.to_reject, "reason": "duplicate"}
        ]})),
        "start-import-job" => request.json(&json!({"type": "SUPPLIER_CARDS", "records": []})),
        "create-webhook-subscription" => request.json(&json!({
            "url": target.hook_url, "events": ["invoice.exported"]
        })),
        "update-webhook-subscription" => request.json(&json!({"enabled": false})),
        "recover-webhook-deliveries" => request.json(&json!({"since": "2020-01-01T00:00:00Z"})),
        _ => request,
    }
}

fn success(route: &Route) -> u16 {
    match route.function {
        "start-import-job" | "recover-webhook-deliveries" | "resend-webhook-delivery" => 202,
        "create-webhook-subscription" => 201,
        "delete-webhook-subscription" => 204,
        _ => 200,
    }
}

/// A route's status for a client granted `scopes` (the route's among them) on its own
/// company: its success, except that subscribing to invoice events, or having them sent
/// again, needs invoices.read.
fn success_with(route: &Route, scopes: &[Scope]) -> u16 {
    let tells_of_invoices = [
        "create-webhook-subscription",
        "recover-webhook-deliveries",
        "resend-webhook-delivery",
    ];
    if tells_of_invoices.contains(&route.function) && !scopes.contains(&Scope::InvoicesRead) {
        403
    } else {
        success(route)
    }
}

/// Routes that address one resource by id in their path (the others list or create, or
/// name their invoices in the body).
fn addresses_a_resource(route: &Route) -> bool {
    route.path.contains('{')
}

/// Bulk routes: their invoices are named in the body, and each answers in its own result.
fn addresses_resources_in_its_body(route: &Route) -> bool {
    route.function.starts_with("bulk-")
}

/// Sends a route's request; its status and body (null when the body is not JSON).
async fn status_and_body(request: reqwest::RequestBuilder) -> (u16, Value) {
    let reply = request.call().await;
    (
        reply.status,
        serde_json::from_str(&reply.text).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn isolation_matrix_every_route_every_scope() {
    // The feed serves events at once, so B's would be there to leak.
    let t = TestStack::start_with(settling_fast()).await;
    let receiver = ledgerdock_tests::receiver::Receiver::start().await;
    let (mut a, _) = resources(&t, "A", &receiver).await;
    let (b, b_owner) = resources(&t, "B", &receiver).await;
    let b_jobs_before = t.count_items(b.company, "IMPORTJOB#").await;
    let b_job_before = t.job(&b_owner, &b.job).await;

    let scope_sets: Vec<Vec<Scope>> = std::iter::once(Scope::ALL.to_vec())
        .chain(Scope::ALL.iter().map(|s| vec![*s]))
        .collect();
    for scopes in &scope_sets {
        let (credentials, token) = t.client_for(&[a.company], scopes, 10_000).await;
        for route in ROUTES {
            let allowed = route.scopes.iter().any(|s| scopes.contains(s));
            let label = format!("{} with {scopes:?}", route.function);
            if allowed && route.path.contains("{subscriptionId}") {
                // A subscription is its client's own: this client's, made for this call.
                a.subscription = subscribed(
                    &t,
                    (&credentials.client_id, &token),
                    scopes,
                    a.company,
                    &a.hook_url,
                )
                .await;
            }

            // Its own company and resources.
            let (status, body) = status_and_body(call(&t, route, &token, a.company, &a)).await;
            let expected = if allowed {
                success_with(route, scopes)
            } else {
                403
            };
            assert_eq!(status, expected, "own company: {label}: {body}");

            // Another company's header: never granted.
            let (status, body) = status_and_body(call(&t, route, &token, b.company, &b)).await;
            assert_eq!(status, 403, "other company's header: {label}: {body}");
            if !allowed {
                // Without the route's scope the token itself is refused at the gateway.
                continue;
            }
            assert_eq!(body["error"]["code"], "FORBIDDEN", "{label}");

            // Its own header on the other company's resources: they do not exist for it.
            let (status, body) = status_and_body(call(&t, route, &token, a.company, &b)).await;
            if addresses_a_resource(route) {
                assert_eq!(status, 404, "other company's resource: {label}: {body}");
                assert_eq!(body["error"]["code"], "NOT_FOUND");
            } else if addresses_resources_in_its_body(route) {
                assert_eq!(status, 200, "{label}: {body}");
                assert_eq!(body["failed"], 1, "{label}: {body}");
                let result = &body["results"][0];
                assert_eq!(result["status"], 404, "other company's invoice: {label}");
                assert_eq!(result["error"]["code"], "NOT_FOUND", "{label}");
                assert!(result.get("invoice").is_none(), "{label}: {body}");
            } else {
                assert_eq!(status, success_with(route, scopes), "{label}: {body}");
                let text = body.to_string();
                for foreign in [
                    b.to_complete.to_string(),
                    b.to_reject.to_string(),
                    b.job.clone(),
                    b.supplier.clone(),
                    b.master.clone(),
                ] {
                    assert!(!text.contains(&foreign), "{label} leaked {foreign}");
                }
            }
        }
    }

    // Nothing of B's changed.
    for invoice in [b.to_complete, b.to_reject] {
        let stored = t.stored(b.company, invoice).await.unwrap();
        assert_eq!(stored.status, InvoiceStatus::ReadyForExport);
    }
    assert_eq!(t.count_items(b.company, "IMPORTJOB#").await, b_jobs_before);
    assert_eq!(t.job(&b_owner, &b.job).await, b_job_before);
    assert_eq!(t.count_items(b.company, "SUPPLIER#").await, 2);
    // And A's own writes happened exactly as asked.
    assert_eq!(
        t.stored(a.company, a.to_complete).await.unwrap().status,
        InvoiceStatus::Exported
    );
    assert_eq!(
        t.stored(a.company, a.to_reject).await.unwrap().status,
        InvoiceStatus::Rejected
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_limits_its_company_even_when_the_token_carries_more() {
    let t = TestStack::start().await;
    let receiver = ledgerdock_tests::receiver::Receiver::start().await;
    let (a, _) = resources(&t, "A", &receiver).await;
    let (b, _) = resources(&t, "B", &receiver).await;
    let admin = t.admin();
    // Read-only at A, write at B: the token carries both scopes (the union of its grants).
    let (credentials, _) = t
        .client_for(&[a.company], &[Scope::InvoicesRead], 10_000)
        .await;
    let (view, _) = admin
        .grant(
            &credentials.client_id,
            b.company,
            Some(&[Scope::InvoicesWrite]),
        )
        .await
        .unwrap();
    assert_eq!(view.scopes, ["invoices.read", "invoices.write"]);
    let token = t
        .token(&credentials.client_id, &credentials.client_secret, None)
        .await;
    let complete = &complete_invoice_export::ROUTE;
    let resp = call(&t, complete, &token, a.company, &a).call().await;
    let body = resp.error(403, "FORBIDDEN");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invoices.write"));
    assert_eq!(
        t.stored(a.company, a.to_complete).await.unwrap().status,
        InvoiceStatus::ReadyForExport
    );
    let resp = call(&t, complete, &token, b.company, &b).call().await;
    assert_eq!(resp.status, 200);
    let list = &list_exportable_invoices::ROUTE;
    let resp = call(&t, list, &token, b.company, &b).call().await;
    resp.error(403, "FORBIDDEN");
    t.stop().await;
}

/// A client granted two companies for reading, as an operator makes it: its credentials and
/// its connector for each company.
async fn reader_of_two(
    t: &TestStack,
) -> (ledgerdock_infra::clients::Credentials, Connector, Connector) {
    let (a, b) = (CompanyId::new_random(), CompanyId::new_random());
    let (credentials, token) = t.client_for(&[a, b], &[Scope::InvoicesRead], 10_000).await;
    let on = |company| Connector {
        company,
        client_id: credentials.client_id.clone(),
        client_secret: credentials.client_secret.clone(),
        token: token.clone(),
    };
    let (on_a, on_b) = (on(a), on(b));
    (credentials, on_a, on_b)
}

const EXPORTABLE: &str = "/v1/invoices/exportable";

#[tokio::test]
async fn a_revoked_company_is_refused_at_once_and_the_other_is_unaffected() {
    let t = TestStack::start().await;
    let (credentials, on_a, on_b) = reader_of_two(&t).await;
    t.fetch(&on_b, EXPORTABLE).await.ok();
    let (view, disabled) = t
        .admin()
        .revoke(&credentials.client_id, on_b.company)
        .await
        .unwrap();
    assert_eq!(view.grants.len(), 1);
    assert_eq!(disabled, 0, "it had no webhook subscriptions");
    t.fetch(&on_b, EXPORTABLE).await.error(403, "FORBIDDEN");
    t.fetch(&on_a, EXPORTABLE).await.ok();
    let again = t.admin().revoke(&credentials.client_id, on_b.company).await;
    assert!(again.is_err(), "no grant left to revoke");
    t.stop().await;
}

#[tokio::test]
async fn a_rotated_secret_refuses_the_old_one_and_tokens_already_issued_still_work() {
    let t = TestStack::start().await;
    let (credentials, on_a, _) = reader_of_two(&t).await;
    let id = &credentials.client_id;
    let rotated = t.admin().rotate_secret(id).await.unwrap();
    assert_eq!(&rotated.client_id, id);
    assert!(rotated.replaced_client_id.is_none());
    let old = t.token_response(id, &credentials.client_secret).await;
    assert_eq!(old, (401, json!({"error": "invalid_client"})));
    assert_eq!(t.token_response(id, &rotated.client_secret).await.0, 200);
    t.fetch(&on_a, EXPORTABLE).await.ok();
    t.stop().await;
}

#[tokio::test]
async fn a_deleted_client_gets_no_token_and_its_unexpired_one_stops_working() {
    let t = TestStack::start().await;
    let (credentials, on_a, _) = reader_of_two(&t).await;
    let (id, admin) = (&credentials.client_id, t.admin());
    assert_eq!(
        admin.delete(id).await.unwrap(),
        0,
        "no subscriptions to delete"
    );
    let refused = t.token_response(id, &credentials.client_secret).await;
    assert_eq!(refused, (401, json!({"error": "invalid_client"})));
    t.fetch(&on_a, EXPORTABLE).await.error(403, "FORBIDDEN");
    assert!(admin.show(id).await.is_err());
    assert!(admin
        .list()
        .await
        .unwrap()
        .iter()
        .all(|c| &c.client_id != id));
    t.stop().await;
}

/// A second client of `a`'s company, allowed 5 requests a minute, with its token; returned
/// with enough of the calendar minute left for a few quick calls.
async fn client_allowed_five(
    t: &TestStack,
    a: &Connector,
    scopes: &[Scope],
) -> (String, Connector) {
    let second = chrono::Timelike::second(&chrono::Utc::now());
    if second > 45 {
        tokio::time::sleep(std::time::Duration::from_secs(u64::from(61 - second))).await;
    }
    let (credentials, token) = t.client_for(&[a.company], scopes, 5).await;
    (credentials.client_id, Connector { token, ..a.clone() })
}

fn header(reply: &Reply, name: &str) -> u64 {
    reply.headers[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_counts_down_then_answers_429_and_changes_nothing() {
    let (t, a, id) = TestStack::with_one_invoice().await;
    let (_, limited) = client_allowed_five(&t, &a, &Scope::ALL).await;
    for expected_remaining in (0..5).rev() {
        let reply = t.invoice(&limited, id).await;
        assert_eq!(reply.status, 200);
        assert_eq!(header(&reply, "x-ratelimit-limit"), 5);
        assert_eq!(header(&reply, "x-ratelimit-remaining"), expected_remaining);
        assert!((1..=60).contains(&header(&reply, "x-ratelimit-reset")));
    }
    // The sixth, a write: refused before it does anything.
    let reply = t.complete(&limited, id, &json!({})).await;
    assert_eq!(header(&reply, "x-ratelimit-remaining"), 0);
    let retry_after = header(&reply, "retry-after");
    assert!((1..=60).contains(&retry_after));
    assert_eq!(header(&reply, "x-ratelimit-reset"), retry_after);
    reply.error(429, "RATE_LIMITED");
    t.assert_untouched(&a, id).await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_over_the_limit_is_refused_too_and_another_client_has_its_own_budget() {
    let (t, a, id) = TestStack::with_one_invoice().await;
    let (_, limited) = client_allowed_five(&t, &a, &[Scope::InvoicesRead]).await;
    for _ in 0..5 {
        assert_eq!(t.invoice(&limited, id).await.status, 200);
    }
    // It ran alongside the count; its answer is dropped.
    let reply = t.fetch(&limited, "/v1/invoices/exportable").await;
    assert_eq!(header(&reply, "x-ratelimit-remaining"), 0);
    reply.error(429, "RATE_LIMITED");
    let (_, other) = client_allowed_five(&t, &a, &[Scope::InvoicesRead]).await;
    t.fetch(&other, "/v1/invoices/exportable").await.ok();
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clients_usage_counts_its_requests_per_day_by_route_refused_ones_too() {
    let (t, a, id) = TestStack::with_one_invoice().await;
    let (client_id, limited) = client_allowed_five(&t, &a, &Scope::ALL).await;
    for _ in 0..5 {
        t.invoice(&limited, id).await.ok();
    }
    t.complete(&limited, id, &json!({}))
        .await
        .error(429, "RATE_LIMITED");
    t.fetch(&limited, "/v1/invoices/exportable")
        .await
        .error(429, "RATE_LIMITED");
    let usage = t.admin().show(&client_id).await.unwrap().usage.unwrap();
    let today = usage.values().next_back().unwrap();
    assert_eq!(today.get("get-invoice"), Some(&5));
    assert_eq!(today.get("complete-invoice-export"), Some(&1));
    assert_eq!(today.get("list-exportable-invoices"), Some(&1));
    t.stop().await;
}
