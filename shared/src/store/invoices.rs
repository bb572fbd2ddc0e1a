//! Invoice items: one header item plus one item per line, under the company's partition.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | header | `COMPANY#<companyId>` | `INVOICE#<invoiceId>` |
//! | line | `COMPANY#<companyId>` | `INVOICE#<invoiceId>#V<generation>#LINE#<00001>` |
//! | line (stored before generations) | `COMPANY#<companyId>` | `INVOICE#<invoiceId>#LINE#<00001>` |
//!
//! While an invoice is READY_FOR_EXPORT its header also carries `EQ_PK`/`EQ_SK`, which puts it
//! in the sparse `ExportQueue` index, and `CQ_PK`/`CQ_SK`, which puts it in the sparse
//! `ClaimQueue` index; complete and reject remove them in the same conditional UpdateItem that
//! changes the status.
//!
//! **Claims** ([`InvoiceStore::claim`]). A claim sets `claimedBy` and `claimedUntil` on the
//! header, and moves it in the claim queue from `0#<receivedAt>#<id>` (never claimed, oldest
//! first) to `1#<claimedUntil>#<id>`, in one UpdateItem conditional on the invoice being
//! READY and unclaimed (or its claim over): of two claims racing for one invoice exactly one
//! lands, and the other moves on to its next candidate. A claim reads its candidates from the
//! index (claims that ended, `1#…` up to now, then never-claimed ones), two Queries side by
//! side, and tries them in a random order, so workers claiming at once seldom meet on one
//! invoice. Cost: two Queries a round (at most [`CLAIM_ROUNDS`]), and one conditional
//! UpdateItem per invoice tried: one per invoice claimed, plus one per invoice another claim
//! took first. An ended claim needs no write: the index orders it by its end, and a claim
//! reads up to now. Complete and reject are conditional on no other client's claim lasting
//! (`claimedBy` is theirs, or `claimedUntil` has passed), so another client's complete is a
//! 409 while the lease lasts, and they remove the claim with the rest. A publish carries the
//! claim of the header it replaces over (the claim changes `updatedAt`, so a publish that read
//! the header before the claim reads it again).
//!
//! **A publish is all-or-nothing as readers see it.** An invoice may have 5,000 lines, far more
//! than one transaction (100 items, 4 MB) holds, so lines are written as a new *generation*
//! (their keys carry it) that no reader looks at, and then one conditional PutItem of the
//! header flips `linesVersion` to it. Readers (one Query on the `INVOICE#<id>` prefix) keep
//! only the lines of the generation the header names. So:
//! - the state is checked before any line is written (an EXPORTED invoice is refused at once),
//!   and the flip is conditional on the header being exactly as read (`updatedAt`) and not
//!   EXPORTED: a complete that lands meanwhile wins, and the refused publish deletes its own
//!   generation, leaving the exported invoice and its lines as they were;
//! - a publish that fails or dies halfway leaves a generation nobody points at; the invoice
//!   keeps serving its previous lines (or, if it is new, is not found);
//! - after the flip, the replaced generation is deleted, and so is any generation older than
//!   [`ABANDONED_AFTER`] (left by a publisher that died): younger ones may still be in flight;
//! - a reader whose multi-page Query raced that deletion sees lines that do not add up to the
//!   header's `lineCount` and reads again.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, PutRequest, ReturnValue, ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use super::attributes::s;
use super::schema::{
    company_pk, CLAIM_QUEUE_INDEX, CQ_PK, CQ_SK, EQ_PK, EQ_SK, EXPORT_QUEUE_INDEX, PK, SK,
};
use super::{batch_write, dynamo_error, DynamoDbResult};
use crate::domain::{
    Actor, CompanyId, Document, ExportState, Invoice, InvoiceHeader, InvoiceId, InvoiceStatus,
    LineItem, Timestamp, Transition,
};
use crate::foundation::error::ApiError;

fn header_sk(invoice: &InvoiceId) -> String {
    format!("INVOICE#{invoice}")
}

/// The prefix of every line item of one generation.
fn lines_prefix(invoice: &InvoiceId, generation: Option<&str>) -> String {
    match generation {
        Some(generation) => format!("INVOICE#{invoice}#V{generation}#LINE#"),
        None => format!("INVOICE#{invoice}#LINE#"),
    }
}

fn line_sk(invoice: &InvoiceId, generation: Option<&str>, line_number: u32) -> String {
    format!("{}{line_number:05}", lines_prefix(invoice, generation))
}

