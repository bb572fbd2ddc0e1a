//! Webhooks in the dev stack, delivered for real through the very handlers the two functions
//! run in AWS: `handlers::webhook_fanout` for each batch of changes, and
//! `handlers::dispatch_webhooks` on a timer, as the schedule runs it.
//!
//! **Where the changes come from.** In AWS the fan-out reads the table's DynamoDB stream: each
//! committed write with the item before and after it. The dev stack captures the same records
//! in front of its DynamoDB engine instead of enabling the engine's stream: the embedded engine
//! keeps stream records forever and scans all of them on every write, which made every write
//! slower the longer the stack ran (the test suite ran four times slower with it on).
//!
//! [`start_change_capture`] is a pass-through HTTP proxy on the DynamoDB URL every SDK client
//! of the stack uses (the dev API, `sam local` and the emulated functions alike). A write that
//! touches an item whose change can be news (an invoice header or an import job; see
//! `webhooks::events::NEWS_KEY_PREFIXES`) reads that item just before and just after it, under
//! one lock, so no other such write comes between: the pair is exactly the stream record's
//! NEW_AND_OLD_IMAGES. Each record then meets the fan-out's `FilterCriteria` as template.yaml
//! writes it ([`super::stream_filter`]), as Lambda applies it: what the filter drops, the
//! fan-out never sees here either. (Reading only news keys is narrower than the filter only
//! where the filter drops the record anyway, line items: a test holds the two together.) Every other request (reads, request counters, line items) passes
//! straight through. The captured records go to the fan-out in batches of up to 25, as the
//! template's event-source mapping sends them; a batch that fails is handed over again.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use ledgerdock_shared::features::webhooks::events::{
    StreamChange, StreamEvent, StreamRecord, NEWS_KEY_PREFIXES,
};
use ledgerdock_shared::handlers::{webhooks::dispatch_webhooks, webhooks::webhook_fanout};
use ledgerdock_shared::AppState;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Mutex};

use super::iam::{self, requests, Iam};
use super::stream_filter::{record_json, StreamFilter};

/// Most records one fan-out batch takes, as template.yaml's event-source mapping sets.
pub const BATCH_SIZE: usize = 25;
/// How long a failed batch waits before it is handed to the fan-out again.
const RETRY_PAUSE: Duration = Duration::from_secs(2);
/// How many times a batch is handed over before it is dropped (logged).
const MAX_TRIES: u32 = 10;

/// The key of one item a write request names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ItemKey {
    table: String,
    pk: String,
    sk: String,
}

/// The items a DynamoDB write request changes whose change can be news (invoice headers and
/// import jobs, never their line items), read from the request's JSON.
fn news_items(target: &str, body: &Value) -> Vec<ItemKey> {
    let key_of = |table: &Value, key: &Value| -> Option<ItemKey> {
        let sk = key["SK"]["S"].as_str()?;
        let news = NEWS_KEY_PREFIXES
            .iter()
            .any(|p| sk.strip_prefix(p).is_some_and(|id| !id.contains('#')));
        if !news {
            return None;
        }
        Some(ItemKey {
            table: table.as_str()?.to_string(),
            pk: key["PK"]["S"].as_str()?.to_string(),
            sk: sk.to_string(),
        })
    };
    let operation = target
        .strip_prefix("DynamoDB_20120810.")
        .unwrap_or_default();
    let mut keys: Vec<ItemKey> = match operation {
        "PutItem" => key_of(&body["TableName"], &body["Item"])
            .into_iter()
            .collect(),
        "UpdateItem" | "DeleteItem" => key_of(&body["TableName"], &body["Key"])
            .into_iter()
            .collect(),
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (kind, op) = item.as_object()?.iter().next()?;
                let key = if kind == "Put" {
                    &op["Item"]
                } else {
                    &op["Key"]
                };
                key_of(&op["TableName"], key)
            })
            .collect(),
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(table, requests)| {
                let table = Value::String(table.clone());
                requests
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| {
                        let key = match (&r["PutRequest"], &r["DeleteRequest"]) {
                            (Value::Object(put), _) => put.get("Item")?.clone(),
                            (_, Value::Object(delete)) => delete.get("Key")?.clone(),
                            _ => return None,
                        };
                        key_of(&table, &key)
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
        _ => Vec::new(),
    };
    keys.dedup();
    keys
}

/// Reads items straight from the engine (not through the proxy), consistently.
#[derive(Clone)]
struct Engine {
    client: aws_sdk_dynamodb::Client,
}

impl Engine {
    async fn read(&self, key: &ItemKey) -> Option<HashMap<String, AttributeValue>> {
        let got = self
            .client
            .get_item()
            .table_name(&key.table)
            .key("PK", AttributeValue::S(key.pk.clone()))
            .key("SK", AttributeValue::S(key.sk.clone()))
            .consistent_read(true)
            .send()
            .await;
        match got {
            Ok(out) => out.item,
            Err(e) => {
                tracing::warn!(
                    error = %aws_sdk_dynamodb::error::DisplayErrorContext(e),
                    "reading an item around a write failed; its change is not captured"
                );
                None
            }
        }
    }
}

