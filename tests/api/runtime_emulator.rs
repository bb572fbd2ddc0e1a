//! Every function binary, run under AWS's Lambda runtime interface emulator with the event
//! shapes AWS sends (the payloads `sam local generate-event` writes, in infra/events), pointed
//! at a dev stack: each answer is what API Gateway or the invoker expects, errors included, and
//! no function crashes, hangs or prints a secret.

use std::time::Duration;

use ledgerdock_infra::dev::engines::LOCAL_SECRET_KEY;
use ledgerdock_tests::emulator::{runtime_interface_emulator, EmulatedFunction};
use ledgerdock_tests::events::{api_event, event, set_body, set_header, set_path_param, set_query};
use ledgerdock_tests::*;
use serde_json::{json, Value};

/// API Gateway functions run for at most 10 s (template.yaml Globals).
const API_TIMEOUT: Duration = Duration::from_secs(10);

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Invokes an API function with a proxy `event` and checks its answer as [`proxy_response`]
/// does; its status and body.
async fn invoke_api(
    function: &EmulatedFunction,
    http: &reqwest::Client,
    event: &Value,
) -> (u16, Value) {
    let request_id = event["requestContext"]["requestId"].as_str().unwrap();
    let answer = function.invoke(http, event).await;
    proxy_response(&function.name, &answer, request_id)
}

/// Checks `answer` is a REST proxy integration response as API Gateway documents it, with a
/// JSON body in the API's format; returns its status and body.
fn proxy_response(function: &str, answer: &Value, request_id: &str) -> (u16, Value) {
    let fail = |what: &str| -> ! { panic!("{function}: {what}: {answer}") };
    let status = answer["statusCode"]
        .as_u64()
        .filter(|s| (100..600).contains(s))
        .unwrap_or_else(|| fail("statusCode must be an HTTP status number"));
    let headers = answer["headers"]
        .as_object()
        .unwrap_or_else(|| fail("headers must be an object"));
    assert!(
        headers.values().all(Value::is_string),
        "{function}: header values must be strings: {answer}"
    );
    if let Some(multi) = answer.get("multiValueHeaders").filter(|m| !m.is_null()) {
        let multi = multi
            .as_object()
            .unwrap_or_else(|| fail("multiValueHeaders must be an object"));
        assert!(
            multi
                .values()
                .all(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string))),
            "{function}: multiValueHeaders values must be string arrays: {answer}"
        );
    }
    assert_eq!(
        answer["isBase64Encoded"],
        json!(false),
        "{function}: JSON bodies are sent as text: {answer}"
    );
    if status == 204 {
        assert!(
            answer["body"].as_str().is_none_or(str::is_empty),
            "{function}: a 204 has no body: {answer}"
        );
        return (204, Value::Null);
    }
    // API Gateway merges `headers` and `multiValueHeaders` (lambda_http fills the latter).
    let content_type = headers
        .iter()
        .map(|(k, v)| (k, v.clone()))
        .chain(
            answer["multiValueHeaders"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k, v[0].clone())),
        )
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .and_then(|(_, v)| v.as_str().map(str::to_string))
        .unwrap_or_else(|| fail("no content-type"));
    assert!(
        content_type.starts_with("application/json"),
        "{function}: {answer}"
    );
    let body: Value = serde_json::from_str(
        answer["body"]
            .as_str()
            .unwrap_or_else(|| fail("body must be a string")),
    )
    .unwrap_or_else(|_| fail("body must be JSON"));
    if status >= 400 {
        let error = &body["error"];
        assert!(
            error["code"].as_str().is_some_and(|c| !c.is_empty())
                && error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{function}: error body: {answer}"
        );
        assert_eq!(
            error["requestId"],
            json!(request_id),
            "{function}: {answer}"
        );
    }
    (status as u16, body)
}

struct Case {
    what: &'static str,
    event: Value,
    status: u16,
    /// The error code a refusal carries (None: a success).
    code: Option<&'static str>,
}

/// The cases each function runs, grouped by function in the order they were added.
struct Plan<'a> {
    tenant: &'a Connector,
    functions: Vec<(&'static str, Vec<Case>)>,
}