/// How many of a bulk call's UpdateItems are in flight at once. DynamoDB speaks HTTP/1.1, so
/// each one in flight holds a connection of its own (a new TLS handshake the first time); 16
/// settles 100 invoices in 7 round trips while keeping a warm container's pool small.
pub const BULK_CONCURRENCY: usize = 16;

/// How long a bulk call may spend on its writes: well inside the bulk functions' 25 s timeout
/// and API Gateway's 29 s.
pub const BULK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// A publisher older than this is certainly dead (a Lambda runs at most 15 minutes), so the
/// generation it was writing is safe to delete.
pub const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// A new generation id: its creation time in milliseconds (12 hex digits, so abandoned ones
/// can be told by age) and 8 random hex digits (two publishers in one millisecond differ).
fn new_generation(now: chrono::DateTime<chrono::Utc>) -> String {
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or_default();
    let random = uuid::Uuid::new_v4().as_fields().0;
    format!("{millis:012x}{random:08x}")
}

/// When a generation was started, from its id.
fn generation_started(generation: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let millis = i64::from_str_radix(generation.get(..12)?, 16).ok()?;
    chrono::DateTime::from_timestamp_millis(millis)
}

/// The generation a line's sort key belongs to (`None` for a line stored before generations).
fn line_generation<'a>(invoice: &InvoiceId, sk: &'a str) -> Option<Option<&'a str>> {
    let rest = sk.strip_prefix(&format!("INVOICE#{invoice}#"))?;
    if rest.starts_with("LINE#") {
        return Some(None);
    }
    let (generation, _) = rest.strip_prefix('V')?.split_once("#LINE#")?;
    Some(Some(generation))
}

/// How many times a reader retries a detail Query that raced a publish's clean-up.
const DETAIL_READ_ATTEMPTS: u32 = 3;
/// How many times a publish retries its flip when the header changed since it was read (a
/// reject or another publish meanwhile).
const FLIP_ATTEMPTS: u32 = 5;

/// The export queue's sort key: receivedAt then invoiceId, so the text order is the poll order.
pub fn queue_position(header: &InvoiceHeader) -> String {
    format!("{}#{}", header.received_at, header.invoice_id)
}

/// The claim queue's sort key (see [`CLAIM_QUEUE_INDEX`]): never claimed, by receivedAt; once
/// claimed, by when the claim ends.
pub fn claim_position(header: &InvoiceHeader) -> String {
    match header.claimed_until {
        Some(until) => format!("{CLAIMED}{until}#{}", header.invoice_id),
        None => format!("{UNCLAIMED}{}#{}", header.received_at, header.invoice_id),
    }
}

const UNCLAIMED: &str = "0#";
const CLAIMED: &str = "1#";
/// Most rounds of reading candidates one claim makes.
pub const CLAIM_ROUNDS: usize = 3;
/// Candidates read per claimed invoice wanted, per round (so concurrent claims have room).
const CANDIDATES_PER_CLAIM: usize = 3;

/// Puts `items` in a random order (Fisher-Yates over a generator seeded by a random UUID):
/// claims made at once then try their candidates in different orders.
fn shuffle<T>(items: &mut [T]) {
    let mut state = uuid::Uuid::new_v4().as_u128() as u64 | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

/// The invoice a claim-queue position names.
fn claim_position_invoice(position: &str) -> Option<InvoiceId> {
    position.rsplit_once('#')?.1.parse().ok()
}

/// Checks a position taken out of a continuation key before it goes into a query.
pub fn parse_queue_position(position: &str) -> Option<InvoiceId> {
    let (received_at, id) = position.rsplit_once('#')?;
    crate::domain::Timestamp::parse(received_at).ok()?;
    id.parse().ok()
}

#[derive(Serialize)]
struct HeaderRecord<'a> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "EQ_PK", skip_serializing_if = "Option::is_none")]
    eq_pk: Option<String>,
    #[serde(rename = "EQ_SK", skip_serializing_if = "Option::is_none")]
    eq_sk: Option<String>,
    #[serde(rename = "CQ_PK", skip_serializing_if = "Option::is_none")]
    cq_pk: Option<String>,
    #[serde(rename = "CQ_SK", skip_serializing_if = "Option::is_none")]
    cq_sk: Option<String>,
    entity: &'static str,
    #[serde(flatten)]
    header: &'a InvoiceHeader,
}

