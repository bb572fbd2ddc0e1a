//! `webhook-fanout`: the table's DynamoDB stream, batch by batch, through
//! [`crate::webhooks::dispatch::Dispatcher::fan_out`]. An error fails the batch and Lambda
//! retries it; every delivery write is conditional on not existing, so a batch read again
//! writes and sends nothing twice.

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::error::ApiError;
use crate::webhooks::dispatch::{Dispatched, Dispatcher};
use crate::webhooks::events::StreamEvent;

pub async fn handle(state: &AppState, event: StreamEvent) -> Result<Dispatched, ApiError> {
    let dispatcher = Dispatcher::of(state)?;
    let run = dispatcher
        .fan_out(&event.changes(), Timestamp::now())
        .await?;
    run.log("fan-out");
    Ok(run)
}
