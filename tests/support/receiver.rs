//! A webhook receiver as a connector would run one: an HTTP server on 127.0.0.1 that checks
//! every delivery's signature with the secrets it was told (Standard Webhooks' rules: the
//! timestamp within five minutes, one `v1` signature matching) and keeps what it received.
//! A test sets how it answers: a status, or a delay longer than the sender waits.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ledgerdock_shared::domain::webhook_signing::{verify, SigningSecret};
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub webhook_id: String,
    pub signature: String,
    pub body: Value,
    /// Which of the receiver's secrets verify it (by position in its list).
    pub verified_by: Vec<usize>,
    /// When it arrived.
    pub at: std::time::Instant,
    /// The status it was answered with (2xx: the sender was told it landed).
    pub answered: u16,
}

#[derive(Default)]
struct Inner {
    secrets: Vec<SigningSecret>,
    answer: Option<StatusCode>,
    delay: Duration,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// Starts one that answers 200 and verifies with `secrets`.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/webhooks", post(receive))
            .with_state(inner.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Self { url, inner }
    }

    pub fn trust(&self, secret: SigningSecret) {
        self.inner.lock().unwrap().secrets.push(secret);
    }

    /// Answers every request with `status` from now on.
    pub fn answer(&self, status: u16) {
        self.inner.lock().unwrap().answer = Some(StatusCode::from_u16(status).unwrap());
    }

    /// Waits `delay` before answering (longer than the sender's 5 s is a timeout to it).
    pub fn stall(&self, delay: Duration) {
        self.inner.lock().unwrap().delay = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The deliveries it took: verified by one of its secrets and answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered) && !r.verified_by.is_empty())
            .collect()
    }

    /// What it received once it holds `n` requests, waiting up to `within` for them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= n || tokio::time::Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let now = chrono::Utc::now().timestamp();
    let (answer, delay) = {
        let mut inner = inner.lock().unwrap();
        let verified_by = inner
            .secrets
            .iter()
            .enumerate()
            .filter(|(_, secret)| verify(secret, &id, &timestamp, &signature, &body, now).is_ok())
            .map(|(n, _)| n)
            .collect();
        let answer = inner.answer.unwrap_or(StatusCode::OK);
        inner.received.push(Received {
            webhook_id: id,
            signature,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            verified_by,
            at: std::time::Instant::now(),
            answered: answer.as_u16(),
        });
        (answer, inner.delay)
    };
    tokio::time::sleep(delay).await;
    answer
}
