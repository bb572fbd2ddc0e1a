//! The webhook attempt queue: an SQS **fair queue**. Each message names one delivery to
//! attempt; its `MessageGroupId` is the delivery's subscription, which is how SQS tells
//! tenants apart. When one subscription has a backlog (a receiver that hangs, a burst of
//! events), SQS hands the consumers messages of the quiet subscriptions first, so their wait
//! stays short; nobody's messages are dropped or throttled.
//!
//! A message is only a pointer: the delivery (its body, its attempts) lives in the table, and
//! the consumer claims it there before it sends anything (the webhook store's `claim`), so a
//! message delivered twice, or one left over from an earlier attempt, never sends an attempt
//! twice.

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use crate::domain::{CompanyId, SubscriptionId, Timestamp};
use crate::foundation::error::ApiError;

/// SQS's largest batch.
const BATCH: usize = 10;
/// Batches sent at once.
const BATCHES_IN_FLIGHT: usize = 8;
/// SQS's longest message delay (15 minutes).
pub const MAX_DELAY_SECS: u64 = 900;

/// One delivery to attempt, as a message carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedAttempt {
    pub company_id: CompanyId,
    pub subscription_id: SubscriptionId,
    pub event_at: Timestamp,
    pub event_id: String,
    /// Attempts already made when it was queued: a message from before a later attempt is
    /// stale, and its claim fails.
    pub attempts_made: u32,
    /// Sent to a subscription whose receiver is failing, to find out whether it is back: the
    /// one attempt such a subscription gets at a time (see `webhooks::dispatch`).
    #[serde(default)]
    pub probe: bool,
    /// Seconds SQS holds it before any consumer sees it (a retry's wait, up to 15 minutes).
    #[serde(skip)]
    pub delay_secs: u64,
}

/// One message as the SQS event-source mapping hands it to the consumer (the fields used).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsRecord {
    pub message_id: String,
    pub body: String,
}

/// The event a batch of messages arrives in.
#[derive(Debug, Clone, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SqsRecord>,
}

/// What the consumer answers: the messages to hand over again (`ReportBatchItemFailures`);
/// every other message of the batch is deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: String,
}

#[derive(Clone)]
pub struct AttemptQueue {
    client: aws_sdk_sqs::Client,
    url: Option<String>,
}

impl AttemptQueue {
    /// `url`: the queue (unset for functions that never queue an attempt).
    pub fn new(client: aws_sdk_sqs::Client, url: Option<String>) -> Self {
        Self { client, url }
    }

    /// Queues `attempts`, 10 to a SendMessageBatch, several batches at once; how many were
    /// queued. One that could not be queued is not lost: its delivery stays in the table and
    /// the sweep queues it when it comes due.
    pub async fn enqueue(&self, attempts: &[QueuedAttempt]) -> Result<usize, ApiError> {
        if attempts.is_empty() {
            return Ok(0);
        }
        let url = self.url.as_deref().ok_or_else(|| {
            ApiError::internal("no webhook queue is configured for this function")
        })?;
        let chunks: Vec<Vec<QueuedAttempt>> = attempts.chunks(BATCH).map(<[_]>::to_vec).collect();
        let sent: Vec<Result<usize, ApiError>> = stream::iter(chunks)
            .map(|chunk| async move { self.send_batch(url, &chunk).await })
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .collect()
            .await;
        let mut queued = 0;
        for batch in sent {
            queued += batch?;
        }
        Ok(queued)
    }

    async fn send_batch(&self, url: &str, chunk: &[QueuedAttempt]) -> Result<usize, ApiError> {
        let mut request = self.client.send_message_batch().queue_url(url);
        for (n, attempt) in chunk.iter().enumerate() {
            let body = serde_json::to_string(attempt).map_err(ApiError::internal)?;
            let entry = SendMessageBatchRequestEntry::builder()
                .id(n.to_string())
                .message_body(body)
                .message_group_id(attempt.subscription_id.to_string())
                .delay_seconds(attempt.delay_secs.min(MAX_DELAY_SECS) as i32)
                .build()
                .map_err(ApiError::internal)?;
            request = request.entries(entry);
        }
        let out = request.send().await.map_err(|e| {
            let cause = format!(
                "SQS SendMessageBatch failed: {}",
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            );
            ApiError::Unavailable {
                retry_after_secs: 1,
                cause,
            }
        })?;
        for failed in out.failed() {
            tracing::warn!(
                code = failed.code(),
                message = failed.message().unwrap_or_default(),
                "a webhook attempt was not queued; the sweep queues it when it comes due"
            );
        }
        Ok(out.successful().len())
    }
}

impl SqsEvent {
    /// Each message's attempt, or the ids of those that are not one (logged, and answered as
    /// failures so SQS's redrive policy moves them aside rather than deleting them unread).
    pub fn attempts(&self) -> (Vec<(String, QueuedAttempt)>, Vec<String>) {
        let mut attempts = Vec::new();
        let mut unreadable = Vec::new();
        for record in &self.records {
            match serde_json::from_str::<QueuedAttempt>(&record.body) {
                Ok(attempt) => attempts.push((record.message_id.clone(), attempt)),
                Err(e) => {
                    tracing::error!(message_id = %record.message_id, error = %e, "an unreadable webhook attempt message");
                    unreadable.push(record.message_id.clone());
                }
            }
        }
        (attempts, unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_names_its_delivery_and_an_unreadable_one_is_handed_back() {
        let attempt = QueuedAttempt {
            company_id: CompanyId::new_random(),
            subscription_id: SubscriptionId::new_random(),
            event_at: Timestamp::parse("2026-12-01T10:00:00.123Z").unwrap(),
            event_id: "evt_1".into(),
            attempts_made: 2,
            probe: true,
            delay_secs: 40,
        };
        let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
            {"messageId": "m1", "receiptHandle": "r1", "body": serde_json::to_string(&attempt).unwrap(),
             "attributes": {"MessageGroupId": attempt.subscription_id.to_string()}},
            {"messageId": "m2", "receiptHandle": "r2", "body": "{\"not\": \"one\"}"},
        ]}))
        .unwrap();
        let (attempts, unreadable) = event.attempts();
        let read = &attempts[0].1;
        assert_eq!(
            (
                read.event_id.as_str(),
                read.attempts_made,
                read.probe,
                read.delay_secs
            ),
            ("evt_1", 2, true, 0),
            "the delay is the sender's, not part of the message"
        );
        assert_eq!(unreadable, ["m2"]);
        let answer = BatchResponse {
            batch_item_failures: vec![BatchItemFailure {
                item_identifier: "m2".into(),
            }],
        };
        assert_eq!(
            serde_json::to_value(answer).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m2"}]})
        );
    }
}
