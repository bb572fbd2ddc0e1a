//! `sweep-import-jobs`: the scheduled run of [`crate::features::imports::sweep`].

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::foundation::error::ApiError;

/// Settles every overdue IN_PROGRESS job.
pub async fn handle(state: &AppState) -> Result<crate::features::imports::sweep::Swept, ApiError> {
    let swept = crate::features::imports::sweep::sweep(state, Timestamp::now()).await?;
    tracing::info!(?swept, "import job sweep done");
    Ok(swept)
}
