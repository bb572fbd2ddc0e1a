//! The dev stack's SQS: a fair queue on loopback that the functions' real `aws-sdk-sqs` client
//! sends to, over SQS's JSON protocol (`SendMessage`, `SendMessageBatch`), and the event-source
//! mapping that hands its messages to the `deliver-webhooks` handler, as AWS's does.
//!
//! **Fair, as an SQS fair queue is.** Messages are grouped by `MessageGroupId` (the webhook
//! subscription). A receive takes from the group with the fewest messages in flight first, so
//! a group with a backlog, or whose messages take long (a receiver that hangs), waits behind the
//! quiet ones; no message is dropped. AWS's fair queues prioritise quiet tenants the same way
//! once one tenant holds a disproportionate share of the messages in flight.
//!
//! **As strict as SQS** about what it is sent: at most 10 entries a batch with distinct ids, a
//! body of at most 256 KiB, a delay of 0 to 900 seconds, a queue that exists.
//!
//! **The event-source mapping** ([`consume`]) takes up to 10 visible messages a batch, runs at
//! most [`MAX_CONCURRENCY`] batches at once (the template's `ScalingConfig`), deletes the
//! messages the handler did not hand back, and makes those it did visible again after the
//! queue's visibility timeout.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ledgerdock_shared::handlers::webhooks::deliver_webhooks;
use ledgerdock_shared::store::attempt_queue::SqsEvent;
use ledgerdock_shared::AppState;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};

/// The queue's name, as template.yaml names it, and its account in a local queue URL.
pub const QUEUE_NAME: &str = "ledgerdock-webhook-attempts";
const LOCAL_ACCOUNT: &str = super::iam::ACCOUNT_ID;
/// Batches the event-source mapping runs at once (template.yaml: `ScalingConfig`
/// `MaximumConcurrency` of the deliver function's queue event).
pub const MAX_CONCURRENCY: usize = 20;
/// Messages a batch holds at most (template.yaml: `BatchSize`).
pub const BATCH_SIZE: usize = 10;
/// How long a message handed back stays invisible (template.yaml: the queue's
/// `VisibilityTimeout`).
pub const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(180);
/// SQS's limits on what it is sent.
const MAX_BODY_BYTES: usize = 256 * 1024;
const MAX_DELAY_SECS: u64 = 900;
const MAX_BATCH_ENTRIES: usize = 10;

struct Message {
    id: String,
    body: String,
    group: String,
    /// When it is visible: after its delay, or, once received, after the visibility timeout
    /// (a consumer that died without settling it).
    visible_at: Instant,
}

#[derive(Default)]
struct Queue {
    /// Visible messages, by group, oldest first.
    groups: BTreeMap<String, VecDeque<Message>>,
    /// Messages not yet visible (delayed, or handed back).
    waiting: Vec<Message>,
    /// Messages received and neither deleted nor handed back, by id.
    in_flight: HashMap<String, Message>,
    in_flight_by_group: HashMap<String, usize>,
}

impl Queue {
    fn push(&mut self, message: Message) {
        if message.visible_at <= Instant::now() {
            self.groups
                .entry(message.group.clone())
                .or_default()
                .push_back(message);
        } else {
            self.waiting.push(message);
        }
    }

    /// Up to `max` visible messages, each from the group with the fewest in flight.
    fn receive(&mut self, max: usize) -> Vec<(String, String)> {
        let now = Instant::now();
        let expired: Vec<String> = self
            .in_flight
            .iter()
            .filter(|(_, m)| m.visible_at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            // Its consumer never answered: visible again, as SQS makes it.
            if let Some(message) = self.take_in_flight(&id) {
                self.push(message);
            }
        }
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|m| m.visible_at <= now);
        self.waiting = waiting;
        for message in ready {
            self.push(message);
        }
        let mut taken = Vec::new();
        while taken.len() < max {
            let quietest = self
                .groups
                .iter()
                .filter(|(_, messages)| !messages.is_empty())
                .min_by_key(|(group, _)| self.in_flight_by_group.get(*group).copied().unwrap_or(0))
                .map(|(group, _)| group.clone());
            let Some(group) = quietest else { break };
            let Some(message) = self.groups.get_mut(&group).and_then(VecDeque::pop_front) else {
                break;
            };
            if self.groups.get(&group).is_some_and(VecDeque::is_empty) {
                self.groups.remove(&group);
            }
            *self.in_flight_by_group.entry(group).or_default() += 1;
            taken.push((message.id.clone(), message.body.clone()));
            let mut message = message;
            message.visible_at = now + VISIBILITY_TIMEOUT;
            self.in_flight.insert(message.id.clone(), message);
        }
        taken
    }

    fn take_in_flight(&mut self, id: &str) -> Option<Message> {
        let message = self.in_flight.remove(id)?;
        if let Some(count) = self.in_flight_by_group.get_mut(&message.group) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.in_flight_by_group.remove(&message.group);
            }
        }
        Some(message)
    }

    /// Done with a message in flight: deleted, or handed back to be visible again later.
    fn settle(&mut self, id: &str, hand_back: bool) {
        let Some(mut message) = self.take_in_flight(id) else {
            return;
        };
        if hand_back {
            message.visible_at = Instant::now() + VISIBILITY_TIMEOUT;
            self.push(message);
        }
    }

    fn len(&self) -> usize {
        self.groups.values().map(VecDeque::len).sum::<usize>() + self.waiting.len()
    }
}

