//! Master-data items, one kind of record per partition of the company's:
//!
//! | kind | PK | SK |
//! |---|---|---|
//! | supplier card | `COMPANY#<companyId>#SUPPLIERS` | `SUPPLIER#<externalId>` |
//! | GL account | `COMPANY#<companyId>#GL_ACCOUNTS` | `GL_ACCOUNT#<code>` |
//! | tax code | `COMPANY#<companyId>#TAX_CODES` | `TAX_CODE#<code>` |
//! | tracking option | `COMPANY#<companyId>#TRACKING` | `OPTION#<category, `%` and `#` escaped>#<optionCode>` |
//! | purchase order | `COMPANY#<companyId>#PURCHASE_ORDERS` | `PO#<poNumber>` |
//!
//! (the partition and prefix are each kind's [`MasterKind::PARTITION`] and
//! [`MasterKind::ITEM_PREFIX`]). An item holds the record's fields as the API names them, and
//! beside them the bookkeeping of [`RecordMeta`]: the import job that last wrote it and whether
//! that write created, updated or deactivated it, which makes a rerun of the same job
//! idempotent (a record this job already wrote is counted as it was the first time).
//!
//! Races: an import writes with BatchWriteItem, unconditionally (one worker holds a job; two
//! jobs of one type writing the same record at once each leave a whole record, the later one
//! standing). A full sync's deactivation is the one conditional write: it marks a record
//! inactive only if its `updatedAt` is still the one the sync read, so a record another job
//! wrote meanwhile is never deactivated by a stale read.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;

use super::attributes::s;
use super::schema::{company_pk, PK, SK};
use super::{backoff, batch_write, DynamoDbResult};
use crate::domain::master_data::{storage_key, MasterKind, RecordMeta, Stored, WriteOutcome};
use crate::domain::{CompanyId, ImportType, JobId, Timestamp};
use crate::foundation::error::ApiError;

/// BatchGetItem's own limit.
pub const BATCH_GET_MAX: usize = 100;
const BATCH_GET_MAX_ATTEMPTS: u32 = 10;

/// The partition of a company's records of `K`.
pub fn partition<K: MasterKind>(company: &CompanyId) -> String {
    partition_named(company, K::PARTITION)
}

fn partition_named(company: &CompanyId, name: &str) -> String {
    format!("{}#{name}", company_pk(company))
}

/// The sort key of the record whose key is `storage_key` (see [`storage_key`]).
pub fn sort_key<K: MasterKind>(key: &str) -> String {
    format!("{}{key}", K::ITEM_PREFIX)
}

/// The storage key of a record.
pub fn key_of<K: MasterKind>(record: &K::Record) -> String {
    storage_key(&K::key_parts(record))
}

fn item_key<K: MasterKind>(company: &CompanyId, key: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PK.to_string(), s(partition::<K>(company))),
        (SK.to_string(), s(sort_key::<K>(key))),
    ])
}

fn decode<K: MasterKind>(
    item: HashMap<String, AttributeValue>,
) -> Result<Stored<K::Record>, ApiError> {
    let record = serde_dynamo::from_item(item.clone()).map_err(ApiError::internal)?;
    let meta = serde_dynamo::from_item(item).map_err(ApiError::internal)?;
    Ok(Stored { record, meta })
}

/// A stored record as the item its company's partition holds (public for the import bench,
/// which writes the very same items with raw BatchWriteItem calls as its baseline).
pub fn encode<K: MasterKind>(
    stored: &Stored<K::Record>,
    company: &CompanyId,
) -> Result<HashMap<String, AttributeValue>, ApiError> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(&stored.record).map_err(ApiError::internal)?;
    let meta: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(&stored.meta).map_err(ApiError::internal)?;
    item.extend(meta);
    item.extend(item_key::<K>(company, &key_of::<K>(&stored.record)));
    item.insert(
        "entity".into(),
        s(K::ITEM_PREFIX.trim_end_matches('#').to_string()),
    );
    Ok(item)
}

/// One page of a company's records of one kind, in key order.
#[derive(Debug)]
pub struct Page<R> {
    pub records: Vec<Stored<R>>,
    /// The last item's sort key, present only when more follow.
    pub next_position: Option<String>,
}

#[derive(Clone)]
pub struct MasterDataStore {
    client: Client,
    table: String,
}

