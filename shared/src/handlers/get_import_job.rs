//! `GET /v1/import-jobs/{jobId}`: a job's status, counts and per-record errors (one GetItem).

use lambda_http::{Body, Request, Response};

use super::{HandlerFuture, Route};
use crate::app::AppState;
use crate::auth::Tenant;
use crate::domain::JobId;
use crate::error::ApiError;
use crate::http;

pub fn boxed<'a>(state: &'a AppState, route: &'static Route, req: Request) -> HandlerFuture<'a> {
    Box::pin(state.serve_route(route, req, run))
}

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let job_id: JobId = http::path_param(&req, "jobId")?;
    // Another company's job lives under another partition key: it is simply not found.
    match state.import_jobs.get(tenant.company, job_id).await? {
        Some(job) => http::ok(&job.view()),
        None => Err(ApiError::not_found(format!(
            "import job {job_id} not found"
        ))),
    }
}