/// The engine: one queue, its URL, and a wake-up for the consumer.
pub struct LocalQueue {
    pub url: String,
    /// Who may send (template.yaml's IAM).
    iam: Arc<super::iam::Iam>,
    queue: Mutex<Queue>,
    arrived: Notify,
}

impl LocalQueue {
    /// Messages waiting (visible or not), not counting those in flight.
    pub fn waiting(&self) -> usize {
        self.queue.lock().map_or(0, |q| q.len())
    }

    /// Takes up to `max` visible messages as an event-source mapping batch: their ids and
    /// the event the handler is given. Tests drive the consumer with it.
    pub fn receive_batch(&self, max: usize) -> (Vec<String>, SqsEvent) {
        let taken = self
            .queue
            .lock()
            .map(|mut q| q.receive(max))
            .unwrap_or_default();
        let ids = taken.iter().map(|(id, _)| id.clone()).collect();
        let records = taken
            .into_iter()
            .map(
                |(message_id, body)| ledgerdock_shared::store::attempt_queue::SqsRecord {
                    message_id,
                    body,
                },
            )
            .collect();
        (ids, SqsEvent { records })
    }

    /// Deletes the batch's messages but those handed back, which become visible again after
    /// the visibility timeout.
    pub fn settle_batch(&self, ids: &[String], handed_back: &[String]) {
        if let Ok(mut queue) = self.queue.lock() {
            for id in ids {
                queue.settle(id, handed_back.contains(id));
            }
        }
    }

    fn send(&self, entries: &[Value]) -> Result<Value, (StatusCode, Value)> {
        let refuse = |kind: &str, message: String| {
            (
                StatusCode::BAD_REQUEST,
                json!({"__type": format!("com.amazonaws.sqs#{kind}"), "message": message}),
            )
        };
        if entries.is_empty() {
            return Err(refuse(
                "EmptyBatchRequest",
                "the batch holds no entries".into(),
            ));
        }
        if entries.len() > MAX_BATCH_ENTRIES {
            return Err(refuse(
                "TooManyEntriesInBatchRequest",
                format!("at most {MAX_BATCH_ENTRIES} entries a batch"),
            ));
        }
        let mut ids = Vec::new();
        let mut messages = Vec::new();
        let mut successful = Vec::new();
        for entry in entries {
            let id = entry["Id"].as_str().unwrap_or_default().to_string();
            if ids.contains(&id) {
                return Err(refuse(
                    "BatchEntryIdsNotDistinct",
                    format!("entry id {id:?} twice"),
                ));
            }
            ids.push(id.clone());
            let body = entry["MessageBody"].as_str().unwrap_or_default();
            if body.is_empty() || body.len() > MAX_BODY_BYTES {
                return Err(refuse(
                    "InvalidParameterValue",
                    format!("a message body is 1 byte to {MAX_BODY_BYTES} bytes"),
                ));
            }
            let delay = entry["DelaySeconds"].as_u64().unwrap_or(0);
            if delay > MAX_DELAY_SECS {
                return Err(refuse(
                    "InvalidParameterValue",
                    format!("DelaySeconds is 0 to {MAX_DELAY_SECS}"),
                ));
            }
            let message_id = uuid::Uuid::new_v4().to_string();
            successful.push(json!({
                "Id": id,
                "MessageId": message_id,
                "MD5OfMessageBody": format!("{:x}", md5::compute(body.as_bytes())),
            }));
            messages.push(Message {
                id: message_id,
                body: body.to_string(),
                // Without a group, a message is a tenant of its own (as in SQS).
                group: entry["MessageGroupId"]
                    .as_str()
                    .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string),
                visible_at: Instant::now() + Duration::from_secs(delay),
            });
        }
        if let Ok(mut queue) = self.queue.lock() {
            for message in messages {
                queue.push(message);
            }
        }
        self.arrived.notify_waiters();
        Ok(json!({"Successful": successful, "Failed": []}))
    }
}

