//! `dispatch-webhooks`: the scheduled run (every minute) of
//! [`crate::features::webhooks::dispatch::Dispatcher::sweep`]: queues the deliveries that came due
//! (retries, a held subscription's probe, anything whose message was lost). It sends nothing
//! itself; `deliver-webhooks` does.

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::features::webhooks::dispatch::{Dispatched, Dispatcher};
use crate::foundation::error::ApiError;

pub async fn handle(state: &AppState) -> Result<Dispatched, ApiError> {
    let dispatcher = Dispatcher::of(state)?;
    let run = dispatcher.sweep(Timestamp::now()).await?;
    run.log("sweep");
    Ok(run)
}
