//! A company's event feed: every event a webhook subscription could receive, kept
//! [`RETENTION`], read oldest first, each exactly once.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | event | `COMPANY#<companyId>#EVENTS` | `EVENT#<position>` (type, at, body; TTL `expiresAtEpoch`) |
//! | event-id guard | `COMPANY#<companyId>#EVENTS` | `EVENTID#<eventId>` (the event again, with its `position`; TTL `expiresAtEpoch`) |
//!
//! A position is a [`FeedCursor`], `<µs since the epoch, 16 digits>.<eventId>`: ordered by
//! time, then by id.
//!
//! **Appended once.** The fan-out derives events from the table's change stream, and Lambda
//! reads a failed stream batch again: the same event id then comes back, with a new position.
//! The event and its guard are one transaction, the guard written only if it does not exist,
//! so a second append of an id writes nothing. The guard holds the event too, so one GetItem
//! finds an event by its id (what resending one delivery needs).
//!
//! **Never skipped.** A position is the time the writer takes just before it writes, and
//! writes from different fan-out runs can commit out of position order. A reader is served
//! only positions older than the settle window ([`SETTLE`], longer than any write can take:
//! the SDK gives up on a call after 6 s), so every event it could be served has already
//! landed, and no later write lands behind a cursor. (The other way, positions that never go
//! back, would need one counter per company that every append updates: a hot item, and a
//! second write per event. The window costs a reader 10 s of latency instead, which a feed
//! read by polling can afford; webhooks are sent at once.) A cursor never goes back either:
//! the next one is the last item read, or, when the page reached the settled horizon, the
//! larger of the cursor sent and that horizon (containers' clocks differ by a little).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::attributes::s;
use super::schema::{company_pk, PK, SK, TTL_ATTRIBUTE};
use super::{transact, DynamoDbResult, Item, Transacted};
use crate::domain::webhook::EventType;
use crate::domain::{CompanyId, FeedCursor, Timestamp};
use crate::foundation::error::ApiError;

/// The feed partition of a company: `COMPANY#<id>#EVENTS`.
pub const EVENTS_PARTITION_SUFFIX: &str = "#EVENTS";
pub use crate::domain::events::{RETENTION, SETTLE};

const EVENT_PREFIX: &str = "EVENT#";
const GUARD_PREFIX: &str = "EVENTID#";

pub fn events_pk(company: &CompanyId) -> String {
    format!("{}{EVENTS_PARTITION_SUFFIX}", company_pk(company))
}