async fn handle(
    State(engine): State<Arc<LocalQueue>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let answer = |status: StatusCode, value: Value| {
        (
            status,
            [("content-type", "application/x-amz-json-1.0")],
            value.to_string(),
        )
            .into_response()
    };
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"__type": "com.amazonaws.sqs#InvalidParameterValue", "message": "the body is not JSON"}),
        );
    };
    let needed = super::iam::requests::sqs(&engine.iam.account, target, &request);
    if let Err(denied) = engine.iam.check(
        super::iam::access_key(&headers, &http::Uri::from_static("/")).as_deref(),
        &needed,
    ) {
        denied.log();
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"__type": "com.amazon.coral.service#AccessDeniedException", "message": denied.message()}),
        );
    }
    if request["QueueUrl"].as_str() != Some(engine.url.as_str()) {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."}),
        );
    }
    let sent = match target {
        "AmazonSQS.SendMessageBatch" => {
            engine.send(request["Entries"].as_array().map_or(&[][..], Vec::as_slice))
        }
        "AmazonSQS.SendMessage" => {
            let mut entry = request.clone();
            entry["Id"] = json!("0");
            engine.send(&[entry]).map(|batch| {
                let one = &batch["Successful"][0];
                json!({"MessageId": one["MessageId"], "MD5OfMessageBody": one["MD5OfMessageBody"]})
            })
        }
        other => Err((
            StatusCode::BAD_REQUEST,
            json!({"__type": "com.amazonaws.sqs#UnsupportedOperation", "message": format!("{other:?} is not served here")}),
        )),
    };
    match sent {
        Ok(value) => answer(StatusCode::OK, value),
        Err((status, value)) => answer(status, value),
    }
}

/// Starts the engine on `listener`; its queue URL names the listener's address.
pub fn start(
    listener: TcpListener,
    iam: Arc<super::iam::Iam>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(Arc<LocalQueue>, tokio::task::JoinHandle<()>)> {
    let addr = listener.local_addr()?;
    let engine = Arc::new(LocalQueue {
        url: format!("http://{addr}/{LOCAL_ACCOUNT}/{QUEUE_NAME}"),
        iam,
        queue: Mutex::new(Queue::default()),
        arrived: Notify::new(),
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(engine.clone());
    let task = tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "the SQS engine stopped");
        }
    });
    Ok((engine, task))
}

/// The event-source mapping: hands batches of visible messages to the deliver handler, at
/// most [`MAX_CONCURRENCY`] at once, until `shutdown`.
pub fn consume(
    app: Arc<AppState>,
    engine: Arc<LocalQueue>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(MAX_CONCURRENCY));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let (ids, event) = engine.receive_batch(BATCH_SIZE);
            if ids.is_empty() {
                drop(slot);
                // Woken by a send, or every 200 ms for delayed and handed-back messages.
                tokio::select! {
                    _ = engine.arrived.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
                continue;
            }
            let (app, engine) = (app.clone(), engine.clone());
            tokio::spawn(async move {
                let handed_back = match deliver_webhooks::handle(&app, event).await {
                    Ok(answer) => answer
                        .batch_item_failures
                        .into_iter()
                        .map(|f| f.item_identifier)
                        .collect(),
                    Err(e) => {
                        tracing::warn!(error = ?e, "webhook delivery batch failed; handed back whole");
                        ids.clone()
                    }
                };
                engine.settle_batch(&ids, &handed_back);
                drop(slot);
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(group: &str, n: usize) -> Message {
        Message {
            id: format!("{group}-{n}"),
            body: "{}".into(),
            group: group.into(),
            visible_at: Instant::now(),
        }
    }

    #[test]
    fn a_group_with_a_backlog_in_flight_waits_behind_the_quiet_ones() {
        let mut queue = Queue::default();
        for n in 0..100 {
            queue.push(message("noisy", n));
        }
        // The noisy group's first batch is in flight (its receivers hang).
        assert_eq!(queue.receive(10).len(), 10);
        queue.push(message("quiet-a", 0));
        queue.push(message("quiet-b", 0));
        let next: Vec<String> = queue.receive(2).into_iter().map(|(id, _)| id).collect();
        assert_eq!(next, ["quiet-a-0", "quiet-b-0"], "the quiet ones first");
        // With nothing quiet waiting, the noisy one gets the consumers again.
        assert_eq!(queue.receive(10).len(), 10);
        assert_eq!(queue.len(), 80);
    }

    #[test]
    fn a_message_handed_back_comes_back_after_the_visibility_timeout_and_a_deleted_one_never() {
        let mut queue = Queue::default();
        queue.push(message("g", 0));
        queue.push(message("g", 1));
        let taken = queue.receive(10);
        assert_eq!(taken.len(), 2);
        queue.settle("g-0", false);
        queue.settle("g-1", true);
        assert!(queue.receive(10).is_empty(), "invisible for a while");
        assert_eq!(queue.len(), 1);
        assert!(queue.in_flight.is_empty());
    }
}