#[derive(Serialize)]
struct LineRecord<'a> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: &'static str,
    #[serde(flatten)]
    line: &'a LineItem,
}

/// One page of the export queue.
#[derive(Debug)]
pub struct QueuePage {
    pub invoice_ids: Vec<InvoiceId>,
    /// Position of the last item returned, present only when more items follow.
    pub next_position: Option<String>,
}

/// How a publish went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    Created,
    /// A READY or REJECTED invoice was replaced and is (back) in the queue.
    Replaced,
}

#[derive(Clone)]
pub struct InvoiceStore {
    client: Client,
    table: String,
}

impl InvoiceStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn key(&self, company: &CompanyId, invoice: &InvoiceId) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_string(), s(company_pk(company))),
            (SK.to_string(), s(header_sk(invoice))),
        ])
    }

    /// One Query on the sparse index. Asks for `limit + 1` items so that "more follow" is known
    /// exactly, without a second round trip.
    pub async fn list_exportable(
        &self,
        company: CompanyId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<QueuePage, ApiError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(EXPORT_QUEUE_INDEX)
            .expression_attribute_values(":pk", s(company_pk(&company)))
            .scan_index_forward(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
        query = match after {
            Some(position) => query
                .key_condition_expression("EQ_PK = :pk AND EQ_SK > :after")
                .expression_attribute_values(":after", s(position)),
            None => query.key_condition_expression("EQ_PK = :pk"),
        };
        let out = query.send().await.in_dynamodb("Query")?;
        let mut positions: Vec<String> = out
            .items()
            .iter()
            .filter_map(|item| item.get(EQ_SK).and_then(|v| v.as_s().ok()).cloned())
            .collect();
        let more = positions.len() > limit;
        positions.truncate(limit);
        let invoice_ids = positions
            .iter()
            .filter_map(|p| parse_queue_position(p))
            .collect();
        Ok(QueuePage {
            invoice_ids,
            next_position: if more { positions.pop() } else { None },
        })
    }

    /// The invoice with its lines: one Query on the `INVOICE#<id>` prefix (the header sorts
    /// first), keeping the lines of the generation the header names. An invoice whose header is
    /// not written yet (a first publish under way) is not found.
    pub async fn get(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
    ) -> Result<Option<Invoice>, ApiError> {
        for attempt in 1..=DETAIL_READ_ATTEMPTS {
            if let Some(read) = self.read_detail(company, invoice).await? {
                return Ok(read);
            }
            tracing::info!(%invoice, attempt, "detail read raced a publish; reading again");
            tokio::time::sleep(super::backoff(attempt)).await;
        }
        Err(ApiError::Unavailable {
            retry_after_secs: 1,
            cause: format!("invoice {invoice}: lines kept changing while being read"),
        })
    }

    /// One detail read; `None` when what it read does not add up (it raced a publish).
    async fn read_detail(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
    ) -> Result<Option<Option<Invoice>>, ApiError> {
        // One Query; only an invoice over 1 MB (thousands of long lines) needs more pages.
        let query = self
            .prefix_query(company, header_sk(&invoice))
            .consistent_read(true);
        let items = super::query_all(query).await?;
        let mut items = items.into_iter().peekable();
        let is_header = |item: &super::Item| {
            item.get(SK).and_then(|v| v.as_s().ok()) == Some(&header_sk(&invoice))
        };
        if !items.peek().is_some_and(is_header) {
            // Nothing, or only lines of a first publish still being written.
            return Ok(Some(None));
        }
        let Some(first) = items.next() else {
            return Ok(Some(None));
        };
        let header: InvoiceHeader = decode(first)?;
        let wanted = header.lines_version.as_deref();
        let mut lines = Vec::with_capacity(header.line_count as usize);
        for item in items {
            let generation = item
                .get(SK)
                .and_then(|v| v.as_s().ok())
                .and_then(|sk| line_generation(&invoice, sk));
            if generation == Some(wanted) {
                lines.push(decode::<LineItem>(item)?);
            }
        }
        let complete = lines.len() == header.line_count as usize
            && lines
                .iter()
                .enumerate()
                .all(|(i, line)| line.line_number as usize == i + 1);
        Ok(complete.then(|| Some(Invoice::from_parts(header, lines))))
    }

    /// Only the soft-copy list, for issuing download URLs: one GetItem with a projection.
    pub async fn documents(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
    ) -> Result<Option<Vec<Document>>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(&company, &invoice)))
            .projection_expression("documents")
            .send()
            .await
            .in_dynamodb("GetItem")?;
        let Some(mut item) = out.item else {
            return Ok(None);
        };
        match item.remove("documents") {
            Some(value) => serde_dynamo::from_attribute_value(value)
                .map(Some)
                .map_err(ApiError::internal),
            None => Ok(Some(Vec::new())),
        }
    }

    /// The header alone (strongly consistent), for publishing and for tests of stored state.
    pub async fn header(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
    ) -> Result<Option<InvoiceHeader>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(&company, &invoice)))
            .consistent_read(true)
            .send()
            .await
            .in_dynamodb("GetItem")?;
        out.item.map(decode).transpose()
    }

    /// Complete or reject: one conditional UpdateItem. On a failed condition DynamoDB hands back
    /// the current item, so telling "repeat of the same call" (200) from "conflict" (409) from
    /// "no such invoice" (404) costs no second read. Concurrent calls: exactly one wins.
    pub async fn transition(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
        transition: &Transition,
        by: &Actor,
    ) -> Result<ExportState, ApiError> {
        let client = by.client_id.as_str();
        let now = Timestamp::now();
        let (status, field, record) = match transition {
            Transition::Complete(export) => (
                InvoiceStatus::Exported,
                "export",
                serde_dynamo::to_attribute_value(export),
            ),
            Transition::Reject(rejection) => (
                InvoiceStatus::Rejected,
                "rejection",
                serde_dynamo::to_attribute_value(rejection),
            ),
        };
        let record = record.map_err(ApiError::internal)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(&company, &invoice)))
            .condition_expression(
                "attribute_exists(PK) AND #status = :ready AND (attribute_not_exists(claimedBy) \
                 OR claimedBy = :client OR claimedUntil <= :now)",
            )
            .update_expression(format!(
                "SET #status = :status, #record = :record, updatedAt = :now, \
                 changedBy = :client, changeRequestId = :request \
                 REMOVE {EQ_PK}, {EQ_SK}, {CQ_PK}, {CQ_SK}, claimedBy, claimedUntil"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#record", field)
            .expression_attribute_values(":ready", s(InvoiceStatus::ReadyForExport.as_str()))
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":record", record)
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":client", s(client))
            .expression_attribute_values(":request", s(&by.request_id))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let header: InvoiceHeader = decode(out.attributes.unwrap_or_default())?;
                Ok(ExportState::from(&header))
            }
            Err(err) => {
                if !matches!(
                    err.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) {
                    return Err(dynamo_error("UpdateItem", err));
                }
                let UpdateItemError::ConditionalCheckFailedException(failed) =
                    err.into_service_error()
                else {
                    return Err(ApiError::internal(
                        "UpdateItem error changed kind while being read",
                    ));
                };
                let Some(item) = failed.item else {
                    return Err(ApiError::not_found(format!("invoice {invoice} not found")));
                };
                let current: InvoiceHeader = decode(item)?;
                if transition.already_applied(&current) {
                    Ok(ExportState::from(&current))
                } else if let Some((_, until)) = current
                    .claimed_by_another(client, now)
                    .filter(|_| current.status == InvoiceStatus::ReadyForExport)
                {
                    Err(transition.claimed_conflict(&current, until))
                } else {
                    Err(transition.conflict_with(&current))
                }
            }
        }
    }

    /// Complete or reject each invoice as [`Self::transition`] does one: one conditional
    /// UpdateItem per invoice, each settled on its own (one that conflicts or is not found
    /// leaves the rest to land), at most [`BULK_CONCURRENCY`] in flight. Results come back in
    /// the order given.
    ///
    /// Each call is bounded by its own SDK timeouts (6 s); the whole is bounded by `deadline`,
    /// so that a slow or throttling DynamoDB still gets the caller an answer before the
    /// function's timeout: an item not settled by then is a 503 (if it was in flight, its
    /// write may still land, and retrying it is safe, as the transitions are idempotent).
    pub async fn transition_each(
        &self,
        company: CompanyId,
        transitions: Vec<(InvoiceId, Transition)>,
        by: &Actor,
        deadline: tokio::time::Instant,
    ) -> Vec<(InvoiceId, Result<ExportState, ApiError>)> {
        let late = |invoice: InvoiceId| ApiError::Unavailable {
            retry_after_secs: 1,
            cause: format!("invoice {invoice} not settled within the bulk call's deadline"),
        };
        stream::iter(transitions)
            .map(|(invoice, transition)| async move {
                // One whose turn comes after the deadline is not sent at all.
                if tokio::time::Instant::now() >= deadline {
                    return (invoice, Err(late(invoice)));
                }
                let settled = tokio::time::timeout_at(
                    deadline,
                    self.transition(company, invoice, &transition, by),
                )
                .await
                .unwrap_or_else(|_| Err(late(invoice)));
                (invoice, settled)
            })
            .buffered(BULK_CONCURRENCY)
            .collect()
            .await
    }

    /// Claims up to `limit` invoices of the export queue for `client` until `until`: ids that
    /// no other claim is handed until then (see the module docs for how and what it costs).
    /// Those whose claim ended come first, then the oldest never claimed.
    pub async fn claim(
        &self,
        company: CompanyId,
        by: &Actor,
        limit: usize,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<InvoiceId>, ApiError> {
        let window = limit * CANDIDATES_PER_CLAIM;
        let mut claimed = Vec::with_capacity(limit);
        let mut tried = std::collections::HashSet::new();
        let mut fresh_after: Option<String> = None;
        let ended_by = now.to_string();
        for _ in 0..CLAIM_ROUNDS {
            let (ended, fresh) = tokio::try_join!(
                self.claim_candidates(company, CLAIMED, None, Some(&ended_by), window),
                self.claim_candidates(company, UNCLAIMED, fresh_after.as_deref(), None, window),
            )?;
            let more_fresh = fresh.len() == window;
            fresh_after = fresh.last().cloned().or(fresh_after);
            let mut fresh: Vec<String> = fresh;
            shuffle(&mut fresh);
            let candidates: Vec<InvoiceId> = ended
                .iter()
                .chain(&fresh)
                .filter_map(|p| claim_position_invoice(p))
                .filter(|id| tried.insert(*id))
                .collect();
            let mut candidates = candidates.into_iter();
            loop {
                let wanted = limit - claimed.len();
                let batch: Vec<InvoiceId> = candidates.by_ref().take(wanted).collect();
                if wanted == 0 || batch.is_empty() {
                    break;
                }
                let won: Vec<Result<Option<InvoiceId>, ApiError>> = stream::iter(batch)
                    .map(|invoice| async move {
                        let landed = self.claim_one(company, invoice, by, until, now).await?;
                        Ok(landed.then_some(invoice))
                    })
                    .buffer_unordered(BULK_CONCURRENCY)
                    .collect()
                    .await;
                for outcome in won {
                    claimed.extend(outcome?);
                }
            }
            if claimed.len() == limit || !more_fresh {
                break;
            }
        }
        Ok(claimed)
    }

    /// Up to `limit` claim-queue positions of `company` under `prefix`, after `after` and up to
    /// `<prefix><to>` if given, oldest first. One Query on the index.
    async fn claim_candidates(
        &self,
        company: CompanyId,
        prefix: &str,
        after: Option<&str>,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, ApiError> {
        // Positions are fixed-width text, so `after!` sorts after `after` and before the next.
        let from = after.map_or_else(|| prefix.to_string(), |a| format!("{a}!"));
        let to = match to {
            // Every position of that time sorts before `<time>#~`.
            Some(to) => format!("{prefix}{to}#~"),
            None => format!("{prefix}~"),
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(CLAIM_QUEUE_INDEX)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", CQ_PK)
            .expression_attribute_names("#sk", CQ_SK)
            .expression_attribute_values(":pk", s(company_pk(&company)))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .in_dynamodb("Query")?;
        Ok(out
            .items()
            .iter()
            .filter_map(|item| item.get(CQ_SK).and_then(|v| v.as_s().ok()).cloned())
            .collect())
    }

    /// One invoice claimed for `client` until `until`, if it is READY and no claim on it lasts
    /// at `now`: one conditional UpdateItem; `false` if another claim (or a complete) was
    /// first.
    async fn claim_one(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
        by: &Actor,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, ApiError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(&company, &invoice)))
            .condition_expression(format!(
                "#status = :ready AND attribute_exists({CQ_PK}) \
                 AND (attribute_not_exists(claimedUntil) OR claimedUntil <= :now)"
            ))
            .update_expression(format!(
                "SET claimedBy = :client, claimedUntil = :until, updatedAt = :now, \
                 {CQ_SK} = :position, changedBy = :client, changeRequestId = :request"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":ready", s(InvoiceStatus::ReadyForExport.as_str()))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":client", s(&by.client_id))
            .expression_attribute_values(":request", s(&by.request_id))
            .expression_attribute_values(":until", s(until.to_string()))
            .expression_attribute_values(":position", s(format!("{CLAIMED}{until}#{invoice}")))
            .send()
            .await;
        super::landed("UpdateItem", sent)
    }

    /// Puts an invoice (back) into the export queue, all-or-nothing as readers see it: a new
    /// generation of lines first, then one conditional PutItem of the header that flips to it
    /// (see the module docs). An EXPORTED invoice is never replaced: the ERP already has it.
    pub async fn publish(
        &self,
        header: &InvoiceHeader,
        lines: &[LineItem],
    ) -> Result<PublishOutcome, ApiError> {
        let invoice = header.invoice_id;
        let mut current = self.header(header.company_id, invoice).await?;
        if let Some(existing) = current.as_ref() {
            refuse_if_exported(existing)?;
        }
        let now = chrono::Utc::now();
        let generation = new_generation(now);
        let pk = company_pk(&header.company_id);
        let mut writes = Vec::with_capacity(lines.len());
        for line in lines {
            let item = serde_dynamo::to_item(LineRecord {
                pk: pk.clone(),
                sk: line_sk(&invoice, Some(&generation), line.line_number),
                entity: "INVOICE_LINE",
                line,
            })
            .map_err(ApiError::internal)?;
            writes.push(
                WriteRequest::builder()
                    .put_request(put_request(item)?)
                    .build(),
            );
        }
        if let Err(e) = batch_write(&self.client, &self.table, writes).await {
            self.delete_generation(header.company_id, invoice, &generation)
                .await;
            return Err(e);
        }

        let mut header = header.clone();
        header.lines_version = Some(generation.clone());
        let mut attempt = 0;
        let replaced = loop {
            attempt += 1;
            // A claim on what it replaces stays: its holder may be exporting it right now.
            let ready = current
                .as_ref()
                .filter(|c| c.status == InvoiceStatus::ReadyForExport);
            header.claimed_by = ready.and_then(|c| c.claimed_by.clone());
            header.claimed_until = ready.and_then(|c| c.claimed_until);
            match self.flip(&header, current.as_ref()).await {
                Ok(()) => break current,
                Err(Flip::Failed(e)) => {
                    self.delete_generation(header.company_id, invoice, &generation)
                        .await;
                    return Err(e);
                }
                Err(Flip::Changed(now_stored)) => {
                    // Exported meanwhile: refused, and our lines go. Otherwise (rejected or
                    // republished meanwhile) flip over what is there now.
                    let refused = match now_stored.as_ref() {
                        Some(stored) if stored.status == InvoiceStatus::Exported => {
                            Some(ApiError::InvalidStateTransition {
                                message: format!(
                                    "invoice {invoice} was exported while it was being published"
                                ),
                                current_status: InvoiceStatus::Exported.as_str().to_string(),
                            })
                        }
                        _ if attempt >= FLIP_ATTEMPTS => Some(ApiError::Unavailable {
                            retry_after_secs: 1,
                            cause: format!("invoice {invoice} kept changing during a publish"),
                        }),
                        _ => None,
                    };
                    if let Some(error) = refused {
                        self.delete_generation(header.company_id, invoice, &generation)
                            .await;
                        return Err(error);
                    }
                    current = now_stored.map(|stored| *stored);
                }
            }
        };
        self.clean_up_generations(
            header.company_id,
            invoice,
            &generation,
            replaced.as_ref(),
            now,
        )
        .await;
        Ok(if replaced.is_some() {
            PublishOutcome::Replaced
        } else {
            PublishOutcome::Created
        })
    }

    /// The conditional header write that makes a generation visible: only over exactly the
    /// header that was read (`updatedAt` unchanged, not EXPORTED), or where there is none.
    async fn flip(
        &self,
        header: &InvoiceHeader,
        expected: Option<&InvoiceHeader>,
    ) -> Result<(), Flip> {
        let ready = header.status == InvoiceStatus::ReadyForExport;
        let record = HeaderRecord {
            pk: company_pk(&header.company_id),
            sk: header_sk(&header.invoice_id),
            eq_pk: ready.then(|| company_pk(&header.company_id)),
            eq_sk: ready.then(|| queue_position(header)),
            cq_pk: ready.then(|| company_pk(&header.company_id)),
            cq_sk: ready.then(|| claim_position(header)),
            entity: "INVOICE",
            header,
        };
        let item =
            serde_dynamo::to_item(record).map_err(|e| Flip::Failed(ApiError::internal(e)))?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        put = match expected {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some(expected) => put
                .condition_expression("updatedAt = :seen AND #status <> :exported")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":seen", s(expected.updated_at.to_string()))
                .expression_attribute_values(":exported", s(InvoiceStatus::Exported.as_str())),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                if !e
                    .as_service_error()
                    .is_some_and(|err| err.is_conditional_check_failed_exception())
                {
                    return Err(Flip::Failed(dynamo_error("PutItem", e)));
                }
                let stored = match e.into_service_error() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed) => {
                        failed.item.map(decode).transpose().map_err(Flip::Failed)?.map(Box::new)
                    }
                    _ => None,
                };
                Err(Flip::Changed(stored))
            }
        }
    }

    /// After a flip: deletes the generation it replaced and any abandoned one. Best effort: a
    /// generation left behind is invisible to readers and is deleted by a later publish.
    async fn clean_up_generations(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
        kept: &str,
        replaced: Option<&InvoiceHeader>,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        // A new invoice replaced nothing; older attempts of its first publish may have died.
        let replaced_generation = replaced.map(|header| header.lines_version.as_deref());
        let abandoned_before =
            now - chrono::Duration::from_std(ABANDONED_AFTER).unwrap_or(chrono::Duration::zero());
        let result = self
            .delete_lines_where(company, invoice, |generation| match generation {
                Some(g) if g == kept => false,
                g if Some(g) == replaced_generation => true,
                None => false,
                Some(g) => generation_started(g).is_some_and(|at| at < abandoned_before),
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(%invoice, error = %e, "old invoice lines were not deleted; a later publish will");
        }
    }

    /// Deletes one generation's lines (a publish that did not flip). Best effort, as above.
    async fn delete_generation(&self, company: CompanyId, invoice: InvoiceId, generation: &str) {
        let result = self
            .delete_lines_where(company, invoice, |g| g == Some(generation))
            .await;
        if let Err(e) = result {
            tracing::warn!(%invoice, error = %e, "unused invoice lines were not deleted; a later publish will");
        }
    }

    /// Deletes every line item of the invoice whose generation `doomed` picks: one keys-only
    /// Query over the line items, then BatchWriteItem deletes.
    async fn delete_lines_where(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
        doomed: impl Fn(Option<&str>) -> bool,
    ) -> Result<(), ApiError> {
        let query = self
            .prefix_query(company, format!("{}#", header_sk(&invoice)))
            .projection_expression("PK, SK");
        let keys: Vec<_> = super::query_all(query)
            .await?
            .into_iter()
            .filter(|key| {
                key.get(SK)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|sk| line_generation(&invoice, sk))
                    .is_some_and(&doomed)
            })
            .collect();
        batch_write(&self.client, &self.table, super::delete_requests(keys)?).await
    }

    /// A Query for the company's items whose sort key starts with `prefix`.
    fn prefix_query(
        &self,
        company: CompanyId,
        prefix: String,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(company_pk(&company)))
            .expression_attribute_values(":prefix", s(prefix))
    }
}

/// Why a header flip did not happen.
enum Flip {
    /// The header is no longer the one read: here is what is stored now.
    Changed(Option<Box<InvoiceHeader>>),
    Failed(ApiError),
}

fn refuse_if_exported(current: &InvoiceHeader) -> Result<(), ApiError> {
    if current.status == InvoiceStatus::Exported {
        return Err(ApiError::InvalidStateTransition {
            message: format!(
                "invoice {} was already exported and cannot be published again",
                current.invoice_id
            ),
            current_status: current.status.as_str().to_string(),
        });
    }
    Ok(())
}

fn put_request(item: HashMap<String, AttributeValue>) -> Result<PutRequest, ApiError> {
    PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(ApiError::internal)
}

fn decode<T: serde::de::DeserializeOwned>(
    item: HashMap<String, AttributeValue>,
) -> Result<T, ApiError> {
    serde_dynamo::from_item(item)
        .map_err(|e| ApiError::internal(format!("stored item does not decode: {e}")))
}
