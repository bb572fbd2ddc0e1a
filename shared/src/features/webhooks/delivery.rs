//! One delivery attempt: the signed POST of an event's body to a subscription's URL.
//!
//! - **Bounded.** The whole attempt (connect, TLS, request, response headers) has
//!   [`ATTEMPT_TIMEOUT`]; the response body is never read beyond what closing it takes, so a
//!   receiver cannot hold or flood the dispatcher. Redirects are not followed: a 3xx is a
//!   failed attempt, as Standard Webhooks senders do.
//! - **No way inside.** The URL is checked again under the policy it was accepted with, and
//!   every address its host resolves to is checked at connect time by the same rule
//!   ([`UrlPolicy::may_reach`]): a name that was public when subscribed and points at a
//!   private or metadata address now is refused, and nothing is sent.
//! - **Outcome, never an error.** Whatever happens becomes an [`Attempt`] for the delivery
//!   log: the status code, or what went wrong in words that hold nothing secret.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::domain::webhook::{UrlPolicy, WebhookUrl};
use crate::domain::webhook_signing::{signature_header, SigningSecret};
use crate::domain::Timestamp;

/// How long one attempt may take, end to end.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When it was signed and sent: its `webhook-timestamp`.
    pub at: Timestamp,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// Why the attempt failed without an answer, or why its answer is a failure.
    pub error: Option<String>,
    pub latency_ms: u64,
}

impl Attempt {
    /// A receiver acknowledges a delivery with any 2xx.
    pub fn succeeded(&self) -> bool {
        matches!(self.status_code, Some(200..=299))
    }
}

/// Resolves a host name with the system's resolver and keeps only the addresses a delivery may
/// reach (under the dev stack's policy, loopback as well).
#[derive(Clone)]
struct ReachableOnly {
    system: GaiResolver,
    policy: UrlPolicy,
}

type Resolving = Pin<Box<dyn Future<Output = io::Result<std::vec::IntoIter<SocketAddr>>> + Send>>;

impl tower_service::Service<Name> for ReachableOnly {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.system.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolving = self.system.call(name);
        let policy = self.policy;
        Box::pin(async move {
            let reachable: Vec<SocketAddr> = resolving
                .await?
                .filter(|addr| policy.may_reach(addr.ip()))
                .collect();
            if reachable.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "the host resolves only to private or reserved addresses",
                ));
            }
            Ok(reachable.into_iter())
        })
    }
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector<ReachableOnly>>;

/// Sends deliveries: one connection pool, built once per container.
#[derive(Clone)]
pub struct Sender {
    client: Client<Connector, Full<Bytes>>,
    policy: UrlPolicy,
}

