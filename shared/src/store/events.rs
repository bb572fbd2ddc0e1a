//! A company's event feed: every event a webhook subscription could receive, kept
//! [`RETENTION`], read oldest first, each exactly once.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | event | `COMPANY#<companyId>#EVENTS` | `EVENT#<position>` (type, at, body; TTL `expiresAtEpoch`) |
//! | event-id guard | `COMPANY#<companyId>#EVENTS` | `EVENTID#<eventId>` (TTL `expiresAtEpoch`) |
//!
//! A position is `<µs since the epoch, 16 digits>#<eventId>`: ordered by time, then by id.
//!
//! **Appended once.** The fan-out derives events from the table's change stream, and Lambda
//! reads a failed stream batch again: the same event id then comes back, with a new position.
//! The event and its guard are one transaction, the guard written only if it does not exist,
//! so a second append of an id writes nothing.
//!
//! **Never skipped.** A position is the time the writer takes just before it writes, and
//! writes from different fan-out runs can commit out of position order. A reader is served
//! only positions older than the settle window ([`SETTLE`], longer than any write can take:
//! the SDK gives up on a call after 6 s), so every event it could be served has already
//! landed, and no later write lands behind a cursor. A cursor never goes back either: the next
//! one is the last item read, or, when the page reached the settled horizon, the larger of the
//! cursor sent and that horizon (containers' clocks differ by a little).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::attributes::s;
use super::schema::{company_pk, PK, SK, TTL_ATTRIBUTE};
use super::{transact, DynamoDbResult, Item, Transacted};
use crate::domain::{CompanyId, Timestamp};
use crate::foundation::error::ApiError;

/// The feed partition of a company: `COMPANY#<id>#EVENTS`.
pub const EVENTS_PARTITION_SUFFIX: &str = "#EVENTS";
/// How long an event stays in the feed.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How old an event must be before it is served: longer than an append can take to commit.
pub const SETTLE: Duration = Duration::from_secs(10);

const EVENT_PREFIX: &str = "EVENT#";
const GUARD_PREFIX: &str = "EVENTID#";
/// Sorts after every event id character, so `<time>#~` is past every event of that time.
const PAST_EVERY_ID: char = '~';

pub fn events_pk(company: &CompanyId) -> String {
    format!("{}{EVENTS_PARTITION_SUFFIX}", company_pk(company))
}

/// An event as the feed holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    pub event_id: String,
    pub event_type: String,
    /// When the event happened (the change it tells of).
    pub at: Timestamp,
    /// The event as delivered: the JSON a webhook receiver gets.
    pub body: String,
}

/// A page of the feed, and the position to read on after.
#[derive(Debug)]
pub struct FeedPage {
    pub entries: Vec<FeedEntry>,
    pub next: String,
}

/// A feed position: `<µs since the epoch, 16 digits>#<eventId>`.
fn position(at: Timestamp, event_id: &str) -> String {
    format!("{:016}#{event_id}", at.as_datetime().timestamp_micros())
}

/// Whether `raw` is a position this feed hands out (the cursor a reader sends back).
pub fn is_position(raw: &str) -> bool {
    raw.split_once('#').is_some_and(|(micros, rest)| {
        micros.len() == 16 && micros.bytes().all(|b| b.is_ascii_digit()) && !rest.is_empty()
    })
}

#[derive(Clone)]
pub struct EventFeed {
    client: Client,
    table: String,
    settle: Duration,
}