/// What the capture needs to read around a write and hand its record on.
pub struct ChangeCapture {
    engine: Engine,
    /// One news write at a time, so its before and after images are its own.
    news_writes: Mutex<()>,
    records: mpsc::UnboundedSender<StreamRecord>,
    /// The fan-out's stream filter, as template.yaml writes it.
    filter: StreamFilter,
}

impl ChangeCapture {
    /// Reads news items through `engine` (straight to the engine, as the operator) and sends
    /// the records `filter` passes on `records`.
    pub fn new(
        engine: aws_sdk_dynamodb::Client,
        records: mpsc::UnboundedSender<StreamRecord>,
        filter: StreamFilter,
    ) -> Self {
        Self {
            engine: Engine { client: engine },
            news_writes: Mutex::new(()),
            records,
            filter,
        }
    }
}

/// The DynamoDB endpoint every SDK client of the stack uses: IAM first, then the engine, with
/// the change capture around news writes when webhooks are delivered.
struct Front {
    upstream: String,
    http: reqwest::Client,
    iam: Arc<Iam>,
    capture: Option<ChangeCapture>,
}

impl Front {
    async fn forward(
        &self,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> Result<http::Response<Full<Bytes>>, String> {
        let url = format!(
            "{}{}",
            self.upstream,
            parts.uri.path_and_query().map_or("/", |p| p.as_str())
        );
        let mut request = self.http.request(parts.method.clone(), url).body(body);
        for (name, value) in &parts.headers {
            // The signed headers go as they came (the engines check no signature), except
            // that the engine hears every caller as the stack's one account: official
            // DynamoDB Local keeps a database per access key.
            if name == http::header::AUTHORIZATION {
                request = request.header(name, as_operator(value));
            } else {
                request = request.header(name, value);
            }
        }
        let answer = request.send().await.map_err(|e| e.to_string())?;
        let mut response = http::Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            if name != http::header::TRANSFER_ENCODING && name != http::header::CONNECTION {
                response = response.header(name, value);
            }
        }
        let bytes = answer.bytes().await.map_err(|e| e.to_string())?;
        response.body(Full::new(bytes)).map_err(|e| e.to_string())
    }

    async fn handle(&self, req: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => return bad_gateway(&format!("reading the request: {e}")),
        };
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let json = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
        let needed = requests::dynamodb(&self.iam.account, target, &json);
        let access_key = iam::access_key(&parts.headers, &parts.uri);
        if let Err(denied) = self.iam.check(access_key.as_deref(), &needed) {
            denied.log();
            return access_denied(&denied);
        }
        let Some(capture) = &self.capture else {
            return self
                .forward(&parts, body)
                .await
                .unwrap_or_else(|e| bad_gateway(&e));
        };
        let keys = if target.is_empty() {
            Vec::new()
        } else {
            news_items(target, &json)
        };
        if keys.is_empty() {
            return self
                .forward(&parts, body)
                .await
                .unwrap_or_else(|e| bad_gateway(&e));
        }
        let _one_at_a_time = capture.news_writes.lock().await;
        let mut before = Vec::with_capacity(keys.len());
        for key in &keys {
            before.push(capture.engine.read(key).await);
        }
        let response = match self.forward(&parts, body).await {
            Ok(response) => response,
            Err(e) => return bad_gateway(&e),
        };
        if response.status().is_success() {
            let at = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
            for (key, old) in keys.iter().zip(before) {
                let new = capture.engine.read(key).await;
                if new == old {
                    continue;
                }
                // As Lambda does with the template's FilterCriteria: a record no pattern
                // matches never reaches the fan-out.
                let record = record_json((&key.pk, &key.sk), old.as_ref(), new.as_ref());
                if !capture.filter.passes(&record) {
                    continue;
                }
                let _ = capture.records.send(StreamRecord {
                    event_id: uuid::Uuid::new_v4().simple().to_string(),
                    dynamodb: StreamChange {
                        approximate_creation: Some(at),
                        new_image: new.map(serde_dynamo::Item::from),
                        old_image: old.map(serde_dynamo::Item::from),
                    },
                });
            }
        }
        response
    }
}

fn bad_gateway(why: &str) -> http::Response<Full<Bytes>> {
    tracing::warn!(
        reason = why,
        "the DynamoDB engine did not answer through the capture"
    );
    let mut response = http::Response::new(Full::new(Bytes::from(
        serde_json::json!({"__type": "InternalServerError", "message": why}).to_string(),
    )));
    *response.status_mut() = http::StatusCode::BAD_GATEWAY;
    response
}

/// DynamoDB's answer to a call its caller's policy does not allow (or an unknown key).
fn access_denied(denied: &iam::Denied) -> http::Response<Full<Bytes>> {
    let kind = match denied.caller {
        iam::Caller::Unknown => "UnrecognizedClientException",
        _ => "AccessDeniedException",
    };
    let body = serde_json::json!({
        "__type": format!("com.amazon.coral.service#{kind}"),
        "Message": denied.message(),
    });
    let mut response = http::Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = http::StatusCode::BAD_REQUEST;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}