impl Plan<'_> {
    /// A case of `function`: its generated event for the tenant, changed by `change`, must be
    /// answered with `status` (and, for a refusal, the error `code`).
    fn case(
        &mut self,
        function: &'static str,
        what: &'static str,
        change: impl Fn(&mut Value),
        status: u16,
        code: Option<&'static str>,
    ) {
        let mut event = api_event(function, self.tenant);
        change(&mut event);
        let case = Case {
            what,
            event,
            status,
            code,
        };
        match self.functions.iter_mut().find(|(f, _)| *f == function) {
            Some((_, cases)) => cases.push(case),
            None => self.functions.push((function, vec![case])),
        }
    }
}

/// The two refusals every API function gives: no authorizer claims and no token it can
/// verify (401), and a company its client was not granted (403).
fn common_refusals(function: &str, tenant: &Connector, stranger: &Connector) -> Vec<Case> {
    let mut unauthenticated = api_event(function, tenant);
    unauthenticated["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    set_header(&mut unauthenticated, "Authorization", "Bearer not-a-token");
    let mut foreign = api_event(function, tenant);
    set_header(
        &mut foreign,
        "Lightyear-Company-ID",
        &stranger.company.to_string(),
    );
    vec![
        Case {
            what: "without claims or a valid token",
            event: unauthenticated,
            status: 401,
            code: Some("UNAUTHENTICATED"),
        },
        Case {
            what: "for a company not granted",
            event: foreign,
            status: 403,
            code: Some("FORBIDDEN"),
        },
    ]
}

#[tokio::test]
async fn every_api_function_answers_real_proxy_events_with_documented_proxy_responses() {
    let Some(rie) = runtime_interface_emulator() else {
        return;
    };
    let t = TestStack::start().await;
    let tenant = t.connector_all_scopes().await;
    let stranger = t.connector_all_scopes().await;
    let invoices = t.publish_many(tenant.company, 4).await;
    let (first, second) = (invoices[0].to_string(), invoices[1].to_string());
    let (third, fourth) = (invoices[2].to_string(), invoices[3].to_string());
    let stranger_invoice = t.publish_many(stranger.company, 1).await[0];
    let job = t.import_json(&tenant, &supplier_records("RIE-", 1)).await;
    let job_id = job["jobId"].as_str().unwrap().to_string();
    assert_eq!(t.wait_for_job(&tenant, &job_id).await["status"], "FINISHED");

    let mut plan = Plan {
        tenant: &tenant,
        functions: Vec::new(),
    };
    let (bad, none) = (Some("VALIDATION_ERROR"), Some("NOT_FOUND"));
    let invoice = |id: &str| {
        let id = id.to_string();
        move |e: &mut Value| set_path_param(e, "invoiceId", &id)
    };
    plan.case(
        "list-exportable-invoices",
        "a first page",
        |_| {},
        200,
        None,
    );
    plan.case(
        "list-exportable-invoices",
        "a continuation key it did not issue",
        |e| set_query(e, "continuationKey", "bm90LWEta2V5"),
        400,
        Some("INVALID_CONTINUATION_KEY"),
    );
    plan.case("get-invoice", "an invoice", invoice(&first), 200, None);
    plan.case(
        "get-invoice",
        "a malformed invoice id",
        invoice("INV%201"),
        400,
        bad,
    );
    plan.case(
        "get-invoice-history",
        "an invoice's history",
        invoice(&first),
        200,
        None,
    );
    plan.case(
        "get-invoice-history",
        "an invoice that does not exist",
        invoice("5b7e4d1a-0c3f-4a8e-9b21-000000000000"),
        404,
        none,
    );
    plan.case(
        "get-invoice-download-url",
        "its PDF",
        invoice(&first),
        200,
        None,
    );
    plan.case(
        "get-invoice-download-url",
        "a format it does not have",
        |e| {
            invoice(&first)(e);
            set_query(e, "format", "tiff")
        },
        404,
        none,
    );
    plan.case(
        "claim-invoice-exports",
        "a claim, by the client that completes them below",
        |_| {},
        200,
        None,
    );
    plan.case(
        "claim-invoice-exports",
        "a lease too short",
        |e| set_body(e, r#"{"leaseSeconds": 5}"#),
        400,
        bad,
    );
    plan.case(
        "complete-invoice-export",
        "an export",
        invoice(&first),
        200,
        None,
    );
    plan.case(
        "complete-invoice-export",
        "a body that is not an object",
        |e| {
            invoice(&second)(e);
            set_body(e, "[1]")
        },
        400,
        bad,
    );
    plan.case(
        "reject-invoice-export",
        "an already exported invoice",
        invoice(&first),
        409,
        Some("INVALID_STATE_TRANSITION"),
    );
    plan.case(
        "reject-invoice-export",
        "a rejection",
        invoice(&second),
        200,
        None,
    );
    let items = |items: Value| {
        let body = json!({ "items": items }).to_string();
        move |e: &mut Value| set_body(e, &body)
    };
    plan.case(
        "bulk-complete-invoice-exports",
        "an export of one invoice and one another company's (a 404 item)",
        items(json!([{"invoiceId": third}, {"invoiceId": stranger_invoice}])),
        200,
        None,
    );
    plan.case(
        "bulk-complete-invoice-exports",
        "the same invoice twice",
        items(json!([{"invoiceId": fourth}, {"invoiceId": fourth}])),
        400,
        bad,
    );
    plan.case(
        "bulk-reject-invoice-exports",
        "a rejection",
        items(json!([{"invoiceId": fourth, "reason": "duplicate"}])),
        200,
        None,
    );
    plan.case(
        "bulk-reject-invoice-exports",
        "an item without a reason",
        items(json!([{"invoiceId": fourth}])),
        400,
        bad,
    );
    plan.case("start-import-job", "inline records", |_| {}, 202, None);
    plan.case(
        "start-import-job",
        "an unknown import type",
        |e| set_body(e, r#"{"type": "NOPE"}"#),
        400,
        bad,
    );
    plan.case(
        "get-import-job",
        "a job",
        |e| set_path_param(e, "jobId", &job_id),
        200,
        None,
    );
    plan.case(
        "get-import-job",
        "a job that does not exist",
        |_| {},
        404,
        none,
    );
    plan.case("list-suppliers", "a first page", |_| {}, 200, None);
    plan.case(
        "list-suppliers",
        "a page size of zero",
        |e| set_query(e, "limit", "0"),
        400,
        bad,
    );
    plan.case(
        "get-supplier",
        "a supplier",
        |e| set_path_param(e, "externalId", "RIE-00001"),
        200,
        None,
    );
    plan.case(
        "get-supplier",
        "a supplier that does not exist",
        |e| set_path_param(e, "externalId", "NO-SUCH-SUPPLIER"),
        404,
        none,
    );
    // One record of each other kind of master data, keyed RIE-M1.
    t.import_one_of_each(&tenant, "RIE-M1", "RIE-00001").await;
    for (list, get, param) in [
        ("list-gl-accounts", "get-gl-account", "code"),
        ("list-tax-codes", "get-tax-code", "code"),
        (
            "list-tracking-categories",
            "get-tracking-category",
            "category",
        ),
        ("list-purchase-orders", "get-purchase-order", "poNumber"),
    ] {
        plan.case(list, "a first page", |_| {}, 200, None);
        plan.case(
            get,
            "one",
            move |e| set_path_param(e, param, "RIE-M1"),
            200,
            None,
        );
        plan.case(
            get,
            "one that does not exist",
            move |e| set_path_param(e, param, "NO-SUCH-CODE"),
            404,
            none,
        );
    }
    // A subscription to a receiver on this machine (the stack's environment allows loopback).
    let receiver = ledgerdock_tests::receiver::Receiver::start().await;
    let subscription = t
        .post(
            &tenant,
            "/v1/webhook-subscriptions",
            &json!({"url": receiver.url, "events": ["invoice.exported"]}),
        )
        .await;
    assert_eq!(subscription.status, 201, "{}", subscription.text);
    let subscription_id = subscription.json()["id"].as_str().unwrap().to_string();
    let ours = move |e: &mut Value| set_path_param(e, "subscriptionId", &subscription_id);
    plan.case(
        "create-webhook-subscription",
        "a subscription",
        |_| {},
        201,
        None,
    );
    plan.case(
        "create-webhook-subscription",
        "a URL to a private address",
        |e| {
            set_body(
                e,
                r#"{"url": "https://10.0.0.1/h", "events": ["invoice.exported"]}"#,
            )
        },
        400,
        bad,
    );
    plan.case(
        "list-webhook-subscriptions",
        "the client's subscriptions",
        |_| {},
        200,
        None,
    );
    plan.case("get-webhook-subscription", "one", ours.clone(), 200, None);
    plan.case(
        "get-webhook-subscription",
        "one that does not exist",
        |_| {},
        404,
        none,
    );
    plan.case(
        "update-webhook-subscription",
        "a change",
        |e| {
            ours(e);
            set_body(e, r#"{"description": "from the emulator"}"#)
        },
        200,
        None,
    );
    plan.case(
        "update-webhook-subscription",
        "a change of nothing",
        |e| {
            ours(e);
            set_body(e, "{}")
        },
        400,
        bad,
    );
    plan.case(
        "rotate-webhook-secret",
        "a rotation",
        ours.clone(),
        200,
        None,
    );
    plan.case(
        "rotate-webhook-secret",
        "one that does not exist",
        |_| {},
        404,
        none,
    );
    plan.case(
        "test-webhook-subscription",
        "a ping",
        ours.clone(),
        200,
        None,
    );
    plan.case(
        "test-webhook-subscription",
        "one that does not exist",
        |_| {},
        404,
        none,
    );
    plan.case(
        "list-webhook-deliveries",
        "its log",
        ours.clone(),
        200,
        None,
    );
    plan.case(
        "list-webhook-deliveries",
        "a page size of zero",
        |e| {
            ours(e);
            set_query(e, "limit", "0")
        },
        400,
        bad,
    );
    let since = |since: &'static str| {
        let ours = ours.clone();
        move |e: &mut Value| {
            ours(e);
            set_body(e, &json!({ "since": since }).to_string())
        }
    };
    plan.case(
        "recover-webhook-deliveries",
        "a recovery since the start of the year",
        since("2026-01-01T00:00:00Z"),
        202,
        None,
    );
    plan.case(
        "recover-webhook-deliveries",
        "a recovery since a time to come",
        since("2999-01-01T00:00:00Z"),
        400,
        bad,
    );
    plan.case(
        "resend-webhook-delivery",
        "an event the feed does not hold",
        ours.clone(),
        404,
        none,
    );
    plan.case(
        "resend-webhook-delivery",
        "a malformed event id",
        |e| {
            ours(e);
            set_path_param(e, "eventId", "evt_NOT")
        },
        400,
        bad,
    );
    plan.case(
        "retire-webhook-secrets",
        "retiring the secret the rotation replaced, after the ping both signed",
        ours.clone(),
        200,
        None,
    );
    plan.case(
        "retire-webhook-secrets",
        "one that does not exist",
        |_| {},
        404,
        none,
    );
    plan.case(
        "delete-webhook-subscription",
        "a deletion",
        ours.clone(),
        204,
        None,
    );
    plan.case(
        "delete-webhook-subscription",
        "one that does not exist",
        |_| {},
        404,
        none,
    );
    plan.case("list-events", "the feed from its start", |_| {}, 200, None);
    plan.case(
        "list-events",
        "a cursor it did not hand out",
        |e| set_query(e, "after", "bm90LWEtY3Vyc29y"),
        400,
        bad,
    );
    let mut plan = plan.functions;
    assert_eq!(
        plan.len(),
        ledgerdock_shared::handlers::ROUTES.len(),
        "every API function is exercised"
    );
    let http = http();
    let mut printed = String::new();
    for (function, cases) in &mut plan {
        cases.extend(common_refusals(function, &tenant, &stranger));
        let mut running = EmulatedFunction::start(&rie, &t.stack, function, API_TIMEOUT).await;
        for case in cases.iter() {
            let (status, body) = invoke_api(&running, &http, &case.event).await;
            assert_eq!(
                status,
                case.status,
                "{function}, {}: {body}\n{}",
                case.what,
                running.output()
            );
            if let Some(code) = case.code {
                assert_eq!(body["error"]["code"], code, "{function}, {}", case.what);
            }
        }
        assert!(
            running.is_running(),
            "{function} exited: {}",
            running.output()
        );
        printed.push_str(&running.output());
    }
    // What the calls did is what the API says they did.
    assert_eq!(
        t.stored(tenant.company, invoices[0])
            .await
            .unwrap()
            .status
            .as_str(),
        "EXPORTED"
    );
    assert_eq!(
        t.stored(tenant.company, invoices[1])
            .await
            .unwrap()
            .status
            .as_str(),
        "REJECTED"
    );
    for (invoice, status) in [(2, "EXPORTED"), (3, "REJECTED")] {
        let stored = t.stored(tenant.company, invoices[invoice]).await.unwrap();
        assert_eq!(stored.status.as_str(), status, "invoice {invoice}");
    }
    let untouched = t.stored(stranger.company, stranger_invoice).await.unwrap();
    assert_eq!(untouched.status.as_str(), "READY_FOR_EXPORT");
    // The ping reached the receiver, signed with the secret rotated in beside the first one.
    let pings: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.body["type"] == "ping")
        .collect();
    assert_eq!(pings.len(), 1, "{pings:?}");
    assert_eq!(pings[0].signature.matches("v1,").count(), 2);
    assert_no_secret_printed(&t, &[&tenant, &stranger], &printed);
    t.stop().await;
}

/// No log line of any function holds a credential: the continuation secret, a client secret,
/// a bearer token or the AWS secret key.
fn assert_no_secret_printed(t: &TestStack, tenants: &[&Connector], printed: &str) {
    assert!(!printed.is_empty(), "the functions logged nothing at all");
    let secret =
        String::from_utf8(t.stack.app.config.continuation_secret.clone().unwrap()).unwrap();
    let mut secrets = vec![secret, LOCAL_SECRET_KEY.to_string()];
    for tenant in tenants {
        secrets.push(tenant.client_secret.clone());
        secrets.push(tenant.token.clone());
    }
    for secret in secrets {
        assert!(
            !printed.contains(&secret),
            "a secret was printed:\n{printed}"
        );
    }
}

/// Invocation timeouts the template gives the event functions.
const WORKER_TIMEOUT: Duration = Duration::from_secs(900);
const SWEEP_TIMEOUT: Duration = Duration::from_secs(60);
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn process_import_job_imports_an_uploaded_file_from_a_real_s3_event() {
    let Some(rie) = runtime_interface_emulator() else {
        return;
    };
    // The stack's own S3 notification is off: the function under the emulator is the worker.
    let t = TestStack::start_with(ledgerdock_infra::dev::DevOptions {
        process_imports: false,
        ..options()
    })
    .await;
    let tenant = t.connector_all_scopes().await;
    let csv = supplier_csv("UPL-", 250);
    let job = t
        .start_import(
            &tenant,
            t.import_request().json(&json!({
                "type": "SUPPLIER_CARDS",
                "contentType": "text/csv",
                "contentLength": csv.len()
            })),
        )
        .await;
    let job_id = job["jobId"].as_str().unwrap();
    assert_eq!(
        t.put_file(
            job["upload"]["url"].as_str().unwrap(),
            "text/csv",
            csv.clone().into_bytes()
        )
        .await,
        200
    );
    assert_eq!(t.job(&tenant, job_id).await["status"], "IN_PROGRESS");

    let mut s3_event = event("process-import-job");
    let record = &mut s3_event["Records"][0];
    record["s3"]["bucket"]["name"] = json!(t.stack.app.config.bucket_name);
    record["s3"]["object"]["key"] = json!(format!("imports/{}/{job_id}", tenant.company));
    record["s3"]["object"]["size"] = json!(csv.len());
    let mut worker =
        EmulatedFunction::start(&rie, &t.stack, "process-import-job", WORKER_TIMEOUT).await;
    let http = http();
    assert_eq!(worker.invoke(&http, &s3_event).await, json!({"handled": 1}));
    let finished = t.job(&tenant, job_id).await;
    assert_eq!(finished["status"], "FINISHED", "{finished}");
    assert_eq!(finished["counts"]["created"], 250, "{finished}");
    // A second delivery of the same event (S3 may send one twice) changes nothing.
    assert_eq!(worker.invoke(&http, &s3_event).await, json!({"handled": 1}));
    assert_eq!(t.job(&tenant, job_id).await, finished);
    // An event that is not an S3 notification is refused by name, not crashed on.
    let answer = worker
        .invoke(&http, &json!({"Records": [{"s3": {}}]}))
        .await;
    assert_eq!(answer["errorType"], "VALIDATION_ERROR", "{answer}");
    assert!(
        answer["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("Records[0].s3") && m.contains("object")),
        "{answer}"
    );
    assert!(worker.is_running(), "{}", worker.output());
    assert_no_secret_printed(&t, &[&tenant], &worker.output());
    t.stop().await;
}

#[tokio::test]
async fn sweep_import_jobs_settles_an_overdue_job_on_a_scheduled_event() {
    let Some(rie) = runtime_interface_emulator() else {
        return;
    };
    // An upload job whose file never comes is overdue a second after it starts; the stack
    // does not sweep by itself.
    let t = TestStack::start_with(ledgerdock_infra::dev::DevOptions {
        upload_url_ttl: Duration::from_secs(1),
        import_upload_grace: Duration::ZERO,
        sweep_interval: Duration::from_secs(3600),
        ..options()
    })
    .await;
    let tenant = t.connector_all_scopes().await;
    let job = t
        .start_import(
            &tenant,
            t.import_request().json(&json!({
                "type": "SUPPLIER_CARDS",
                "contentType": "text/csv",
                "contentLength": 100
            })),
        )
        .await;
    let job_id = job["jobId"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut sweep =
        EmulatedFunction::start(&rie, &t.stack, "sweep-import-jobs", SWEEP_TIMEOUT).await;
    let http = http();
    let swept = sweep.invoke(&http, &event("sweep-import-jobs")).await;
    assert_eq!(swept["failed"], 1, "{swept}");
    assert_eq!(swept["errors"], 0, "{swept}");
    let settled = t.job(&tenant, job_id).await;
    assert_eq!(settled["status"], "FAILED", "{settled}");
    // Nothing left to settle: the next run is a no-op.
    let again = sweep.invoke(&http, &event("sweep-import-jobs")).await;
    assert_eq!(again["failed"], 0, "{again}");
    assert!(sweep.is_running(), "{}", sweep.output());
    assert_no_secret_printed(&t, &[&tenant], &sweep.output());
    t.stop().await;
}

#[tokio::test]
async fn publish_invoice_publishes_the_documented_event_and_names_a_bad_field() {
    let Some(rie) = runtime_interface_emulator() else {
        return;
    };
    let t = TestStack::start().await;
    let tenant = t.connector_all_scopes().await;
    let mut publish = event("publish-invoice");
    publish["companyId"] = json!(tenant.company);
    let invoice_id = publish["invoice"]["invoiceId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut function =
        EmulatedFunction::start(&rie, &t.stack, "publish-invoice", PUBLISH_TIMEOUT).await;
    let http = http();
    let answer = function.invoke(&http, &publish).await;
    assert_eq!(answer["invoiceId"], json!(invoice_id), "{answer}");
    let detail = t.invoice(&tenant, invoice_id).await.ok();
    assert_eq!(detail["invoiceNumber"], "SAM-0001");
    assert_eq!(detail["total"], "48.00");

    let mut bad = publish.clone();
    bad["invoice"]["currency"] = json!("POUNDS");
    let answer = function.invoke(&http, &bad).await;
    assert_eq!(answer["errorType"], "VALIDATION_ERROR", "{answer}");
    assert!(
        answer["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("invoice.currency")),
        "{answer}"
    );
    assert!(function.is_running(), "{}", function.output());
    assert_no_secret_printed(&t, &[&tenant], &function.output());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_whose_dynamodb_hangs_still_starts_and_answers_503() {
    use ledgerdock_shared::foundation::sdk::OPERATION_TIMEOUT;
    use ledgerdock_tests::emulator::{function_binaries, lambda_environment};
    use ledgerdock_tests::process::Background;
    use ledgerdock_tests::runtime_api::{Call, RuntimeApi};
    let t = TestStack::start().await;
    let tenant = t.connector_all_scopes().await;
    let ids = t.publish_many(tenant.company, 1).await;
    let proxy = StallingProxy::start(&t.stack.dynamodb_url).await;
    proxy.stall();

    // get-invoice, as Lambda starts it, with its DynamoDB behind the hanging proxy.
    let mut api = RuntimeApi::start().await;
    let mut command = std::process::Command::new(function_binaries().join("get-invoice"));
    command
        .env_clear()
        .envs(t.stack.function_environment())
        .envs(lambda_environment("get-invoice", API_TIMEOUT))
        .env("LEDGERDOCK_DYNAMODB_ENDPOINT_URL", &proxy.url)
        .env("AWS_LAMBDA_RUNTIME_API", &api.address);
    let started = std::time::Instant::now();
    let process = Background::spawn(command, t.stack.data_dir.join("hung.log"), "get-invoice");

    // Init gives up on opening the connection after its bound, and the container starts.
    let fail = |what: Call| -> ! { panic!("{what:?}\n{}", process.output()) };
    let ready = api
        .ready(Duration::from_secs(10))
        .await
        .unwrap_or_else(|c| fail(c));
    assert!(
        ready - started < Duration::from_secs(5),
        "init waited {:?} for a DynamoDB that does not answer",
        ready - started
    );
    // A request then fails as the API documents: 503 with Retry-After, within its timeout.
    let mut e = api_event("get-invoice", &tenant);
    set_path_param(&mut e, "invoiceId", &ids[0].to_string());
    let done = api
        .invoke(e, OPERATION_TIMEOUT + Duration::from_secs(5))
        .await
        .unwrap_or_else(|c| fail(c));
    match done.answer {
        Call::Response(_, body) => {
            let answer: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(answer["statusCode"], 503, "{answer}");
            assert!(
                answer["multiValueHeaders"]["retry-after"].is_array(),
                "{answer}"
            );
        }
        other => fail(other),
    }
    drop(process);
    t.stop().await;
}

#[tokio::test]
async fn in_aws_a_webhook_may_not_point_inside_the_network() {
    use ledgerdock_shared::edge::config::ENV_WEBHOOK_ALLOW_LOOPBACK;
    let Some(rie) = runtime_interface_emulator() else {
        return;
    };
    let t = TestStack::start().await;
    let tenant = t.connector_all_scopes().await;
    // As template.yaml sets it in AWS.
    let function = EmulatedFunction::start_with_env(
        &rie,
        &t.stack,
        "create-webhook-subscription",
        API_TIMEOUT,
        &[(ENV_WEBHOOK_ALLOW_LOOPBACK, "false")],
    )
    .await;
    let http = http();
    let subscribe = |url: &str| {
        let mut event = api_event("create-webhook-subscription", &tenant);
        set_body(
            &mut event,
            &json!({"url": url, "events": ["invoice.exported"]}).to_string(),
        );
        event
    };
    for url in [
        "http://127.0.0.1:8080/hooks",
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://[::1]/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://172.16.5.4/hooks",
        "https://100.64.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://metadata.google.internal/",
        "http://erp.example.com/hooks",
    ] {
        let (status, body) = invoke_api(&function, &http, &subscribe(url)).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["error"]["details"][0]["field"], "url", "{url}: {body}");
    }
    assert_eq!(
        t.fetch(&tenant, "/v1/webhook-subscriptions").await.ok()["items"],
        json!([]),
        "nothing was made"
    );
    let public = subscribe("https://erp.example.com/hooks/ledgerdock");
    let (status, body) = invoke_api(&function, &http, &public).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["secret"].as_str().unwrap().starts_with("whsec_"));
    t.stop().await;
}

#[tokio::test]
async fn the_webhook_functions_fan_out_queue_and_deliver_through_the_queue_as_lambda_runs_them() {
    let Some(rie) = runtime_interface_emulator() else {
        return;
    };
    // The stack delivers nothing itself: the three binaries do, each on the event Lambda
    // would hand it.
    let t = TestStack::start_with(ledgerdock_infra::dev::DevOptions {
        deliver_webhooks: false,
        ..options()
    })
    .await;
    let tenant = t.connector_all_scopes().await;
    let receiver = ledgerdock_tests::receiver::Receiver::start().await;
    let made = t
        .post(
            &tenant,
            "/v1/webhook-subscriptions",
            &json!({"url": receiver.url, "events": ["invoice.exported"]}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    receiver.trust(
        ledgerdock_shared::domain::webhook_signing::SigningSecret::parse(
            made.json()["secret"].as_str().unwrap(),
        )
        .unwrap(),
    );
    let invoice = t.publish_many(tenant.company, 1).await[0];
    t.complete(&tenant, invoice, &json!({"externalId": "ERP-1"}))
        .await
        .ok();
    let http = http();

    // The stream record of that complete (the generated event, aimed at this invoice).
    let stream = event("webhook-fanout")
        .to_string()
        .replace("5b7e4d1a-0c3f-4a8e-9b21-6f0d00000001", &invoice.to_string())
        .replace(
            "5b7e4d1a-0c3f-4a8e-9b21-6f0d2c7a9e11",
            &tenant.company.to_string(),
        );
    let stream: Value = serde_json::from_str(&stream).unwrap();
    let mut fanout = EmulatedFunction::start(&rie, &t.stack, "webhook-fanout", SWEEP_TIMEOUT).await;
    let fanned = fanout.invoke(&http, &stream).await;
    assert_eq!(
        (&fanned["events"], &fanned["written"], &fanned["queued"]),
        (&json!(1), &json!(1), &json!(1)),
        "{fanned}\n{}",
        fanout.output()
    );
    assert!(receiver.received().is_empty(), "the fan-out sends nothing");

    // The queue's messages, as the event-source mapping hands them over, and one that is not
    // an attempt at all.
    let (ids, batch) = t.stack.queue.receive_batch(10);
    assert_eq!(ids.len(), 1);
    let template = event("deliver-webhooks")["Records"][0].clone();
    let mut records: Vec<Value> = batch
        .records
        .iter()
        .map(|r| {
            let mut record = template.clone();
            record["messageId"] = json!(r.message_id);
            record["body"] = json!(r.body);
            record
        })
        .collect();
    let mut garbled = template.clone();
    garbled["messageId"] = json!("not-an-attempt");
    garbled["body"] = json!("{\"hello\": 1}");
    records.push(garbled);
    let mut deliver =
        EmulatedFunction::start(&rie, &t.stack, "deliver-webhooks", SWEEP_TIMEOUT).await;
    let answer = deliver.invoke(&http, &json!({ "Records": records })).await;
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "not-an-attempt"}]}),
        "{}",
        deliver.output()
    );
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].verified_by, [0]);
    assert_eq!(received[0].body["data"]["invoiceId"], invoice.to_string());
    // Handed the same message again (SQS delivers at least once): nothing is sent twice.
    let again = deliver
        .invoke(&http, &json!({ "Records": [records[0].clone()] }))
        .await;
    assert_eq!(again, json!({"batchItemFailures": []}));
    assert_eq!(receiver.received().len(), 1);
    t.stack.queue.settle_batch(&ids, &[]);

    // The schedule's sweep finds nothing due.
    let mut sweep =
        EmulatedFunction::start(&rie, &t.stack, "dispatch-webhooks", SWEEP_TIMEOUT).await;
    let swept = sweep.invoke(&http, &event("dispatch-webhooks")).await;
    assert_eq!(swept["queued"], 0, "{swept}");
    for function in [&mut fanout, &mut deliver, &mut sweep] {
        assert!(function.is_running(), "{}", function.output());
        assert_no_secret_printed(&t, &[&tenant], &function.output());
    }
    t.stop().await;
}
