//! `webhook-fanout`: the table's DynamoDB stream, batch by batch, through
//! [`crate::features::webhooks::dispatch::Dispatcher::fan_out`] (webhooks and the event feed)
//! and [`crate::features::history::Historian::record`] (each invoice's history), side by side.
//! An error fails the batch and Lambda retries it; every delivery write is conditional on not
//! existing and every history entry is keyed by its record, so a batch read again writes and
//! sends nothing twice.

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::features::history::Historian;
use crate::features::webhooks::dispatch::{Dispatched, Dispatcher};
use crate::features::webhooks::events::StreamEvent;
use crate::foundation::error::ApiError;

pub async fn handle(state: &AppState, event: StreamEvent) -> Result<Dispatched, ApiError> {
    let dispatcher = Dispatcher::of(state)?;
    let historian = Historian::from(state);
    let changes = event.changes();
    let (run, recorded) = tokio::try_join!(
        dispatcher.fan_out(&changes, Timestamp::now()),
        historian.record(&changes),
    )?;
    run.log("fan-out");
    if recorded > 0 {
        tracing::info!(recorded, "invoice history written");
    }
    Ok(run)
}
