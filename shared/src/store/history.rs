//! Each invoice's history, written from the table's change stream (see `features::history`).
//!
//! | item | PK | SK |
//! |---|---|---|
//! | change | `COMPANY#<companyId>#HISTORY` | `INVOICE#<invoiceId>#<at>#<record>` (the entry) |
//!
//! `<at>` is the write's own time (the header's `updatedAt`, to the millisecond), so an
//! invoice's entries read oldest first; `<record>` is drawn from the stream record's id, so the
//! same record read again (a retried batch) writes the same item, and two writes in one
//! millisecond are two entries. Entries are kept as long as the table: they are the audit of
//! who exported what. They have a partition of their own beside the company's, which the
//! stream's consumer alone may write.

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use sha2::{Digest, Sha256};

use super::attributes::s;
use super::schema::{company_pk, PK, SK};
use super::{batch_write, DynamoDbResult, Item};
use crate::domain::history::HistoryEntry;
use crate::domain::{CompanyId, InvoiceId};
use crate::foundation::error::ApiError;

/// The history partition of a company: `COMPANY#<id>#HISTORY`.
pub const HISTORY_PARTITION_SUFFIX: &str = "#HISTORY";

pub fn history_pk(company: &CompanyId) -> String {
    format!("{}{HISTORY_PARTITION_SUFFIX}", company_pk(company))
}

fn invoice_prefix(invoice: &InvoiceId) -> String {
    format!("INVOICE#{invoice}#")
}

/// A page of an invoice's history, and the position after its last entry if more follow.
#[derive(Debug)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    pub next_position: Option<String>,
}

#[derive(Clone)]
pub struct InvoiceHistory {
    client: Client,
    table: String,
}

impl InvoiceHistory {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Writes each entry, told by the stream record `record` of `company`'s invoice; written
    /// again, the same record's entry is the same item.
    pub async fn record(
        &self,
        entries: &[(CompanyId, String, HistoryEntry)],
    ) -> Result<(), ApiError> {
        let mut writes = Vec::with_capacity(entries.len());
        for (company, record, entry) in entries {
            let digest = Sha256::digest(record.as_bytes());
            let record: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
            let mut item: Item = serde_dynamo::to_item(entry).map_err(ApiError::internal)?;
            item.insert(PK.into(), s(history_pk(company)));
            item.insert(
                SK.into(),
                s(format!(
                    "{}{}#{record}",
                    invoice_prefix(&entry.invoice_id),
                    entry.at
                )),
            );
            item.insert("entity".into(), AttributeValue::S("INVOICE_HISTORY".into()));
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(ApiError::internal)?;
            writes.push(WriteRequest::builder().put_request(put).build());
        }
        batch_write(&self.client, &self.table, writes).await
    }

    /// Up to `limit` entries of `invoice`'s history after `after` (a position from the page
    /// before), oldest first. One Query, one more item than asked, so a page knows exactly
    /// whether more follow.
    pub async fn page(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<HistoryPage, ApiError> {
        let prefix = invoice_prefix(&invoice);
        let from = after.map_or_else(|| prefix.clone(), |a| format!("{a}!"));
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(history_pk(&company)))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(format!("{prefix}~")))
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .in_dynamodb("Query")?;
        let mut items = out.items.unwrap_or_default();
        let more = items.len() > limit;
        items.truncate(limit);
        let next_position = more
            .then(|| items.last().and_then(|i| i.get(SK)?.as_s().ok().cloned()))
            .flatten();
        let entries = items
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).map_err(ApiError::internal))
            .collect::<Result<_, _>>()?;
        Ok(HistoryPage {
            entries,
            next_position,
        })
    }
}

/// Whether `position` (out of a continuation key) is one of `invoice`'s history entries.
pub fn is_position_of(invoice: &InvoiceId, position: &str) -> bool {
    position
        .strip_prefix(&invoice_prefix(invoice))
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('~'))
}
