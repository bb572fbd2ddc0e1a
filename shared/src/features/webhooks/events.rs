//! The events a webhook tells of, derived from the table's change stream.
//!
//! **Why the stream.** A state change and the news of it must not part: a complete that lands
//! must be told, and one that was refused must not be. The table's DynamoDB stream (new and old
//! images) holds a record of every write exactly when that write committed, so deriving events
//! from it is transactional without touching the request path: complete stays one conditional
//! UpdateItem, and a request never waits for (or fails because of) a receiver.
//!
//! A stream record becomes at most one event:
//!
//! | item | old → new `status` | event |
//! |---|---|---|
//! | invoice header (`INVOICE#<id>`) | none / other / another publish → `READY_FOR_EXPORT` | `invoice.ready_for_export` |
//! | invoice header | `READY_FOR_EXPORT` → `EXPORTED` | `invoice.exported` |
//! | invoice header | `READY_FOR_EXPORT` → `REJECTED` | `invoice.rejected` |
//! | import job (`IMPORTJOB#<id>`) | `IN_PROGRESS` → `FINISHED` | `import_job.finished` |
//! | import job | `IN_PROGRESS` → `FAILED` | `import_job.failed` |
//!
//! "Another publish" is a header whose `linesVersion` changed while it stayed ready: the
//! invoice was republished, and its receiver should fetch it again. Every other record (lines,
//! counters, a job's progress writes, deletions) tells nothing.
//!
//! The event's id is derived from the stream record's id, so a record read twice (a retried
//! batch) gives the same id, and receivers de-duplicate on it (`webhook-id`).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::webhook::EventType;
use crate::domain::{CompanyId, InvoiceId, JobId, Timestamp};

/// The sort-key prefixes of the only items whose changes can be news (invoice headers and
/// import jobs; an invoice's line items share the prefix but carry more of the key).
pub const NEWS_KEY_PREFIXES: [&str; 2] = ["INVOICE#", "IMPORTJOB#"];
/// The `entity` of those items, and the states a write must leave them in to be news:
/// template.yaml's stream filter lets through only such writes, so no other (a request
/// counter, a line item, an import job's progress) ever starts the fan-out.
pub const NEWS_ENTITIES: [&str; 2] = ["INVOICE", "IMPORT_JOB"];
pub const NEWS_STATUSES: [&str; 5] = [
    "READY_FOR_EXPORT",
    "EXPORTED",
    "REJECTED",
    "FINISHED",
    "FAILED",
];

pub use crate::features::changes::{Change, Image, StreamChange, StreamEvent, StreamRecord};

/// What a receiver is sent: small, ids to fetch the detail with, never a secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `evt_` and 32 hex digits; also the delivery's `webhook-id`.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub created_at: Timestamp,
    pub company_id: CompanyId,
    pub data: EventData,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EventData {
    #[serde(rename_all = "camelCase")]
    Invoice {
        invoice_id: InvoiceId,
        status: String,
    },
    #[serde(rename_all = "camelCase")]
    ImportJob { job_id: JobId, status: String },
}

impl Event {
    /// The body every delivery of this event carries, byte for byte (what is signed).
    pub fn body(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("plain data serialises"))
    }
}

/// The event id of a stream record: the same on every read of that record.
pub fn event_id(record_id: &str) -> String {
    let digest = Sha256::digest(record_id.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("evt_{hex}")
}

fn text<'a>(image: Option<&'a Image>, name: &str) -> Option<&'a str> {
    image?.get(name)?.as_s().ok().map(String::as_str)
}