impl Sender {
    /// The container's sender under `policy`, built on first use: it loads the system's root
    /// certificates, which only the functions that deliver need, so no other function's init
    /// pays for them. Later calls share its connection pool.
    pub fn shared(
        policy: UrlPolicy,
    ) -> Result<&'static Sender, crate::foundation::error::ApiError> {
        static PUBLIC: std::sync::OnceLock<Sender> = std::sync::OnceLock::new();
        static LOOPBACK: std::sync::OnceLock<Sender> = std::sync::OnceLock::new();
        let slot = match policy {
            UrlPolicy::Public => &PUBLIC,
            UrlPolicy::AllowLoopback => &LOOPBACK,
        };
        if let Some(sender) = slot.get() {
            return Ok(sender);
        }
        let built = Self::new(policy).map_err(crate::foundation::error::ApiError::internal)?;
        Ok(slot.get_or_init(|| built))
    }

    pub fn new(policy: UrlPolicy) -> io::Result<Self> {
        let mut http = HttpConnector::new_with_resolver(ReachableOnly {
            system: GaiResolver::new(),
            policy,
        });
        http.enforce_http(false);
        http.set_connect_timeout(Some(ATTEMPT_TIMEOUT));
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Self { client, policy })
    }

    /// POSTs `body` to `url`, signed with each of `secrets`, as event `event_id`. The
    /// `webhook-timestamp` is taken as it is signed, never earlier: a receiver that refuses
    /// old timestamps (5 minutes, as Standard Webhooks suggests) judges the attempt, not the
    /// run that made it.
    pub async fn send(
        &self,
        url: &str,
        event_id: &str,
        body: &str,
        secrets: &[&SigningSecret],
    ) -> Attempt {
        let started = Instant::now();
        let at = Timestamp::now();
        let timestamp = at.as_datetime().timestamp();
        let outcome = |status_code: Option<u16>, error: Option<String>| Attempt {
            at,
            status_code,
            error,
            latency_ms: started.elapsed().as_millis().try_into().unwrap_or(u64::MAX),
        };
        // Checked again: a host given as an address never reaches the resolver.
        if let Err(refused) = WebhookUrl::parse("url", url, self.policy) {
            return outcome(None, Some(format!("not sent: the URL {}", refused.message)));
        }
        let request = hyper::Request::post(url)
            .header("content-type", "application/json")
            .header("user-agent", "ledgerdock-webhooks/1")
            .header("webhook-id", event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature_header(secrets, event_id, timestamp, body.as_bytes()),
            )
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())));
        let request = match request {
            Ok(request) => request,
            Err(_) => return outcome(None, Some("not sent: the URL is not usable".into())),
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, self.client.request(request)).await {
            Err(_) => outcome(
                None,
                Some(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
            ),
            Ok(Err(failed)) => outcome(None, Some(describe(&failed))),
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                // Dropping the response closes it: its body is not the dispatcher's business.
                drop(response);
                let error = match status {
                    200..=299 => None,
                    300..=399 => Some(format!("answered {status}: redirects are not followed")),
                    _ => Some(format!("answered {status}")),
                };
                outcome(Some(status), error)
            }
        }
    }
}