/// The Authorization header with the operator's access key in place of the caller's.
fn as_operator(value: &http::HeaderValue) -> http::HeaderValue {
    let Ok(text) = value.to_str() else {
        return value.clone();
    };
    let Some((before, after)) = text.split_once("Credential=") else {
        return value.clone();
    };
    let rest = after.split_once('/').map_or("", |(_, rest)| rest);
    http::HeaderValue::from_str(&format!(
        "{before}Credential={}/{rest}",
        iam::OPERATOR_ACCESS_KEY
    ))
    .unwrap_or_else(|_| value.clone())
}

/// Serves the DynamoDB API on `listener` by passing every request its caller's policy allows
/// to `upstream` (the engine's own URL); with `capture`, the changes of news items become
/// stream records.
pub fn start_front(
    listener: TcpListener,
    upstream: String,
    iam: Arc<Iam>,
    capture: Option<ChangeCapture>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let capture = Arc::new(Front {
        upstream,
        http: reqwest::Client::new(),
        iam,
        capture,
    });
    tokio::spawn(async move {
        loop {
            let (socket, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "DynamoDB capture accept failed");
                        continue;
                    }
                },
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let capture = capture.clone();
            let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let capture = capture.clone();
                async move { Ok::<_, Infallible>(capture.handle(req).await) }
            });
            tokio::spawn(async move {
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service);
                let _ = conn.await;
            });
        }
    })
}

/// Hands the captured records to the fan-out in batches, as Lambda hands a stream's batches to
/// the `webhook-fanout` function: a failed batch is handed over again.
pub fn fan_out_captured(
    app: Arc<AppState>,
    mut records: mpsc::UnboundedReceiver<StreamRecord>,
    handed_over: Arc<std::sync::atomic::AtomicUsize>,
    invocations: Arc<std::sync::atomic::AtomicUsize>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let mut batch = Vec::new();
            tokio::select! {
                received = records.recv_many(&mut batch, BATCH_SIZE) => {
                    if received == 0 {
                        break;
                    }
                }
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
            handed_over.fetch_add(batch.len(), std::sync::atomic::Ordering::SeqCst);
            invocations.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            for tries in 1..=MAX_TRIES {
                let event = StreamEvent {
                    records: batch.clone(),
                };
                match webhook_fanout::handle(&app, event).await {
                    Ok(_) => break,
                    Err(e) if tries < MAX_TRIES => {
                        tracing::warn!(error = ?e, "webhook fan-out failed; the batch is handed over again");
                        tokio::time::sleep(RETRY_PAUSE).await;
                    }
                    Err(e) => {
                        tracing::error!(error = ?e, "webhook fan-out failed; the batch is dropped")
                    }
                }
            }
        }
    })
}

/// Runs the scheduled dispatch every `interval` until `shutdown`.
pub fn dispatch_periodically(
    app: Arc<AppState>,
    interval: Duration,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    super::every(interval, shutdown, move || {
        let app = app.clone();
        async move {
            if let Err(e) = dispatch_webhooks::handle(&app).await {
                tracing::warn!(error = ?e, "webhook dispatch failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_writes_of_invoice_headers_and_import_jobs_are_captured() {
        let key = |sk: &str| json!({"PK": {"S": "COMPANY#c"}, "SK": {"S": sk}});
        let update = |sk: &str| json!({"TableName": "t", "Key": key(sk)});
        let target = "DynamoDB_20120810.UpdateItem";
        assert_eq!(news_items(target, &update("INVOICE#1")).len(), 1);
        assert_eq!(news_items(target, &update("IMPORTJOB#9")).len(), 1);
        assert!(news_items(target, &update("INVOICE#1#V2#LINE#00001")).is_empty());
        assert!(news_items(target, &update("SUPPLIER#A")).is_empty());
        assert!(news_items("DynamoDB_20120810.GetItem", &update("INVOICE#1")).is_empty());

        let transaction = json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": key("INVOICE#1")}},
            {"Update": {"TableName": "t", "Key": key("IMPORTJOB#2")}},
            {"ConditionCheck": {"TableName": "t", "Key": key("COUNTER")}},
        ]});
        let keys = news_items("DynamoDB_20120810.TransactWriteItems", &transaction);
        let sks: Vec<&str> = keys.iter().map(|k| k.sk.as_str()).collect();
        assert_eq!(sks, ["INVOICE#1", "IMPORTJOB#2"]);

        let batch = json!({"RequestItems": {"t": [
            {"PutRequest": {"Item": key("INVOICE#3")}},
            {"PutRequest": {"Item": key("INVOICE#3#V1#LINE#00001")}},
            {"DeleteRequest": {"Key": key("INVOICE#4")}},
        ]}});
        let keys = news_items("DynamoDB_20120810.BatchWriteItem", &batch);
        let sks: Vec<&str> = keys.iter().map(|k| k.sk.as_str()).collect();
        assert_eq!(sks, ["INVOICE#3", "INVOICE#4"]);
    }
}