/// The event `change` tells of, if any (see the module's table).
pub fn event_of(change: &Change) -> Option<Event> {
    let new = change.new.as_ref()?;
    let company: CompanyId = crate::store::schema::company_of_partition(text(Some(new), "PK")?)?;
    let sk = text(Some(new), "SK")?;
    let old_status = text(change.old.as_ref(), "status");
    let new_status = text(Some(new), "status")?;
    let [invoice_prefix, job_prefix] = NEWS_KEY_PREFIXES;
    let (event_type, data) = if let Some(id) = sk.strip_prefix(invoice_prefix) {
        // Line items share the prefix but carry more of the key.
        let invoice_id: InvoiceId = id.parse().ok()?;
        let republished =
            text(change.old.as_ref(), "linesVersion") != text(Some(new), "linesVersion");
        let event_type = match (old_status, new_status) {
            (Some("READY_FOR_EXPORT"), "READY_FOR_EXPORT") if republished => {
                EventType::InvoiceReadyForExport
            }
            (Some("READY_FOR_EXPORT"), "READY_FOR_EXPORT") => return None,
            (_, "READY_FOR_EXPORT") => EventType::InvoiceReadyForExport,
            (Some("READY_FOR_EXPORT"), "EXPORTED") => EventType::InvoiceExported,
            (Some("READY_FOR_EXPORT"), "REJECTED") => EventType::InvoiceRejected,
            _ => return None,
        };
        let data = EventData::Invoice {
            invoice_id,
            status: new_status.to_string(),
        };
        (event_type, data)
    } else if let Some(id) = sk.strip_prefix(job_prefix) {
        let job_id: JobId = id.parse().ok()?;
        let event_type = match (old_status, new_status) {
            (Some("IN_PROGRESS"), "FINISHED") => EventType::ImportJobFinished,
            (Some("IN_PROGRESS"), "FAILED") => EventType::ImportJobFailed,
            _ => return None,
        };
        let data = EventData::ImportJob {
            job_id,
            status: new_status.to_string(),
        };
        (event_type, data)
    } else {
        return None;
    };
    // The item's own `updatedAt` is the moment of the change to the millisecond; the stream's
    // time (to the second) stands in where an item has none.
    let created_at = text(Some(new), "updatedAt")
        .and_then(|t| Timestamp::parse(t).ok())
        .unwrap_or(change.approximate_at);
    Some(Event {
        id: event_id(&change.record_id),
        event_type,
        created_at,
        company_id: company,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;
    use std::collections::HashMap;

    const COMPANY: &str = "0b0c7a36-5d2c-4f4e-9f0a-1d2e3f405162";
    const INVOICE: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    const JOB: &str = "a3bb189e-8bf9-3888-9912-ace4e6543002";

    fn image(sk: &str, status: &str, lines_version: &str) -> Image {
        let s = |v: &str| AttributeValue::S(v.to_string());
        HashMap::from([
            ("PK".to_string(), s(&format!("COMPANY#{COMPANY}"))),
            ("SK".to_string(), s(sk)),
            ("status".to_string(), s(status)),
            ("linesVersion".to_string(), s(lines_version)),
            ("updatedAt".to_string(), s("2026-11-22T10:00:00.123Z")),
        ])
    }

    fn change(old: Option<Image>, new: Option<Image>) -> Change {
        Change {
            record_id: "4b25bd0da9a181a155114127e4837252".into(),
            approximate_at: Timestamp::parse("2026-11-22T10:00:00Z").unwrap(),
            old,
            new,
        }
    }

    fn invoice(status: &str, version: &str) -> Option<Image> {
        Some(image(&format!("INVOICE#{INVOICE}"), status, version))
    }

    fn job(status: &str) -> Option<Image> {
        Some(image(&format!("IMPORTJOB#{JOB}"), status, ""))
    }

    fn kind(old: Option<Image>, new: Option<Image>) -> Option<&'static str> {
        event_of(&change(old, new)).map(|e| e.event_type.as_str())
    }

    #[test]
    fn each_status_change_of_an_invoice_or_job_is_its_event_and_nothing_else_is_one() {
        let ready = "READY_FOR_EXPORT";
        assert_eq!(
            kind(None, invoice(ready, "1")),
            Some("invoice.ready_for_export")
        );
        assert_eq!(
            kind(invoice("REJECTED", "1"), invoice(ready, "2")),
            Some("invoice.ready_for_export")
        );
        assert_eq!(
            kind(invoice(ready, "1"), invoice(ready, "2")),
            Some("invoice.ready_for_export"),
            "a republish while ready"
        );
        assert_eq!(kind(invoice(ready, "1"), invoice(ready, "1")), None);
        assert_eq!(
            kind(invoice(ready, "1"), invoice("EXPORTED", "1")),
            Some("invoice.exported")
        );
        assert_eq!(
            kind(invoice(ready, "1"), invoice("REJECTED", "1")),
            Some("invoice.rejected")
        );
        assert_eq!(
            kind(invoice("EXPORTED", "1"), invoice("EXPORTED", "1")),
            None
        );
        assert_eq!(
            kind(job("IN_PROGRESS"), job("FINISHED")),
            Some("import_job.finished")
        );
        assert_eq!(
            kind(job("IN_PROGRESS"), job("FAILED")),
            Some("import_job.failed")
        );
        assert_eq!(kind(None, job("IN_PROGRESS")), None);
        assert_eq!(kind(job("IN_PROGRESS"), job("IN_PROGRESS")), None);
        assert_eq!(kind(invoice(ready, "1"), None), None, "a deletion");
        let line = Some(image(
            &format!("INVOICE#{INVOICE}#V2#LINE#00001"),
            ready,
            "2",
        ));
        assert_eq!(kind(None, line), None, "a line item");
    }

    /// What Lambda sends, as `sam local generate-event dynamodb update` writes it.
    const SAM_EVENT: &str = include_str!("testdata/dynamodb-update.json");

    #[test]
    fn a_stream_event_as_lambda_sends_it_reads_as_one_change_per_record() {
        let event: StreamEvent = serde_json::from_str(SAM_EVENT).unwrap();
        let changes = event.changes();
        assert_eq!(changes.len(), 3);
        let (insert, modify, remove) = (&changes[0], &changes[1], &changes[2]);
        assert_eq!(insert.record_id, "c4ca4238a0b923820dcc509a6f75849b");
        assert!(insert.old.is_none());
        assert_eq!(
            insert.new.as_ref().unwrap()["Message"],
            AttributeValue::S("New item!".into())
        );
        assert_eq!(
            insert.approximate_at.to_string(),
            "2015-04-09T00:00:00.000Z"
        );
        assert!(modify.old.is_some() && modify.new.is_some());
        assert!(remove.new.is_none() && remove.old.is_some());
        assert!(
            changes.iter().all(|c| event_of(c).is_none()),
            "not our items"
        );

        // The same record shape around one of our invoice headers is an export.
        let mut ours: serde_json::Value = serde_json::from_str(SAM_EVENT).unwrap();
        let header = |status: &str| {
            serde_json::json!({
                "PK": {"S": format!("COMPANY#{COMPANY}")},
                "SK": {"S": format!("INVOICE#{INVOICE}")},
                "status": {"S": status},
                "linesVersion": {"S": "1"},
                "lineCount": {"N": "3"},
                "updatedAt": {"S": "2026-11-22T10:00:00.123Z"},
            })
        };
        ours["Records"][1]["dynamodb"]["OldImage"] = header("READY_FOR_EXPORT");
        ours["Records"][1]["dynamodb"]["NewImage"] = header("EXPORTED");
        let event: StreamEvent = serde_json::from_value(ours).unwrap();
        let events: Vec<Event> = event.changes().iter().filter_map(event_of).collect();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, EventType::InvoiceExported);
        assert_eq!(events[0].id, event_id("c81e728d9d4c2f636f067f89cc14862c"));
    }

    #[test]
    fn an_event_carries_ids_and_status_only_and_keeps_its_id_when_read_again() {
        let event = event_of(&change(
            invoice("READY_FOR_EXPORT", "1"),
            invoice("EXPORTED", "1"),
        ))
        .unwrap();
        let body: serde_json::Value = serde_json::from_str(&event.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "id": event_id("4b25bd0da9a181a155114127e4837252"),
                "type": "invoice.exported",
                "createdAt": "2026-11-22T10:00:00.123Z",
                "companyId": COMPANY,
                "data": {"invoiceId": INVOICE, "status": "EXPORTED"}
            })
        );
        let again = event_of(&change(
            invoice("READY_FOR_EXPORT", "1"),
            invoice("EXPORTED", "1"),
        ))
        .unwrap();
        assert_eq!(again.id, event.id);
        assert!(event.id.starts_with("evt_") && event.id.len() == 36);
        assert_ne!(event_id("another record"), event.id);
    }
}
