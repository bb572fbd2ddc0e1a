//! How many DynamoDB calls each operation makes, counted by an interceptor on the real SDK
//! client while the real handler serves a real API Gateway event: the design's one round trip
//! per request path (plus the rate counter), held here so that a regression fails CI rather
//! than a benchmark. Grants and rate limits are cached per warm container (as in AWS), so each
//! count is taken on a warm one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use ledgerdock_shared::gate::{self, Route};
use ledgerdock_shared::handlers::{
    complete_invoice_export, get_import_job, get_invoice, get_invoice_download_url, get_supplier,
    list_exportable_invoices, list_suppliers, reject_invoice_export,
};
use ledgerdock_shared::AppState;
use ledgerdock_tests::events::{api_event, set_path_param, set_query};
use ledgerdock_tests::*;
use serde_json::Value;

/// A change to a route's generated event.
type EventChange<'a> = Box<dyn Fn(&mut Value) + 'a>;

/// Records the name of every DynamoDB operation its client starts (once per call, whatever
/// the retries).
#[derive(Debug, Clone, Default)]
struct CallCounter(Arc<Mutex<Vec<String>>>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(operation) = cfg.load::<Metadata>() {
            self.0.lock().unwrap().push(operation.name().to_string());
        }
        Ok(())
    }
}

impl CallCounter {
    /// The calls since the last take, by operation.
    fn take(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for name in self.0.lock().unwrap().drain(..) {
            *counts.entry(name).or_default() += 1;
        }
        counts
    }
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The stack's own state, but with a counted DynamoDB client and the per-container caches of
/// a deployed function (the dev stack turns them off so a revoke applies at once).
fn counted(t: &TestStack) -> (AppState, CallCounter) {
    let counter = CallCounter::default();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        t.stack
            .dynamodb
            .config()
            .to_builder()
            .interceptor(counter.clone())
            .build(),
    );
    let mut config = t.stack.app.config.clone();
    config.grant_cache_ttl = Duration::from_secs(60);
    let app = AppState::with_clients(config, dynamodb, t.stack.s3.clone());
    (app, counter)
}

/// Serves `event` on `route` through the gate, as the function would; the status and the
/// DynamoDB calls it made.
async fn serve(
    app: &AppState,
    counter: &CallCounter,
    route: &'static Route,
    event: Value,
) -> (u16, BTreeMap<String, usize>) {
    counter.take();
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let status = gate::serve(app, route, request).await.status().as_u16();
    (status, counter.take())
}

#[tokio::test(flavor = "multi_thread")]
async fn each_read_and_each_transition_is_one_dynamodb_call_besides_the_rate_counter() {
    let t = TestStack::start().await;
    let a = t.tenant_all_scopes().await;
    let ids = t.publish_many(a.company, 3).await;
    let job = t.import_json(&a, &supplier_records("RT-", 3)).await;
    let job_id = job["jobId"].as_str().unwrap().to_string();
    assert_eq!(t.wait_for_job(&a, &job_id).await["status"], "FINISHED");
    let (app, counter) = counted(&t);
    let with = |route: &Route, change: &dyn Fn(&mut Value)| {
        let mut event = api_event(route.function, &a);
        change(&mut event);
        event
    };
    let invoice = |id: usize| {
        let id = ids[id].to_string();
        move |e: &mut Value| set_path_param(e, "invoiceId", &id)
    };

    // A cold container reads the client's grant and rate limit once; they are cached after.
    let list = &list_exportable_invoices::ROUTE;
    let (status, cold) = serve(&app, &counter, list, with(list, &|_| {})).await;
    assert_eq!(status, 200);
    assert_eq!(
        cold,
        counts(&[("GetItem", 2), ("Query", 1), ("UpdateItem", 1)])
    );

    // Warm: the operation's own call, and one UpdateItem that counts the request.
    let reads: [(&'static Route, EventChange, &str); 6] = [
        (list, Box::new(|_| {}), "Query"),
        (&get_invoice::ROUTE, Box::new(invoice(0)), "Query"),
        (
            &get_invoice_download_url::ROUTE,
            Box::new(move |e| {
                invoice(0)(e);
                set_query(e, "format", "PDF")
            }),
            "GetItem",
        ),
        (
            &get_import_job::ROUTE,
            Box::new(|e| set_path_param(e, "jobId", &job_id)),
            "GetItem",
        ),
        (&list_suppliers::ROUTE, Box::new(|_| {}), "Query"),
        (
            &get_supplier::ROUTE,
            Box::new(|e| set_path_param(e, "externalId", "RT-00001")),
            "GetItem",
        ),
    ];
    for (route, change, call) in &reads {
        let (status, calls) = serve(&app, &counter, route, with(route, change)).await;
        assert_eq!(status, 200, "{}", route.function);
        assert_eq!(
            calls,
            counts(&[(call, 1), ("UpdateItem", 1)]),
            "{}",
            route.function
        );
    }

    // A transition is one conditional UpdateItem, whether it lands, repeats or conflicts.
    let complete = &complete_invoice_export::ROUTE;
    let reject = &reject_invoice_export::ROUTE;
    for (route, target, expected) in [
        (complete, 1, 200),
        (complete, 1, 200),
        (reject, 2, 200),
        (reject, 1, 409),
    ] {
        let (status, calls) = serve(&app, &counter, route, with(route, &invoice(target))).await;
        assert_eq!(status, expected, "{} of invoice {target}", route.function);
        assert_eq!(
            calls,
            counts(&[("UpdateItem", 2)]),
            "{} of invoice {target}",
            route.function
        );
    }
    t.stop().await;
}
