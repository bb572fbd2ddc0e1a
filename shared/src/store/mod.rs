//! Adapters: everything that talks to DynamoDB, S3 or SQS, and nothing else does.
//!
//! DynamoDB: one table (see [`schema`]); each of [`clients`], [`grants`], [`invoices`],
//! [`import_jobs`], [`master_data`] and [`webhooks`] owns one kind of item
//! ([`master_data`] one partition per kind of record). S3: one private bucket;
//! [`documents`] keeps invoices' soft copies, [`import_files`] the files of import jobs.
//! [`attributes`] reads and writes DynamoDB attribute values for all of them. SQS: one fair
//! queue, [`attempt_queue`], of webhook attempts.

pub mod attempt_queue;
pub mod attributes;
pub mod clients;
pub mod documents;
pub mod events;
pub mod grants;
pub mod history;
pub mod import_files;
pub mod import_jobs;
pub mod invoices;
pub mod master_data;
pub mod schema;
pub mod webhooks;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::foundation::error::ApiError;

/// Maps an SDK failure to the API's model: throttling that survived the SDK's retries, and a
/// DynamoDB that did not answer in time (see [`crate::foundation::sdk`]), are a 503 with Retry-After;
/// everything else is a logged 500. AWS error text never reaches the client.
/// The error an SDK call's failure becomes, said once per call instead of a `map_err` each:
/// `.send().await.in_dynamodb("PutItem")?`.
pub(crate) trait DynamoDbResult<T> {
    /// A failed DynamoDB `operation`, as [`dynamo_error`] maps it.
    fn in_dynamodb(self, operation: &str) -> Result<T, ApiError>;
}

impl<T, E, R> DynamoDbResult<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn in_dynamodb(self, operation: &str) -> Result<T, ApiError> {
        self.map_err(|e| dynamo_error(operation, e))
    }
}

/// `.send().await.in_s3("PutObject")?`, as [`DynamoDbResult`] for S3.
pub(crate) trait S3Result<T> {
    /// A failed S3 `operation`, as [`s3_error`] maps it.
    fn in_s3(self, operation: &str) -> Result<T, ApiError>;
}

impl<T, E, R> S3Result<T> for Result<T, aws_sdk_s3::error::SdkError<E, R>>
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn in_s3(self, operation: &str) -> Result<T, ApiError> {
        self.map_err(|e| s3_error(operation, e))
    }
}

pub(crate) fn dynamo_error<E, R>(operation: &str, err: SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().unwrap_or_default().to_string();
    let throttled = matches!(
        code.as_str(),
        "ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded"
    );
    let cause = format!(
        "DynamoDB {operation} failed: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(&err)
    );
    if throttled || crate::foundation::sdk::unreachable(&err) {
        ApiError::Unavailable {
            retry_after_secs: 1,
            cause,
        }
    } else {
        ApiError::Internal(cause)
    }
}

/// Whether a conditional write of one item landed: `Ok(false)` where DynamoDB refused it on
/// its condition (ConditionalCheckFailed), the outcome the caller guards a race with; any other
/// failure maps as [`dynamo_error`] does. A transaction goes through [`transact`] instead: its
/// cancellation may be a conflict to send again rather than a refusal.
pub(crate) fn landed<O, E, R>(
    operation: &str,
    sent: Result<O, SdkError<E, R>>,
) -> Result<bool, ApiError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match sent {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(dynamo_error(operation, e)),
    }
}

/// Whether DynamoDB refused a single-item write on its condition.
pub(crate) fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// What became of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transacted {
    Landed,
    /// One of its conditions failed: the outcome the caller guards a race with.
    Refused,
}

/// How often a transaction is sent when DynamoDB keeps cancelling it for a conflict.
const TRANSACTION_ATTEMPTS: u32 = 4;

/// Why DynamoDB cancelled a transaction, from its cancellation reasons (one per item, `None`
/// for the items that were fine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// A condition failed.
    Condition,
    /// Another transaction was writing one of its items at that moment: worth sending again.
    Conflict,
    /// Throughput: a 503 to retry later.
    Throttled,
    /// Anything else (a validation error, an item over 400 KB): a bug.
    Other,
}

