//! The API as a connector calls it: OAuth2 client credentials (a token fetched, kept until
//! shortly before it expires, fetched again on a 401), the company header on every call, and
//! the retries a mature client makes: 429 and 503 after their `Retry-After`, a dropped
//! connection with a growing pause. Every other answer is the caller's to read.

use std::time::{Duration, Instant};

use anyhow::Context;
use http::Method;
use ledgerdock_shared::domain::CompanyId;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::http::{Http, Reply};

/// Where the API is and who calls it.
#[derive(Clone, Debug)]
pub struct ApiTarget {
    /// The API's base URL (`http://127.0.0.1:3000`, or the stage URL of a deployed stack).
    pub api_url: String,
    /// The OAuth2 token endpoint (the dev stack's `/oauth2/token`, or Cognito's domain).
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub company: CompanyId,
}

/// How often a call is tried before its failure is the caller's.
const ATTEMPTS: u32 = 8;
/// A token is fetched again this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// A refused call: the API's error document, read.
#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct Refused {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Refused {
    pub fn from_reply(reply: &Reply) -> Self {
        let error: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        let text = |key: &str| error["error"][key].as_str().map(str::to_string);
        Self {
            status: reply.status,
            code: text("code").unwrap_or_else(|| "UNKNOWN".into()),
            message: text("message").unwrap_or_else(|| {
                String::from_utf8_lossy(&reply.body)
                    .chars()
                    .take(300)
                    .collect()
            }),
        }
    }
}

pub struct Api {
    pub target: ApiTarget,
    http: Http,
    token: Mutex<Option<(String, Instant)>>,
}

impl Api {
    pub fn new(target: ApiTarget) -> anyhow::Result<Self> {
        Ok(Self {
            target,
            http: Http::new()?,
            token: Mutex::new(None),
        })
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    /// `GET path` (path and query, from `/v1/…`), its JSON answer read as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call(Method::GET, path, None).await
    }

    /// `POST path` with `body` as JSON, its JSON answer read as `T`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<T> {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<T> {
        let reply = self.send(method.clone(), path, body).await?;
        if !(200..300).contains(&reply.status) {
            return Err(Refused::from_reply(&reply).into());
        }
        serde_json::from_slice(&reply.body)
            .with_context(|| format!("{method} {path} answered JSON this client cannot read"))
    }

    /// Sends one call, retried as the module docs say; the answer as it came.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<Reply> {
        let url = format!("{}{path}", self.target.api_url.trim_end_matches('/'));
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let company = self.target.company.to_string();
        let mut pause = Duration::from_millis(200);
        let mut token_refreshed = false;
        for attempt in 1..=ATTEMPTS {
            let token = self.token(false).await?;
            let bearer = format!("Bearer {token}");
            let mut headers = vec![
                ("authorization", bearer.as_str()),
                ("lightyear-company-id", company.as_str()),
                ("accept", "application/json"),
            ];
            if !body.is_empty() {
                headers.push(("content-type", "application/json"));
            }
            let last = attempt == ATTEMPTS;
            match self
                .http
                .send(method.clone(), &url, &headers, body.clone())
                .await
            {
                Ok(reply) if reply.status == 401 && !token_refreshed => {
                    // Expired or revoked early: one fresh token, then the answer stands.
                    token_refreshed = true;
                    self.token(true).await?;
                }
                Ok(reply) if matches!(reply.status, 429 | 503) && !last => {
                    let wait = reply
                        .header("retry-after")
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .map_or(pause, Duration::from_secs);
                    tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                }
                Ok(reply) => return Ok(reply),
                Err(e) if !last => {
                    tracing::debug!("{e:#}; trying again in {pause:?}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(e),
            }
        }
        anyhow::bail!("{method} {path}: no answer after {ATTEMPTS} attempts")
    }

    /// The token, fetched if there is none, it is about to expire, or `fresh` asks.
    async fn token(&self, fresh: bool) -> anyhow::Result<String> {
        let mut slot = self.token.lock().await;
        if let Some((token, until)) = slot.as_ref() {
            if !fresh && Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .finish();
        // HTTP Basic, as Cognito requires of a client with a secret.
        let basic = format!(
            "Basic {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{}:{}", self.target.client_id, self.target.client_secret)
            )
        );
        let mut pause = Duration::from_millis(200);
        let reply = loop {
            match self
                .http
                .send(
                    Method::POST,
                    &self.target.token_url,
                    &[
                        ("content-type", "application/x-www-form-urlencoded"),
                        ("authorization", basic.as_str()),
                    ],
                    form.clone().into_bytes(),
                )
                .await
            {
                Ok(reply) if !matches!(reply.status, 429 | 503) => break reply,
                Ok(_) | Err(_) if pause < Duration::from_secs(5) => {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Ok(reply) => break reply,
                Err(e) => return Err(e.context("fetching a token")),
            }
        };
        #[derive(serde::Deserialize)]
        struct Granted {
            access_token: String,
            expires_in: u64,
        }
        if reply.status != 200 {
            anyhow::bail!(
                "the token endpoint {} refused client {} ({}): {}",
                self.target.token_url,
                self.target.client_id,
                reply.status,
                String::from_utf8_lossy(&reply.body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            );
        }
        let granted: Granted = serde_json::from_slice(&reply.body)
            .context("the token endpoint's answer has no access_token")?;
        let lasts = Duration::from_secs(granted.expires_in).saturating_sub(TOKEN_MARGIN);
        *slot = Some((granted.access_token.clone(), Instant::now() + lasts));
        Ok(granted.access_token)
    }
}
