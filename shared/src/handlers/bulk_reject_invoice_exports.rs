//! `POST /v1/invoices/reject`: reject up to 100 invoices in one call, each with its reason.
//! Each item is what a single reject call would do (one conditional UpdateItem, issued
//! concurrently) and answers as it would, in its own result, in request order. A malformed
//! body is one 400 and changes nothing.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::{BulkRejectItem, BulkRequest, Scope, Timestamp};
use crate::edge;
use crate::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::store::invoices::{Transition, BULK_DEADLINE};

pub const ROUTE: Route = Route {
    function: "bulk-reject-invoice-exports",
    method: "POST",
    path: "/v1/invoices/reject",
    scope: Scope::InvoicesWrite,
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let body: BulkRequest<BulkRejectItem> =
        edge::json_body_up_to(&req, false, edge::MAX_BULK_BODY_BYTES, "")?;
    let transitions = body
        .records(Timestamp::now())
        .map_err(ApiError::fields)?
        .into_iter()
        .map(|(invoice, record)| (invoice, Transition::Reject(record)))
        .collect();
    let deadline = tokio::time::Instant::now() + BULK_DEADLINE;
    let results = state
        .invoices
        .transition_each(tenant.company, transitions, deadline)
        .await;
    edge::item_results(results)
}