pub(crate) fn cancelled_because(
    reasons: &[aws_sdk_dynamodb::types::CancellationReason],
) -> Cancelled {
    let codes: Vec<&str> = reasons
        .iter()
        .filter_map(|r| r.code())
        .filter(|code| *code != "None")
        .collect();
    // An engine that gives no reasons (as some local ones do) only cancels on a condition.
    if codes.is_empty() || codes.contains(&"ConditionalCheckFailed") {
        Cancelled::Condition
    } else if codes.contains(&"TransactionConflict") {
        Cancelled::Conflict
    } else if codes
        .iter()
        .any(|c| matches!(*c, "ThrottlingError" | "ProvisionedThroughputExceeded"))
    {
        Cancelled::Throttled
    } else {
        Cancelled::Other
    }
}

/// Sends a transaction. A condition failing is an answer (`Refused`), not an error. DynamoDB
/// also cancels a transaction when another one is writing one of its items at the same moment
/// (two creates of one client both raise its counter): that one is sent again after a short
/// jittered pause ([`backoff`]), up to [`TRANSACTION_ATTEMPTS`] times, then answered 503 to retry, so a
/// client's concurrent calls never read as a limit reached, and never as a 500.
pub(crate) async fn transact(
    request: TransactWriteItemsFluentBuilder,
) -> Result<Transacted, ApiError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Err(e) = request.clone().send().await else {
            return Ok(Transacted::Landed);
        };
        let why = match e.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                cancelled_because(c.cancellation_reasons())
            }
            _ => return Err(dynamo_error("TransactWriteItems", e)),
        };
        match why {
            Cancelled::Condition => return Ok(Transacted::Refused),
            Cancelled::Conflict if attempt < TRANSACTION_ATTEMPTS => {
                tokio::time::sleep(backoff(attempt)).await;
            }
            Cancelled::Conflict | Cancelled::Throttled => {
                return Err(ApiError::Unavailable {
                    retry_after_secs: 1,
                    cause: format!(
                        "TransactWriteItems cancelled ({why:?}) after {attempt} attempts: {}",
                        DisplayErrorContext(&e)
                    ),
                })
            }
            Cancelled::Other => return Err(dynamo_error("TransactWriteItems", e)),
        }
    }
}

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};

/// One stored item, attribute by attribute.
pub type Item = HashMap<String, AttributeValue>;

/// Every item a Query matches, page after page (the SDK's paginator follows LastEvaluatedKey).
pub(crate) async fn query_all(query: QueryFluentBuilder) -> Result<Vec<Item>, ApiError> {
    query
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .in_dynamodb("Query")
}

/// What an Idempotency-Key's record says, if it is still live (TTL deletes an expired record
/// only some time after): the id it made (its attribute `made`, parsed) and the fingerprint of
/// the request that made it.
pub(crate) fn live_idempotency_record<T: std::str::FromStr>(
    item: &Item,
    made: &str,
) -> Option<(T, crate::domain::idempotency::Fingerprint)> {
    let live = item
        .get(schema::TTL_ATTRIBUTE)
        .and_then(|v| v.as_n().ok()?.parse::<i64>().ok())
        .is_some_and(|until| until >= chrono::Utc::now().timestamp());
    let id = item.get(made)?.as_s().ok()?.parse().ok()?;
    let fingerprint = item.get("fingerprint")?.as_s().ok()?;
    live.then(|| {
        (
            id,
            crate::domain::idempotency::Fingerprint::stored(fingerprint.clone()),
        )
    })
}

/// The first `limit` items a Query matches, page after page, reading no page beyond them.
pub(crate) async fn query_up_to(
    query: QueryFluentBuilder,
    limit: usize,
) -> Result<Vec<Item>, ApiError> {
    let mut pages = query.into_paginator().items().send();
    let mut items = Vec::new();
    while items.len() < limit {
        match pages.next().await {
            Some(item) => items.push(item.in_dynamodb("Query")?),
            None => break,
        }
    }
    Ok(items)
}

/// BatchWriteItem delete requests for `keys`.
pub(crate) fn delete_requests(keys: Vec<Item>) -> Result<Vec<WriteRequest>, ApiError> {
    keys.into_iter()
        .map(|key| {
            aws_sdk_dynamodb::types::DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map(|delete| WriteRequest::builder().delete_request(delete).build())
                .map_err(ApiError::internal)
        })
        .collect()
}

