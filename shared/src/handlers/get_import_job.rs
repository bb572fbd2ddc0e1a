//! `GET /v1/import-jobs/{jobId}`: a job's status, counts and per-record errors (one GetItem).

use lambda_http::{Body, Request, Response};

use super::HandlerFuture;
use crate::app::AppState;
use crate::auth::Scope;
use crate::domain::JobId;
use crate::error::ApiError;
use crate::http;

pub fn boxed(state: &AppState, req: Request) -> HandlerFuture<'_> {
    Box::pin(handle(state, req))
}

pub async fn handle(state: &AppState, req: Request) -> Response<Body> {
    http::serve(req, |req| run(state, req)).await
}

async fn run(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let tenant = state.authorize(&req, Scope::ImportsRead).await?;
    let job_id: JobId = http::path_param(&req, "jobId")?;
    // Another company's job lives under another partition key: it is simply not found.
    match state.import_jobs.get(tenant.company, job_id).await? {
        Some(job) => http::ok(&job.view()),
        None => Err(ApiError::not_found(format!(
            "import job {job_id} not found"
        ))),
    }
}
