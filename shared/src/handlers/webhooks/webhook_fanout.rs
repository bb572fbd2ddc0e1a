//! `webhook-fanout`: the table's DynamoDB stream, batch by batch, through
//! [`crate::features::webhooks::dispatch::Dispatcher::fan_out`]. An error fails the batch and Lambda
//! retries it; every delivery write is conditional on not existing, so a batch read again
//! writes and sends nothing twice.

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::features::webhooks::dispatch::{Dispatched, Dispatcher};
use crate::features::webhooks::events::StreamEvent;
use crate::foundation::error::ApiError;

pub async fn handle(state: &AppState, event: StreamEvent) -> Result<Dispatched, ApiError> {
    let dispatcher = Dispatcher::of(state)?;
    let run = dispatcher
        .fan_out(&event.changes(), Timestamp::now())
        .await?;
    run.log("fan-out");
    Ok(run)
}
