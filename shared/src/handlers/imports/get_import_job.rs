//! `GET /v1/import-jobs/{jobId}`: a job's status, counts and per-record errors (one GetItem).

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::JobId;
use crate::domain::Scope;
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "get-import-job",
    method: "GET",
    path: "/v1/import-jobs/{jobId}",
    scopes: &[Scope::ImportsRead],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let job_id: JobId = edge::path_param(&req, "jobId")?;
    // Another company's job lives under another partition key: it is simply not found.
    match state.import_jobs.get(tenant.company, job_id).await? {
        Some(job) => edge::ok(&job.view()),
        None => Err(ApiError::not_found(format!(
            "import job {job_id} not found"
        ))),
    }
}