impl EventFeed {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            settle: SETTLE,
        }
    }

    /// The same feed served after another settle window (tests shorten it to see the
    /// mechanism work in a moment).
    pub fn with_settle(self, settle: Duration) -> Self {
        Self { settle, ..self }
    }

    /// Appends `entry` to the company's feed at position `written_at` (the writer's clock,
    /// taken just before this call). `false`: an entry with this id was appended before, and
    /// nothing was written.
    pub async fn append(
        &self,
        company: CompanyId,
        entry: &FeedEntry,
        written_at: Timestamp,
    ) -> Result<bool, ApiError> {
        let pk = events_pk(&company);
        let expires = written_at.plus(RETENTION).as_datetime().timestamp();
        let ttl = AttributeValue::N(expires.to_string());
        let guard = HashMap::from([
            (PK.to_string(), s(&pk)),
            (
                SK.to_string(),
                s(format!("{GUARD_PREFIX}{}", entry.event_id)),
            ),
            (TTL_ATTRIBUTE.to_string(), ttl.clone()),
        ]);
        let event = HashMap::from([
            (PK.to_string(), s(&pk)),
            (
                SK.to_string(),
                s(format!(
                    "{EVENT_PREFIX}{}",
                    position(written_at, &entry.event_id)
                )),
            ),
            ("eventId".to_string(), s(&entry.event_id)),
            ("type".to_string(), s(&entry.event_type)),
            ("at".to_string(), s(entry.at.to_string())),
            ("body".to_string(), s(&entry.body)),
            (TTL_ATTRIBUTE.to_string(), ttl),
        ]);
        let transaction = self
            .client
            .transact_write_items()
            .transact_items(self.put(guard, Some("attribute_not_exists(PK)"))?)
            .transact_items(self.put(event, None)?);
        Ok(transact(transaction).await? == Transacted::Landed)
    }

    fn put(&self, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, ApiError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .build()
            .map(|put| TransactWriteItem::builder().put(put).build())
            .map_err(ApiError::internal)
    }

    /// Up to `limit` settled entries after position `after` (from the start of the retention
    /// without one), of `types` only if given. One Query.
    pub async fn read(
        &self,
        company: CompanyId,
        after: Option<&str>,
        types: Option<&[&str]>,
        limit: i32,
        now: Timestamp,
    ) -> Result<FeedPage, ApiError> {
        let horizon_micros = now.as_datetime().timestamp_micros()
            - i64::try_from(self.settle.as_micros()).unwrap_or(i64::MAX);
        let horizon = format!("{horizon_micros:016}#{PAST_EVERY_ID}");
        let after = after.map(str::to_string);
        if after.as_deref().is_some_and(|a| a >= horizon.as_str()) {
            // Nothing settled past it yet (or a faster clock handed it out): read on after it.
            return Ok(FeedPage {
                entries: Vec::new(),
                next: after.unwrap_or(horizon),
            });
        }
        let pk = events_pk(&company);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":from", s(EVENT_PREFIX))
            .expression_attribute_values(":to", s(format!("{EVENT_PREFIX}{horizon}")))
            .limit(limit);
        if let Some(after) = &after {
            query = query.set_exclusive_start_key(Some(HashMap::from([
                (PK.to_string(), s(&pk)),
                (SK.to_string(), s(format!("{EVENT_PREFIX}{after}"))),
            ])));
        }
        if let Some(types) = types.filter(|t| !t.is_empty()) {
            let names: Vec<String> = (0..types.len()).map(|i| format!(":t{i}")).collect();
            query = query
                .filter_expression(format!("#type IN ({})", names.join(", ")))
                .expression_attribute_names("#type", "type");
            for (name, value) in names.iter().zip(types) {
                query = query.expression_attribute_values(name, s(*value));
            }
        }
        let out = query.send().await.in_dynamodb("Query")?;
        let entries = out
            .items()
            .iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let next = match out.last_evaluated_key().and_then(|k| k.get(SK)) {
            Some(AttributeValue::S(sk)) => sk.trim_start_matches(EVENT_PREFIX).to_string(),
            _ => match after {
                Some(after) if after > horizon => after,
                _ => horizon,
            },
        };
        Ok(FeedPage { entries, next })
    }
}

fn decode(item: &Item) -> Result<FeedEntry, ApiError> {
    let text = |name: &str| -> Result<String, ApiError> {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| ApiError::internal(format!("feed item without {name}")))
    };
    Ok(FeedEntry {
        event_id: text("eventId")?,
        event_type: text("type")?,
        at: Timestamp::parse(&text("at")?).map_err(ApiError::internal)?,
        body: text("body")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_sort_by_time_then_id_and_are_recognised() {
        let t1 = Timestamp::parse("2026-12-07T10:00:00.001Z").unwrap();
        let t2 = Timestamp::parse("2026-12-07T10:00:00.002Z").unwrap();
        let (a, b, c) = (
            position(t1, "evt_b"),
            position(t2, "evt_a"),
            position(t2, "evt_b"),
        );
        assert!(a < b && b < c);
        assert!(c < format!("{}#{PAST_EVERY_ID}", &c[..16]));
        assert!(is_position(&a));
        for bad in ["", "123#evt", "x000000000000000#evt", "1733565600000000#"] {
            assert!(!is_position(bad), "{bad}");
        }
    }
}