impl MasterDataStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// One record by its key parts (one GetItem).
    pub async fn get<K: MasterKind>(
        &self,
        company: CompanyId,
        key_parts: &[&str],
    ) -> Result<Option<Stored<K::Record>>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key::<K>(&company, &storage_key(key_parts))))
            .send()
            .await
            .in_dynamodb("GetItem")?;
        out.item.map(decode::<K>).transpose()
    }

    /// The stored records among `keys` (storage keys, at most [`BATCH_GET_MAX`]), by key, read
    /// consistently so a rerun sees what an earlier run wrote. UnprocessedKeys are retried.
    pub async fn get_many<K: MasterKind>(
        &self,
        company: CompanyId,
        keys: &[String],
    ) -> Result<HashMap<String, Stored<K::Record>>, ApiError> {
        let items = self
            .batch_get(
                keys.iter().map(|k| item_key::<K>(&company, k)).collect(),
                true,
                None,
            )
            .await?;
        items
            .into_iter()
            .map(|item| {
                let stored = decode::<K>(item)?;
                Ok((key_of::<K>(&stored.record), stored))
            })
            .collect()
    }

    /// Which of `keys` (storage keys of `import_type`'s records, at most [`BATCH_GET_MAX`])
    /// exist, and whether each is active: the import's cross-checks. Reads only the keys and
    /// `active`, eventually consistent (master data arrives in any order; a warning is advice).
    pub async fn which_exist(
        &self,
        company: CompanyId,
        import_type: ImportType,
        keys: &[String],
    ) -> Result<HashMap<String, bool>, ApiError> {
        let info = crate::domain::master_data::kind_info(import_type);
        let (pk, prefix) = (partition_named(&company, info.partition), info.item_prefix);
        let requests = keys
            .iter()
            .map(|key| {
                HashMap::from([
                    (PK.to_string(), s(pk.clone())),
                    (SK.to_string(), s(format!("{prefix}{key}"))),
                ])
            })
            .collect();
        let items = self
            .batch_get(requests, false, Some("#sk, #active"))
            .await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let key = item.get(SK)?.as_s().ok()?.strip_prefix(prefix)?.to_string();
                let active = item
                    .get("active")
                    .and_then(|a| a.as_bool().ok())
                    .copied()
                    .unwrap_or(true);
                Some((key, active))
            })
            .collect())
    }

    async fn batch_get(
        &self,
        keys: Vec<HashMap<String, AttributeValue>>,
        consistent: bool,
        projection: Option<&str>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, ApiError> {
        let mut found = Vec::new();
        if keys.is_empty() {
            return Ok(found);
        }
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(consistent);
        if let Some(projection) = projection {
            request = request
                .projection_expression(projection)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_names("#active", "active");
        }
        let mut pending = Some(request.build().map_err(ApiError::internal)?);
        let mut attempt = 0;
        while let Some(request) = pending.take() {
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .in_dynamodb("BatchGetItem")?;
            found.extend(
                out.responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default(),
            );
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

    /// Writes records with BatchWriteItem (25 per call, UnprocessedItems retried with backoff).
    pub async fn put_many<K: MasterKind>(
        &self,
        company: CompanyId,
        records: &[Stored<K::Record>],
    ) -> Result<(), ApiError> {
        let requests = records
            .iter()
            .map(|stored| {
                let put = PutRequest::builder()
                    .set_item(Some(encode::<K>(stored, &company)?))
                    .build()
                    .map_err(ApiError::internal)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        batch_write(&self.client, &self.table, requests).await
    }

    /// One Query for a page of a company's records of `K`, after `after` (a sort key) if given;
    /// with `within`, only those whose storage key starts with it (a tracking category's
    /// options).
    pub async fn list<K: MasterKind>(
        &self,
        company: CompanyId,
        within: Option<&str>,
        after: Option<String>,
        limit: usize,
    ) -> Result<Page<K::Record>, ApiError> {
        let pk = partition::<K>(&company);
        let start_key = after
            .map(|sk| HashMap::from([(PK.to_string(), s(pk.clone())), (SK.to_string(), s(sk))]));
        // One extra item tells whether another page follows.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(sort_key::<K>(within.unwrap_or_default())))
            .set_exclusive_start_key(start_key)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .in_dynamodb("Query")?;
        // DynamoDB also ends a Query at 1 MB of items (three purchase orders at their largest),
        // saying so with a LastEvaluatedKey: then more may follow too. That bound also keeps a
        // page's answer far inside Lambda's 6 MB.
        let cut_at_1_mb = out.last_evaluated_key.is_some();
        let mut records = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(decode::<K>)
            .collect::<Result<Vec<_>, _>>()?;
        let more = records.len() > limit || cut_at_1_mb;
        records.truncate(limit);
        let next_position = more
            .then(|| {
                records
                    .last()
                    .map(|r| sort_key::<K>(&key_of::<K>(&r.record)))
            })
            .flatten();
        Ok(Page {
            records,
            next_position,
        })
    }

    /// Marks a record inactive for a full sync by job `job`, unless it changed since `seen`
    /// was read (its `updatedAt` differs): `false` then, and nothing is written.
    pub async fn deactivate<K: MasterKind>(
        &self,
        company: CompanyId,
        seen: &Stored<K::Record>,
        job: JobId,
        now: Timestamp,
    ) -> Result<bool, ApiError> {
        let updated_at =
            serde_dynamo::to_attribute_value(seen.meta.updated_at).map_err(ApiError::internal)?;
        let now = serde_dynamo::to_attribute_value(now).map_err(ApiError::internal)?;
        let outcome = serde_dynamo::to_attribute_value(WriteOutcome::Deactivated)
            .map_err(ApiError::internal)?;
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key::<K>(&company, &key_of::<K>(&seen.record))))
            .update_expression(
                "SET #active = :false, updatedAt = :now, lastImportJobId = :job, lastImportOutcome = :outcome",
            )
            .condition_expression("updatedAt = :seen")
            .expression_attribute_names("#active", "active")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now", now)
            .expression_attribute_values(":job", s(job.to_string()))
            .expression_attribute_values(":outcome", outcome)
            .expression_attribute_values(":seen", updated_at)
            .send()
            .await;
        super::landed("UpdateItem", sent)
    }
}

/// The meta a record written by `job` gets.
pub fn meta_for(
    job: JobId,
    created_at: Timestamp,
    updated_at: Timestamp,
    outcome: WriteOutcome,
) -> RecordMeta {
    RecordMeta {
        created_at,
        updated_at,
        last_import_job_id: job,
        last_import_outcome: outcome,
    }
}

/// Checks a position out of a continuation key before it goes into a query: a sort key of
/// `K`'s whose key parts each pass the rule for key fields.
pub fn is_position<K: MasterKind>(position: &str) -> bool {
    position.strip_prefix(K::ITEM_PREFIX).is_some_and(|key| {
        !key.is_empty()
            && key.chars().count() <= 64 * K::KEY_FIELDS.len() * 3
            && !key.chars().any(char::is_control)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::master_data::purchase_order::{
        PoLine, PoStatus, PurchaseOrder, PurchaseOrders, MAX_LINES,
    };
    use crate::domain::Decimal2;

    /// An item's size as DynamoDB counts it, erring high: each attribute's name and value in
    /// UTF-8 bytes, a number at its digits, 3 bytes of overhead per list or map and one per
    /// element.
    fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
        fn value_size(value: &AttributeValue) -> usize {
            match value {
                AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                AttributeValue::L(list) => {
                    3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>()
                }
                AttributeValue::M(map) => {
                    3 + map
                        .iter()
                        .map(|(k, v)| 1 + k.len() + value_size(v))
                        .sum::<usize>()
                }
                _ => 1,
            }
        }
        item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
    }

    #[test]
    fn a_purchase_order_at_every_limit_stays_far_inside_400_kb() {
        // Four-byte characters everywhere a field takes text, each at its longest.
        let text = |chars: usize| "\u{1F600}".repeat(chars);
        let decimal: Decimal2 = format!("-{}.{}", "9".repeat(15), "9".repeat(6))
            .parse()
            .unwrap();
        let line = |n: u32| PoLine {
            line_number: 90_000 + n,
            description: Some(text(200)),
            quantity: decimal,
            unit_price: decimal,
            amount: decimal,
            account_code: Some(text(50)),
            tax_code: Some(text(50)),
            received_quantity: decimal,
        };
        let order = PurchaseOrder {
            po_number: text(50),
            supplier_external_id: text(64),
            currency: "EUR".into(),
            issue_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            status: PoStatus::PartlyReceived,
            active: true,
            lines: (0..MAX_LINES as u32).map(line).collect(),
        };
        let now = Timestamp::now();
        let stored = Stored {
            record: order,
            meta: meta_for(JobId::new_random(), now, now, WriteOutcome::Updated),
        };
        let item = encode::<PurchaseOrders>(&stored, &CompanyId::new_random()).unwrap();
        let size = item_size(&item);
        eprintln!("a purchase order at every limit: {size} bytes");
        assert!(size < 330 * 1024, "{size} bytes");
        assert!(
            size > 250 * 1024,
            "the estimate counts what it should: {size}"
        );
    }
}