/// BatchWriteItem's own limit.
pub const BATCH_WRITE_MAX: usize = 25;
const BATCH_WRITE_MAX_ATTEMPTS: u32 = 10;

/// Writes `requests` in chunks of 25, retrying UnprocessedItems with exponential backoff and
/// jitter. Fails with 503 only if DynamoDB keeps refusing after every attempt.
pub async fn batch_write(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    requests: Vec<WriteRequest>,
) -> Result<(), ApiError> {
    for chunk in requests.chunks(BATCH_WRITE_MAX) {
        let mut pending = chunk.to_vec();
        let mut attempt = 0;
        while !pending.is_empty() {
            let out = client
                .batch_write_item()
                .set_request_items(Some(HashMap::from([(table.to_string(), pending)])))
                .send()
                .await
                .in_dynamodb("BatchWriteItem")?;
            pending = out
                .unprocessed_items
                .and_then(|mut m| m.remove(table))
                .unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            attempt += 1;
            if attempt >= BATCH_WRITE_MAX_ATTEMPTS {
                return Err(ApiError::Unavailable {
                    retry_after_secs: 2,
                    cause: format!(
                        "BatchWriteItem left {} items unprocessed after {attempt} attempts",
                        pending.len()
                    ),
                });
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
    Ok(())
}

/// Exponential backoff with full jitter: up to 25 ms · 2^attempt, capped at 2 s.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = (25u64 << attempt.min(7)).min(2_000);
    let jitter = u64::from(uuid::Uuid::new_v4().as_fields().0) % ceiling.max(1);
    Duration::from_millis(jitter.max(5))
}

/// An S3 failure as the API reports it: a logged 500 whose cause never reaches the client, or
/// a 503 with Retry-After when S3 did not answer in time (see [`crate::foundation::sdk`]).
pub(crate) fn s3_error<E, R>(operation: &str, err: aws_sdk_s3::error::SdkError<E, R>) -> ApiError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let cause = format!(
        "S3 {operation} failed: {}",
        aws_sdk_s3::error::DisplayErrorContext(&err)
    );
    if crate::foundation::sdk::unreachable(&err) {
        ApiError::Unavailable {
            retry_after_secs: 1,
            cause,
        }
    } else {
        ApiError::Internal(cause)
    }
}

/// Whether S3 refused a read of a key as 403. Without `s3:ListBucket` on the prefix, that is
/// how S3 answers a key that does not exist (with it, 404); template.yaml grants the listing
/// where absence matters, and the code still reads a 403 on its own keys as "not there".
pub(crate) fn s3_denied<E>(err: &aws_sdk_s3::error::SdkError<E>) -> bool {
    err.raw_response()
        .is_some_and(|r| r.status().as_u16() == 403)
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::CancellationReason;

    use super::{cancelled_because, Cancelled};

    /// Reasons as DynamoDB lists them: one per item of the transaction, in order.
    fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
        codes
            .iter()
            .map(|code| CancellationReason::builder().code(*code).build())
            .collect()
    }

    #[test]
    fn a_failed_condition_is_an_answer_a_conflict_is_sent_again_and_anything_else_is_an_error() {
        assert_eq!(
            cancelled_because(&reasons(&["None", "ConditionalCheckFailed"])),
            Cancelled::Condition
        );
        assert_eq!(
            cancelled_because(&reasons(&["TransactionConflict", "None"])),
            Cancelled::Conflict
        );
        // A condition that failed decides, whatever else happened to the other items.
        assert_eq!(
            cancelled_because(&reasons(&["TransactionConflict", "ConditionalCheckFailed"])),
            Cancelled::Condition
        );
        assert_eq!(
            cancelled_because(&reasons(&["ProvisionedThroughputExceeded", "None"])),
            Cancelled::Throttled
        );
        assert_eq!(
            cancelled_because(&reasons(&["None", "ValidationError"])),
            Cancelled::Other
        );
        // Engines that give no reasons cancel only on a condition.
        assert_eq!(cancelled_because(&[]), Cancelled::Condition);
        assert_eq!(
            cancelled_because(&reasons(&["None", "None"])),
            Cancelled::Condition
        );
    }
}
