//! `sweep-import-jobs`: the scheduled run of [`crate::imports::sweep`].

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::error::ApiError;

/// Settles every overdue IN_PROGRESS job.
pub async fn handle(state: &AppState) -> Result<crate::imports::sweep::Swept, ApiError> {
    let swept = crate::imports::sweep::sweep(state, Timestamp::now()).await?;
    tracing::info!(?swept, "import job sweep done");
    Ok(swept)
}