/// The cause of a failed connection, in words fit for the subscriber's delivery log.
fn describe(failed: &hyper_util::client::legacy::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(failed);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::PermissionDenied => {
                    "not sent: the host resolves only to private or reserved addresses".into()
                }
                io::ErrorKind::ConnectionRefused => "connection refused".into(),
                io::ErrorKind::TimedOut => "connection timed out".into(),
                _ => format!("connection failed: {}", io.kind()),
            };
        }
        if cause.downcast_ref::<rustls::Error>().is_some() {
            return "TLS handshake failed".into();
        }
        source = cause.source();
    }
    if failed.is_connect() {
        "connection failed".into()
    } else {
        "the receiver closed the connection without an answer".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webhook_signing::verify;
    use std::str::FromStr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A receiver on 127.0.0.1 that answers every request with `status` after `delay`, and
    /// hands each request it read (head and body, as text) to the test.
    async fn receiver(
        status: u16,
        delay: Duration,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let (seen, requests) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    // Read the head, then as many body bytes as content-length says.
                    loop {
                        let n = socket.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        request.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&request).to_string();
                        if let Some(head_end) = text.find("\r\n\r\n") {
                            let length = text[..head_end]
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length: "))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if request.len() >= head_end + 4 + length {
                                break;
                            }
                        }
                    }
                    let _ = seen.send(String::from_utf8_lossy(&request).to_string());
                    tokio::time::sleep(delay).await;
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\nlocation: http://169.254.169.254/\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        (url, requests)
    }

    fn header<'a>(request: &'a str, name: &str) -> &'a str {
        request
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} header in {request}"))
    }

    #[tokio::test]
    async fn a_delivery_is_a_signed_post_that_the_receiver_verifies() {
        let (url, mut requests) = receiver(204, Duration::ZERO).await;
        let sender = Sender::new(UrlPolicy::AllowLoopback).unwrap();
        let secret = SigningSecret::generate().unwrap();
        let body = r#"{"id":"evt_1","type":"invoice.exported"}"#;
        let before = chrono::Utc::now().timestamp();
        let attempt = sender.send(&url, "evt_1", body, &[&secret]).await;
        let now = chrono::Utc::now().timestamp();
        assert!(attempt.succeeded(), "{attempt:?}");
        assert_eq!(attempt.status_code, Some(204));
        let request = requests.recv().await.unwrap();
        assert!(request.starts_with("POST /hooks HTTP/1.1"));
        assert_eq!(header(&request, "webhook-id"), "evt_1");
        assert_eq!(header(&request, "content-type"), "application/json");
        let received_body = request.split("\r\n\r\n").nth(1).unwrap();
        assert_eq!(received_body, body);
        let stamped: i64 = header(&request, "webhook-timestamp").parse().unwrap();
        assert!(
            (before..=now).contains(&stamped),
            "stamped as it was signed"
        );
        assert_eq!(attempt.at.as_datetime().timestamp(), stamped);
        verify(
            &secret,
            header(&request, "webhook-id"),
            header(&request, "webhook-timestamp"),
            header(&request, "webhook-signature"),
            received_body.as_bytes(),
            now,
        )
        .expect("the receiver verifies the signature");
    }

    #[tokio::test]
    async fn an_error_status_a_redirect_and_a_silent_receiver_are_failed_attempts() {
        let sender = Sender::new(UrlPolicy::AllowLoopback).unwrap();
        let secret = SigningSecret::generate().unwrap();
        let (failing, _r1) = receiver(500, Duration::ZERO).await;
        let attempt = sender.send(&failing, "evt_2", "{}", &[&secret]).await;
        assert_eq!(attempt.status_code, Some(500));
        assert!(!attempt.succeeded());
        let (moved, _r2) = receiver(302, Duration::ZERO).await;
        let attempt = sender.send(&moved, "evt_2", "{}", &[&secret]).await;
        assert!(!attempt.succeeded());
        assert!(attempt
            .error
            .unwrap()
            .contains("redirects are not followed"));
        let (slow, _r3) = receiver(200, ATTEMPT_TIMEOUT + Duration::from_secs(5)).await;
        let attempt = sender.send(&slow, "evt_2", "{}", &[&secret]).await;
        assert_eq!(attempt.status_code, None);
        assert_eq!(attempt.error.as_deref(), Some("no answer within 5 s"));
        assert!(attempt.latency_ms >= 4_900 && attempt.latency_ms < 7_000);
        let closed = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            format!("http://{}/", listener.local_addr().unwrap())
        };
        let attempt = sender.send(&closed, "evt_2", "{}", &[&secret]).await;
        assert_eq!(attempt.error.as_deref(), Some("connection refused"));
    }

    #[tokio::test]
    async fn in_aws_nothing_is_sent_to_a_private_or_loopback_address() {
        let (url, mut requests) = receiver(200, Duration::ZERO).await;
        let sender = Sender::new(UrlPolicy::Public).unwrap();
        let secret = SigningSecret::generate().unwrap();
        let https = url.replace("http://", "https://");
        for target in [
            url.as_str(),
            https.as_str(),
            "https://169.254.169.254/latest/",
        ] {
            let attempt = sender.send(target, "evt_3", "{}", &[&secret]).await;
            assert_eq!(attempt.status_code, None, "{target}");
            assert!(attempt.error.unwrap().starts_with("not sent"), "{target}");
        }
        // A name is checked where it resolves: localhost is only loopback addresses.
        let mut resolver = ReachableOnly {
            system: GaiResolver::new(),
            policy: UrlPolicy::Public,
        };
        let refused =
            tower_service::Service::call(&mut resolver, Name::from_str("localhost").unwrap())
                .await
                .unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::PermissionDenied);
        assert!(requests.try_recv().is_err(), "the receiver heard nothing");
    }
}
