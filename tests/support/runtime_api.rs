//! A Lambda Runtime API of our own, for timing: it hands a function process one event at a
//! time and notes the instant of each call the process makes, so a benchmark can tell init
//! (process start → first `GET …/invocation/next`) from each invocation (event handed over →
//! its response posted). AWS's runtime interface emulator cannot report those instants.
//!
//! The protocol is AWS's (`/2018-06-01/runtime/…`): `invocation/next` answers with the event and
//! the `Lambda-Runtime-*` headers; `invocation/{id}/response` and `…/error` and `init/error`
//! are answered 202.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{mpsc, Mutex};

/// What the function process did, and when.
#[derive(Debug)]
pub enum Call {
    /// It asked for its next event: it is ready (after init, or after an invocation).
    Next(Instant),
    /// It answered the event it was given.
    Response(Instant, String),
    /// It reported the invocation failed.
    Error(Instant, String),
    /// It could not start.
    InitError(Instant, String),
}

struct Shared {
    events: Mutex<mpsc::Receiver<Value>>,
    calls: mpsc::UnboundedSender<Call>,
    sequence: std::sync::atomic::AtomicU64,
}

/// A running Runtime API; give it events, read what the process did.
pub struct RuntimeApi {
    /// `host:port`, as `AWS_LAMBDA_RUNTIME_API` carries it.
    pub address: String,
    events: mpsc::Sender<Value>,
    calls: mpsc::UnboundedReceiver<Call>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let (events_tx, events_rx) = mpsc::channel(1);
        let (calls_tx, calls_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            calls: calls_tx,
            sequence: Default::default(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            address,
            events: events_tx,
            calls: calls_rx,
            server,
        }
    }

    /// Hands `event` to the next `invocation/next` call.
    pub async fn give(&self, event: Value) {
        self.events.send(event).await.unwrap();
    }

    /// The next thing the process did, within `timeout`.
    pub async fn called(&mut self, timeout: Duration) -> Call {
        tokio::time::timeout(timeout, self.calls.recv())
            .await
            .expect("the function did not call the Runtime API in time")
            .expect("the Runtime API stopped")
    }
}

/// An invocation, as the Runtime API saw it.
#[derive(Debug)]
pub struct Invocation {
    /// From the event handed over to the answer posted.
    pub took: Duration,
    /// The answer: `Call::Response` or `Call::Error`.
    pub answer: Call,
}

impl RuntimeApi {
    /// Waits for the process to ask for an event (it is ready: after init, or after an
    /// invocation); the instant it asked, or what it did instead.
    pub async fn ready(&mut self, within: Duration) -> Result<Instant, Call> {
        match self.called(within).await {
            Call::Next(at) => Ok(at),
            other => Err(other),
        }
    }

    /// Hands `event` over, waits for its answer, then for the process to be ready again.
    /// What it did instead of answering, or of asking again, is the error.
    pub async fn invoke(&mut self, event: Value, within: Duration) -> Result<Invocation, Call> {
        let handed = Instant::now();
        self.give(event).await;
        let answer = self.called(within).await;
        let answered = match &answer {
            Call::Response(at, _) | Call::Error(at, _) => *at,
            _ => return Err(answer),
        };
        self.ready(within).await?;
        Ok(Invocation {
            took: answered - handed,
            answer,
        })
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let _ = shared.calls.send(Call::Next(Instant::now()));
    let event = shared.events.lock().await.recv().await;
    let Some(event) = event else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let n = shared
        .sequence
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 10_000;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    };
    set("lambda-runtime-aws-request-id", format!("bench-{n:08}"));
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:eu-west-1:000000000000:function:bench".into(),
    );
    set(
        "lambda-runtime-trace-id",
        format!("Root=1-00000000-{n:024};Sampled=0"),
    );
    (StatusCode::OK, headers, event.to_string())
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let text = String::from_utf8_lossy(&body).into_owned();
    let _ = shared.calls.send(Call::Response(Instant::now(), text));
    StatusCode::ACCEPTED
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let text = String::from_utf8_lossy(&body).into_owned();
    let _ = shared.calls.send(Call::Error(Instant::now(), text));
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let text = String::from_utf8_lossy(&body).into_owned();
    let _ = shared.calls.send(Call::InitError(Instant::now(), text));
    StatusCode::ACCEPTED
}
