//! Supplier card items: `PK = COMPANY#<companyId>#SUPPLIERS`, `SK = SUPPLIER#<externalId>`: a
//! partition of the company's cards alone (see [`super::schema::suppliers_pk`]).
//!
//! Besides the card, each item records the import job that last wrote it and whether that
//! write created or updated the card. That is what makes a rerun of the same job idempotent:
//! a card this job already wrote is counted as it was the first time, not as `unchanged`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;

use super::attributes::s;
use super::schema::{suppliers_pk, PK, SK};
use super::{backoff, batch_write, DynamoDbResult};
use crate::domain::supplier::StoredSupplier;
use crate::domain::CompanyId;
use crate::foundation::error::ApiError;

/// BatchGetItem's own limit.
pub const BATCH_GET_MAX: usize = 100;
const BATCH_GET_MAX_ATTEMPTS: u32 = 10;
const SUPPLIER_PREFIX: &str = "SUPPLIER#";

pub fn supplier_sk(external_id: &str) -> String {
    format!("{SUPPLIER_PREFIX}{external_id}")
}

fn key(company: &CompanyId, external_id: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PK.to_string(), s(suppliers_pk(company))),
        (SK.to_string(), s(supplier_sk(external_id))),
    ])
}

fn decode(item: HashMap<String, AttributeValue>) -> Result<StoredSupplier, ApiError> {
    let card = serde_dynamo::from_item(item.clone()).map_err(ApiError::internal)?;
    let meta = serde_dynamo::from_item(item).map_err(ApiError::internal)?;
    Ok(StoredSupplier { card, meta })
}

/// A stored card as the item its company's partition holds (public for the import bench, which
/// writes the very same items with raw BatchWriteItem calls as its baseline).
pub fn encode(
    supplier: &StoredSupplier,
    company: &CompanyId,
) -> Result<HashMap<String, AttributeValue>, ApiError> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(&supplier.card).map_err(ApiError::internal)?;
    let meta: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(&supplier.meta).map_err(ApiError::internal)?;
    item.extend(meta);
    item.extend(key(company, &supplier.card.external_id));
    item.insert("entity".into(), s("SUPPLIER"));
    Ok(item)
}

/// One page of a company's suppliers, in externalId order.
#[derive(Debug)]
pub struct SupplierPage {
    pub suppliers: Vec<StoredSupplier>,
    /// The last item's sort key, present only when more follow.
    pub next_position: Option<String>,
}

#[derive(Clone)]
pub struct SupplierStore {
    client: Client,
    table: String,
}

impl SupplierStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub async fn get(
        &self,
        company: CompanyId,
        external_id: &str,
    ) -> Result<Option<StoredSupplier>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&company, external_id)))
            .send()
            .await
            .in_dynamodb("GetItem")?;
        out.item.map(decode).transpose()
    }

    /// The stored cards among `external_ids` (at most [`BATCH_GET_MAX`]), by externalId, read
    /// consistently so a rerun sees what an earlier run wrote. UnprocessedKeys are retried.
    pub async fn get_many(
        &self,
        company: CompanyId,
        external_ids: &[&str],
    ) -> Result<HashMap<String, StoredSupplier>, ApiError> {
        let mut found = HashMap::new();
        if external_ids.is_empty() {
            return Ok(found);
        }
        let keys: Vec<_> = external_ids.iter().map(|id| key(&company, id)).collect();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(ApiError::internal)?,
        );
        let mut attempt = 0;
        while let Some(request) = pending.take() {
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .in_dynamodb("BatchGetItem")?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default()
            {
                let stored = decode(item)?;
                found.insert(stored.card.external_id.clone(), stored);
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut m| m.remove(&self.table))
                .filter(|k| !k.keys.is_empty());
            if pending.is_some() {
                attempt += 1;
                if attempt >= BATCH_GET_MAX_ATTEMPTS {
                    return Err(ApiError::Unavailable {
                        retry_after_secs: 2,
                        cause: "BatchGetItem kept returning UnprocessedKeys".into(),
                    });
                }
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
        Ok(found)
    }

    /// Writes cards with BatchWriteItem (25 per call, UnprocessedItems retried with backoff).
    pub async fn put_many(
        &self,
        company: CompanyId,
        suppliers: &[StoredSupplier],
    ) -> Result<(), ApiError> {
        let requests = suppliers
            .iter()
            .map(|supplier| {
                let put = PutRequest::builder()
                    .set_item(Some(encode(supplier, &company)?))
                    .build()
                    .map_err(ApiError::internal)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        batch_write(&self.client, &self.table, requests).await
    }

    /// One Query for a page of a company's cards, after `after` (a sort key) if given.
    pub async fn list(
        &self,
        company: CompanyId,
        after: Option<String>,
        limit: usize,
    ) -> Result<SupplierPage, ApiError> {
        let start_key = after.map(|sk| {
            HashMap::from([
                (PK.to_string(), s(suppliers_pk(&company))),
                (SK.to_string(), s(sk)),
            ])
        });
        // One extra item tells whether another page follows.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(suppliers_pk(&company)))
            .expression_attribute_values(":prefix", s(SUPPLIER_PREFIX))
            .set_exclusive_start_key(start_key)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .in_dynamodb("Query")?;
        let mut suppliers = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let next_position = if suppliers.len() > limit {
            suppliers.truncate(limit);
            suppliers.last().map(|s| supplier_sk(&s.card.external_id))
        } else {
            None
        };
        Ok(SupplierPage {
            suppliers,
            next_position,
        })
    }
}

/// Checks a position out of a continuation key before it goes into a query.
pub fn is_supplier_position(position: &str) -> bool {
    position
        .strip_prefix(SUPPLIER_PREFIX)
        .is_some_and(|id| id.parse::<crate::domain::supplier::SupplierKey>().is_ok())
}
