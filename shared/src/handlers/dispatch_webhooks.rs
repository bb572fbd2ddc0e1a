//! `dispatch-webhooks`: the scheduled run (every minute) of
//! [`crate::webhooks::dispatch::Dispatcher::dispatch_due`]: retries, and first attempts whose
//! fan-out died after writing them.

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::error::ApiError;
use crate::webhooks::delivery::Sender;
use crate::webhooks::dispatch::{Dispatched, Dispatcher};

pub async fn handle(state: &AppState) -> Result<Dispatched, ApiError> {
    let sender = Sender::shared(state.config.webhook_urls)?;
    let dispatcher = Dispatcher::new(state.webhooks.clone(), sender.clone());
    let run = dispatcher.dispatch_due(Timestamp::now()).await?;
    if run == Dispatched::default() {
        tracing::debug!("webhook dispatch: nothing to do");
    } else {
        tracing::info!(?run, "webhook dispatch done");
    }
    Ok(run)
}
