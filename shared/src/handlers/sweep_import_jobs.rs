//! `sweep-import-jobs`: the scheduled run of [`crate::imports::sweep`].

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::error::ApiError;

/// Fails every overdue IN_PROGRESS job; returns how many.
pub async fn handle(state: &AppState) -> Result<usize, ApiError> {
    let failed = crate::imports::sweep::sweep(state, Timestamp::now()).await?;
    tracing::info!(failed, "import job sweep done");
    Ok(failed)
}
