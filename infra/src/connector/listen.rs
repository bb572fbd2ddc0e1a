//! `ledgerdock listen --forward-to URL`: the webhook developer's loop without a public URL.
//! It reads the company's event feed through the API (the dev stack or a deployed one: only
//! outbound calls, so it works behind any NAT) and sends each event to `URL` as a webhook
//! delivery: the same body, the same `webhook-id` / `webhook-timestamp` / `webhook-signature`
//! headers, signed by the same code ([`Sender`]) as the platform's own deliveries. With the
//! subscription's secret (`--secret`), a receiver verifies them exactly as it will verify the
//! real ones; without it, a secret is made for the session and printed.
//!
//! Events arrive once the feed serves them: after its settle window (10 s in AWS), not at once
//! as a webhook would.

use std::time::Duration;

use anyhow::Context;
use ledgerdock_shared::domain::events::{FeedCursor, SETTLE};
use ledgerdock_shared::domain::webhook::UrlPolicy;
use ledgerdock_shared::domain::webhook_signing::SigningSecret;
use ledgerdock_shared::domain::Timestamp;
use ledgerdock_shared::features::webhooks::delivery::Sender;
use serde::Deserialize;

use super::api::Api;

pub struct ListenOptions {
    pub forward_to: String,
    /// Only these event types (all the client may read if empty).
    pub types: Vec<String>,
    pub secret: SigningSecret,
    /// From this time on (default: from now).
    pub since: Option<Timestamp>,
    /// How often the feed is read when it is at its end.
    pub interval: Duration,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventPage {
    items: Vec<serde_json::Map<String, serde_json::Value>>,
    next_cursor: String,
    has_more: bool,
}

/// Tries per event before it is reported as not forwarded and the next one is sent.
const TRIES: u32 = 3;

pub async fn listen(api: &Api, options: ListenOptions) -> anyhow::Result<()> {
    let sender = Sender::new(UrlPolicy::AllowLoopback).context("building the HTTP client")?;
    let since = options.since.unwrap_or_else(Timestamp::now);
    // Past everything before `since` (one microsecond earlier, so `since`'s own are kept).
    let mut cursor = FeedCursor::past(since.minus(Duration::from_micros(1)))
        .as_str()
        .to_string();
    let types = if options.types.is_empty() {
        String::new()
    } else {
        format!("&types={}", options.types.join(","))
    };
    eprintln!(
        "forwarding the events of company {} to {} (they arrive once the feed serves them, \
         about {} s after they happen; Ctrl-C to stop)",
        api.target.company,
        options.forward_to,
        SETTLE.as_secs()
    );
    loop {
        let page: EventPage = api
            .get(&format!("/v1/events?limit=100&after={cursor}{types}"))
            .await
            .context("reading the event feed")?;
        for mut event in page.items {
            event.remove("cursor");
            let id = event["id"].as_str().unwrap_or_default().to_string();
            let kind = event["type"].as_str().unwrap_or_default().to_string();
            let body = serde_json::Value::Object(event).to_string();
            let mut outcome = String::new();
            for attempt in 1..=TRIES {
                let sent = sender
                    .send(&options.forward_to, &id, &body, &[&options.secret])
                    .await;
                outcome = match sent.status_code {
                    Some(status) => format!("{status} ({} ms)", sent.latency_ms),
                    None => sent.error.clone().unwrap_or_else(|| "no answer".into()),
                };
                if sent.succeeded() || attempt == TRIES {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            }
            println!("{} {kind} {id} -> {outcome}", Timestamp::now());
        }
        cursor = page.next_cursor;
        if !page.has_more {
            tokio::time::sleep(options.interval).await;
        }
    }
}
