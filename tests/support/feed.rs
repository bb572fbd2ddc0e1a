//! Event feed steps: reading `GET /v1/events` as a connector does, page by page from a cursor
//! until the events it expects have settled and been served.

use std::time::{Duration, Instant};

use ledgerdock_infra::dev::DevOptions;
use serde_json::Value;

use crate::{Call, Connector, TestStack};

/// A stack whose feed serves events two seconds after they happen instead of ten, so a test
/// sees them soon (every append in the stack takes far less, DynamoDB Local's included).
pub fn settling_fast() -> DevOptions {
    DevOptions {
        feed_settle: Duration::from_secs(2),
        ..crate::options()
    }
}

/// What a reader got: the events in the order served, and the cursor to read on after.
pub struct FeedRead {
    pub events: Vec<Value>,
    pub cursor: String,
}

impl FeedRead {
    /// Each event's `type` and the id of what it tells of (invoice or job), in order.
    pub fn told(&self) -> Vec<(String, String)> {
        self.events
            .iter()
            .map(|e| {
                let data = &e["data"];
                let subject = data["invoiceId"].as_str().or(data["jobId"].as_str());
                (
                    e["type"].as_str().unwrap().to_string(),
                    subject.unwrap().to_string(),
                )
            })
            .collect()
    }

    /// The event ids, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.events
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect()
    }
}

impl TestStack {
    /// `GET /v1/events` as `tenant` with this query (`after=…&limit=…`, or empty).
    pub async fn events_page(&self, tenant: &Connector, query: &str) -> crate::Reply {
        self.get(tenant, &format!("/v1/events?{query}"))
            .call()
            .await
    }

    /// Pages through the feed from `after` (the start without one), `limit` at a time, until
    /// at least `expected` events were served and the feed is read to its end, or 30 s passed.
    pub async fn read_feed(
        &self,
        tenant: &Connector,
        after: Option<&str>,
        expected: usize,
        limit: usize,
    ) -> FeedRead {
        self.read_feed_with(tenant, "", after, expected, limit)
            .await
    }

    /// [`Self::read_feed`] from the start with `filter` (`types=…`) in every page's query.
    pub async fn read_feed_of(
        &self,
        tenant: &Connector,
        filter: &str,
        expected: usize,
        limit: usize,
    ) -> FeedRead {
        self.read_feed_with(tenant, filter, None, expected, limit)
            .await
    }

    async fn read_feed_with(
        &self,
        tenant: &Connector,
        filter: &str,
        after: Option<&str>,
        expected: usize,
        limit: usize,
    ) -> FeedRead {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut read = FeedRead {
            events: Vec::new(),
            cursor: after.unwrap_or_default().to_string(),
        };
        loop {
            let mut query = format!("limit={limit}");
            if !filter.is_empty() {
                query.push_str(&format!("&{filter}"));
            }
            if !read.cursor.is_empty() {
                query.push_str(&format!("&after={}", read.cursor));
            }
            let page = self.events_page(tenant, &query).await.ok();
            read.events
                .extend(page["items"].as_array().unwrap().iter().cloned());
            read.cursor = page["nextCursor"].as_str().unwrap().to_string();
            let more = page["hasMore"].as_bool().unwrap();
            if !more && (read.events.len() >= expected || Instant::now() > deadline) {
                return read;
            }
            if !more {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
