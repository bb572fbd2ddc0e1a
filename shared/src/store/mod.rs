//! Adapters: everything that talks to DynamoDB or S3, and nothing else does.
//!
//! DynamoDB: one table (see [`schema`]); each of [`clients`], [`grants`], [`invoices`],
//! [`import_jobs`], [`suppliers`] and [`webhooks`] owns one kind of item. S3: one private bucket;
//! [`documents`] keeps invoices' soft copies, [`import_files`] the files of import jobs.
//! [`attributes`] reads and writes DynamoDB attribute values for all of them.

pub mod attributes;
pub mod clients;
pub mod documents;
pub mod grants;
pub mod import_files;
pub mod import_jobs;
pub mod invoices;
pub mod schema;
pub mod suppliers;
pub mod webhooks;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::ApiError;

/// Maps an SDK failure to the API's model: throttling that survived the SDK's retries, and a
/// DynamoDB that did not answer in time (see [`crate::sdk`]), are a 503 with Retry-After;
/// everything else is a logged 500. AWS error text never reaches the client.
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
    if throttled || crate::sdk::unreachable(&err) {
        ApiError::Unavailable {
            retry_after_secs: 1,
            cause,
        }
    } else {
        ApiError::Internal(cause)
    }
}

/// Whether a conditional write landed: `Ok(false)` where DynamoDB refused it on its condition
/// (ConditionalCheckFailed, or a transaction cancelled by one), the outcome the caller guards a
/// race with; any other failure maps as [`dynamo_error`] does.
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
        Err(e)
            if matches!(
                e.code(),
                Some("ConditionalCheckFailedException" | "TransactionCanceledException")
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(dynamo_error(operation, e)),
    }
}

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
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
        .map_err(|e| dynamo_error("Query", e))
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
                .map_err(|e| dynamo_error("BatchWriteItem", e))?;
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
/// a 503 with Retry-After when S3 did not answer in time (see [`crate::sdk`]).
pub(crate) fn s3_error<E, R>(operation: &str, err: aws_sdk_s3::error::SdkError<E, R>) -> ApiError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let cause = format!(
        "S3 {operation} failed: {}",
        aws_sdk_s3::error::DisplayErrorContext(&err)
    );
    if crate::sdk::unreachable(&err) {
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
