//! The connector's HTTP client: HTTPS (system roots) or plain HTTP, one connection pool, a
//! deadline per request. Built on the hyper and rustls stack the AWS SDKs already link, so the
//! CLI adds no second TLS implementation.

use std::time::Duration;

use anyhow::Context;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Longest any one request may take, the body included.
const REQUEST_DEADLINE: Duration = Duration::from_secs(60);
/// Largest answer read: an API answer is at most Lambda's 6 MB; a soft copy is at most the
/// platform's document limit (25 MB), with room.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// An answer: status, headers and the whole body.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
pub struct Http {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Http {
    pub fn new() -> anyhow::Result<Self> {
        let mut plain = HttpConnector::new();
        plain.enforce_http(false);
        plain.set_connect_timeout(Some(Duration::from_secs(10)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .context("loading the system's root certificates")?
            .https_or_http()
            .enable_http1()
            .wrap_connector(plain);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Self { client })
    }

    /// Sends one request and reads the whole answer. An error is the transport's (no answer
    /// came); any status is an answer.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        let mut request = Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .with_context(|| format!("{url} is not a URL this client can call"))?;
        let exchange = async {
            let response = self.client.request(request).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .to_bytes();
            anyhow::Ok(Reply {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(REQUEST_DEADLINE, exchange)
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {}s", REQUEST_DEADLINE.as_secs()))?
            .with_context(|| format!("{method} {}", without_query(url)))
    }
}

/// A URL as it may be printed: a pre-signed URL's query is a credential.
pub fn without_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}
