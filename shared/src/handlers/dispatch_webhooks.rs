//! `dispatch-webhooks`: the scheduled run (every minute) of
//! [`crate::webhooks::dispatch::Dispatcher::sweep`]: queues the deliveries that came due
//! (retries, a held subscription's probe, anything whose message was lost). It sends nothing
//! itself; `deliver-webhooks` does.

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::error::ApiError;
use crate::webhooks::dispatch::{Dispatched, Dispatcher};

pub async fn handle(state: &AppState) -> Result<Dispatched, ApiError> {
    let dispatcher = Dispatcher::of(state)?;
    let run = dispatcher.sweep(Timestamp::now()).await?;
    run.log("sweep");
    Ok(run)
}
