//! `webhook-fanout`: the table's DynamoDB stream, batch by batch, through
//! [`crate::webhooks::dispatch::Dispatcher::fan_out`]. An error fails the batch and Lambda
//! retries it; every delivery write is conditional on not existing, so a batch read again
//! writes and sends nothing twice.

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::error::ApiError;
use crate::webhooks::delivery::Sender;
use crate::webhooks::dispatch::{Dispatched, Dispatcher};
use crate::webhooks::events::StreamEvent;

pub async fn handle(state: &AppState, event: StreamEvent) -> Result<Dispatched, ApiError> {
    let sender = Sender::shared(state.config.webhook_urls)?;
    let dispatcher = Dispatcher::new(state.webhooks.clone(), sender.clone());
    let run = dispatcher
        .fan_out(&event.changes(), Timestamp::now())
        .await?;
    if run == Dispatched::default() {
        tracing::debug!("webhook fan-out: nothing to do");
    } else {
        tracing::info!(?run, "webhook fan-out done");
    }
    Ok(run)
}
