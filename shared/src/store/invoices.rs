//! Invoice items: one header item plus one item per line, under the company's partition.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | header | `COMPANY#<companyId>` | `INVOICE#<invoiceId>` |
//! | line | `COMPANY#<companyId>` | `INVOICE#<invoiceId>#LINE#<00001>` |
//!
//! While an invoice is READY_FOR_EXPORT its header also carries `EQ_PK`/`EQ_SK`, which puts it
//! in the sparse `ExportQueue` index; complete and reject remove them in the same conditional
//! UpdateItem that changes the status.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, PutRequest, ReturnValue, ReturnValuesOnConditionCheckFailure,
    WriteRequest,
};
use aws_sdk_dynamodb::Client;
use serde::Serialize;

use super::schema::{company_pk, EQ_PK, EQ_SK, EXPORT_QUEUE_INDEX, PK, SK};
use super::{batch_write, dynamo_error};
use crate::domain::{
    CompanyId, Document, ExportRecord, ExportState, Invoice, InvoiceHeader, InvoiceId,
    InvoiceStatus, LineItem, RejectionRecord,
};
use crate::error::ApiError;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn header_sk(invoice: &InvoiceId) -> String {
    format!("INVOICE#{invoice}")
}

fn line_sk(invoice: &InvoiceId, line_number: u32) -> String {
    format!("INVOICE#{invoice}#LINE#{line_number:05}")
}

/// The export queue's sort key: receivedAt then invoiceId, so the text order is the poll order.
pub fn queue_position(header: &InvoiceHeader) -> String {
    format!("{}#{}", header.received_at, header.invoice_id)
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

/// A complete or reject request.
#[derive(Debug, Clone)]
pub enum Transition {
    Complete(ExportRecord),
    Reject(RejectionRecord),
}

impl Transition {
    /// Whether `current` is what this same call would have produced: then a repeat is a 200.
    fn already_applied(&self, current: &InvoiceHeader) -> bool {
        match (self, current.status) {
            (Self::Complete(new), InvoiceStatus::Exported) => current
                .export
                .as_ref()
                .is_some_and(|old| old.external_id == new.external_id),
            (Self::Reject(new), InvoiceStatus::Rejected) => current
                .rejection
                .as_ref()
                .is_some_and(|old| old.reason == new.reason && old.code == new.code),
            _ => false,
        }
    }
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
        let out = query.send().await.map_err(|e| dynamo_error("Query", e))?;
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

    /// The invoice with its lines: one Query on the `INVOICE#<id>` prefix (the header sorts first).
    pub async fn get(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
    ) -> Result<Option<Invoice>, ApiError> {
        // One Query; only an invoice over 1 MB (thousands of long lines) needs a second page.
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(company_pk(&company)))
            .expression_attribute_values(":prefix", s(header_sk(&invoice)))
            .consistent_read(true);
        let items = super::query_all(query).await?;
        let mut items = items.into_iter();
        let Some(first) = items.next() else {
            return Ok(None);
        };
        let header: InvoiceHeader = decode(first)?;
        let lines = items
            .map(decode::<LineItem>)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Invoice::from_parts(header, lines)))
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
            .map_err(|e| dynamo_error("GetItem", e))?;
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
            .map_err(|e| dynamo_error("GetItem", e))?;
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
    ) -> Result<ExportState, ApiError> {
        let now = crate::domain::Timestamp::now();
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
            .condition_expression("attribute_exists(PK) AND #status = :ready")
            .update_expression(format!("SET #status = :status, #record = :record, updatedAt = :now REMOVE {EQ_PK}, {EQ_SK}"))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#record", field)
            .expression_attribute_values(":ready", s(InvoiceStatus::ReadyForExport.as_str()))
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":record", record)
            .expression_attribute_values(":now", s(now.to_string()))
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
                } else {
                    Err(conflict(&current, transition))
                }
            }
        }
    }

    /// Puts an invoice (back) into the export queue: lines first, then the header that makes it
    /// visible, so a poller never sees an invoice whose lines are still being written.
    /// An EXPORTED invoice is never replaced: the ERP already has it.
    pub async fn publish(
        &self,
        header: &InvoiceHeader,
        lines: &[LineItem],
    ) -> Result<PublishOutcome, ApiError> {
        let existing = self.header(header.company_id, header.invoice_id).await?;
        if let Some(current) = &existing {
            if current.status == InvoiceStatus::Exported {
                return Err(ApiError::InvalidStateTransition {
                    message: format!(
                        "invoice {} was already exported and cannot be published again",
                        header.invoice_id
                    ),
                    current_status: current.status.as_str().to_string(),
                });
            }
        }
        let pk = company_pk(&header.company_id);
        let mut writes = Vec::with_capacity(lines.len());
        for line in lines {
            let item = serde_dynamo::to_item(LineRecord {
                pk: pk.clone(),
                sk: line_sk(&header.invoice_id, line.line_number),
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
        // A republished invoice with fewer lines must not keep the old tail.
        let old_count = existing.as_ref().map_or(0, |h| h.line_count);
        for n in (lines.len() as u32 + 1)..=old_count {
            let key = HashMap::from([
                (PK.to_string(), s(&pk)),
                (SK.to_string(), s(line_sk(&header.invoice_id, n))),
            ]);
            let delete = DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map_err(ApiError::internal)?;
            writes.push(WriteRequest::builder().delete_request(delete).build());
        }
        batch_write(&self.client, &self.table, writes).await?;

        let ready = header.status == InvoiceStatus::ReadyForExport;
        let position = queue_position(header);
        let record = HeaderRecord {
            pk,
            sk: header_sk(&header.invoice_id),
            eq_pk: ready.then(|| company_pk(&header.company_id)),
            eq_sk: ready.then_some(position),
            entity: "INVOICE",
            header,
        };
        let item = serde_dynamo::to_item(record).map_err(ApiError::internal)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // Guards the race with a complete that lands between our read and this write.
            .condition_expression("attribute_not_exists(PK) OR #status <> :exported")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":exported", s(InvoiceStatus::Exported.as_str()))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(err) if err.is_conditional_check_failed_exception() => {
                    ApiError::InvalidStateTransition {
                        message: format!(
                            "invoice {} was exported while it was being published",
                            header.invoice_id
                        ),
                        current_status: InvoiceStatus::Exported.as_str().to_string(),
                    }
                }
                _ => dynamo_error("PutItem", e),
            })?;
        Ok(if existing.is_some() {
            PublishOutcome::Replaced
        } else {
            PublishOutcome::Created
        })
    }
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

fn conflict(current: &InvoiceHeader, attempted: &Transition) -> ApiError {
    let verb = match attempted {
        Transition::Complete(_) => "completed",
        Transition::Reject(_) => "rejected",
    };
    let message = match current.status {
        InvoiceStatus::Exported => format!(
            "invoice {} was already exported{}; it cannot be {verb} now",
            current.invoice_id,
            current
                .export
                .as_ref()
                .and_then(|e| e.external_id.as_deref())
                .map(|id| format!(" with externalId {id:?}"))
                .unwrap_or_default()
        ),
        InvoiceStatus::Rejected => {
            format!(
                "invoice {} was already rejected; it cannot be {verb} now",
                current.invoice_id
            )
        }
        InvoiceStatus::ReadyForExport => {
            format!("invoice {} cannot be {verb} now", current.invoice_id)
        }
    };
    ApiError::InvalidStateTransition {
        message,
        current_status: current.status.as_str().to_string(),
    }
}
