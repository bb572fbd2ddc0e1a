//! `deliver-webhooks`: the attempt queue's consumer (SQS event source, batches of up to 10,
//! `ReportBatchItemFailures`). Attempts each queued delivery (see
//! [`crate::features::webhooks::dispatch::Dispatcher::deliver`]) and answers with the messages to hand
//! over again: an unreadable one, or one whose work failed on the table. Every other message
//! is done with, whatever its receiver answered: a failed attempt is retried through the
//! table and the queue, not by SQS redelivering the message.

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::features::webhooks::dispatch::Dispatcher;
use crate::foundation::error::ApiError;
use crate::store::attempt_queue::{BatchItemFailure, BatchResponse, SqsEvent};

pub async fn handle(state: &AppState, event: SqsEvent) -> Result<BatchResponse, ApiError> {
    let dispatcher = Dispatcher::of(state)?;
    let (attempts, mut again) = event.attempts();
    let (run, failed) = dispatcher.deliver(attempts, Timestamp::now()).await?;
    run.log("deliver");
    again.extend(failed);
    Ok(BatchResponse {
        batch_item_failures: again
            .into_iter()
            .map(|item_identifier| BatchItemFailure { item_identifier })
            .collect(),
    })
}