/// An event as the feed holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// Its position (set when read; ignored when appended, which takes the writer's clock).
    pub cursor: Option<FeedCursor>,
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
    pub next: FeedCursor,
    /// Whether more settled events may follow at once (the Query stopped at its limit, or
    /// at DynamoDB's 1 MB page); if not, the reader is at the horizon and polls again later.
    pub more: bool,
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
        let position = FeedCursor::of_event(written_at, &entry.event_id);
        let event = |sk: String| {
            HashMap::from([
                (PK.to_string(), s(&pk)),
                (SK.to_string(), s(sk)),
                ("eventId".to_string(), s(&entry.event_id)),
                ("type".to_string(), s(&entry.event_type)),
                ("at".to_string(), s(entry.at.to_string())),
                ("body".to_string(), s(&entry.body)),
                ("position".to_string(), s(position.as_str())),
                (TTL_ATTRIBUTE.to_string(), ttl.clone()),
            ])
        };
        let guard = event(format!("{GUARD_PREFIX}{}", entry.event_id));
        let event = event(format!("{EVENT_PREFIX}{position}"));
        let transaction = self
            .client
            .transact_write_items()
            .transact_items(self.put(guard, Some("attribute_not_exists(PK)"))?)
            .transact_items(self.put(event, None)?);
        Ok(transact(transaction).await? == Transacted::Landed)
    }

    /// The event `event_id` of the company's feed, if it is there (one GetItem).
    pub async fn get(
        &self,
        company: CompanyId,
        event_id: &str,
    ) -> Result<Option<FeedEntry>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(events_pk(&company)))
            .key(SK, s(format!("{GUARD_PREFIX}{event_id}")))
            .send()
            .await
            .in_dynamodb("GetItem")?;
        // A guard from before guards held their event tells nothing more.
        match out.item {
            Some(item) if item.contains_key("position") => decode(&item).map(Some),
            _ => Ok(None),
        }
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

    /// Up to `limit` settled entries after `after` (from the start of the retention
    /// without one), of `types` only unless it is empty. One Query. A filtered page can hold
    /// fewer than `limit` entries, none even, and still have `more`: DynamoDB counts the
    /// items it read, not those the filter kept.
    pub async fn read(
        &self,
        company: CompanyId,
        after: Option<&FeedCursor>,
        types: &[EventType],
        limit: i32,
        now: Timestamp,
    ) -> Result<FeedPage, ApiError> {
        self.read_to(
            company,
            after,
            types,
            limit,
            FeedCursor::past(now.minus(self.settle)),
        )
        .await
    }

    /// As [`Self::read`], up to every event written by `now`, settled or not: for a reader
    /// that does not page on by cursor (recovery reads what is there now, and any event
    /// landing behind it was sent by the fan-out anyway).
    pub async fn read_through(
        &self,
        company: CompanyId,
        after: Option<&FeedCursor>,
        types: &[EventType],
        limit: i32,
        now: Timestamp,
    ) -> Result<FeedPage, ApiError> {
        self.read_to(company, after, types, limit, FeedCursor::past(now))
            .await
    }

    async fn read_to(
        &self,
        company: CompanyId,
        after: Option<&FeedCursor>,
        types: &[EventType],
        limit: i32,
        horizon: FeedCursor,
    ) -> Result<FeedPage, ApiError> {
        if let Some(after) = after.filter(|a| **a >= horizon) {
            // Nothing settled past it yet (or a faster clock handed it out): read on after it.
            return Ok(FeedPage {
                entries: Vec::new(),
                next: after.clone(),
                more: false,
            });
        }
        let pk = events_pk(&company);
        // Positions are `<16 digits>.<id>` of URL-safe characters, so `<after>!` sorts after
        // `after` and before every later position.
        let from = after.map_or_else(
            || EVENT_PREFIX.to_string(),
            |a| format!("{EVENT_PREFIX}{a}!"),
        );
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(format!("{EVENT_PREFIX}{horizon}")))
            .limit(limit);
        if !types.is_empty() {
            let names: Vec<String> = (0..types.len()).map(|i| format!(":t{i}")).collect();
            query = query
                .filter_expression(format!("#type IN ({})", names.join(", ")))
                .expression_attribute_names("#type", "type");
            for (name, value) in names.iter().zip(types) {
                query = query.expression_attribute_values(name, s(value.as_str()));
            }
        }
        let out = query.send().await.in_dynamodb("Query")?;
        let entries = out
            .items()
            .iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let stopped_at = match out.last_evaluated_key().and_then(|k| k.get(SK)) {
            Some(AttributeValue::S(sk)) => Some(cursor_of(sk)?),
            _ => None,
        };
        let more = stopped_at.is_some();
        let next = stopped_at.unwrap_or_else(|| match after {
            Some(after) if *after > horizon => after.clone(),
            _ => horizon,
        });
        Ok(FeedPage {
            entries,
            next,
            more,
        })
    }
}

fn cursor_of(sk: &str) -> Result<FeedCursor, ApiError> {
    sk.strip_prefix(EVENT_PREFIX)
        .and_then(FeedCursor::from_stored)
        .ok_or_else(|| ApiError::internal(format!("feed item keyed {sk:?}")))
}

fn decode(item: &Item) -> Result<FeedEntry, ApiError> {
    let text = |name: &str| -> Result<String, ApiError> {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| ApiError::internal(format!("feed item without {name}")))
    };
    Ok(FeedEntry {
        // An event's position is its sort key; its guard holds it as `position`.
        cursor: Some(match item.get("position").and_then(|v| v.as_s().ok()) {
            Some(position) => FeedCursor::from_stored(position)
                .ok_or_else(|| ApiError::internal("feed item with a bad position"))?,
            None => cursor_of(&text(SK)?)?,
        }),
        event_id: text("eventId")?,
        event_type: text("type")?,
        at: Timestamp::parse(&text("at")?).map_err(ApiError::internal)?,
        body: text("body")?,
    })
}
