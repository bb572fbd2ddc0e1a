//! `POST /v1/import-jobs`: starts an import and answers 202 with the job and its Location
//! (the workflow, its three ways in and its Idempotency-Key, is `imports::start`).

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::Scope;
use crate::edge;
use crate::features::imports::start::{ImportStarter, StartRequest, Started};
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "start-import-job",
    method: "POST",
    path: "/v1/import-jobs",
    scopes: &[Scope::ImportsWrite],
    pages: false,
    query: &["type", "mode", "dryRun"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let key = IdempotencyKey::from_headers(req.headers())?;
    // Validation first: a replay never answers 202 to a request that would be refused.
    let request = StartRequest::try_from(&req)?;
    let started = ImportStarter::from(state)
        .start(tenant.company, &tenant.client_id, key, request)
        .await?;
    accepted(started)
}

fn accepted(started: Started) -> Result<Response<Body>, ApiError> {
    let Started {
        job,
        upload,
        replayed,
    } = started;
    let mut body = job.view();
    if let Some(upload) = upload {
        body["upload"] = serde_json::to_value(upload).map_err(ApiError::internal)?;
    }
    edge::made(
        ::http::StatusCode::ACCEPTED,
        &body,
        &job.location(),
        replayed,
    )
}
