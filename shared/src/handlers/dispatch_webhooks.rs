//! `dispatch-webhooks`: the scheduled run (every minute) of
//! [`crate::webhooks::dispatch::Dispatcher::dispatch_due`]: retries, and first attempts whose
//! fan-out died after writing them.

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::error::ApiError;
use crate::webhooks::dispatch::{Dispatched, Dispatcher};

pub async fn handle(state: &AppState) -> Result<Dispatched, ApiError> {
    let dispatcher = Dispatcher::of(state)?;
    let run = dispatcher.dispatch_due(Timestamp::now()).await?;
    run.log("dispatch");
    Ok(run)
}
