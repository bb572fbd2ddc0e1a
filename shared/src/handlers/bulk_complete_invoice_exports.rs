//! `POST /v1/invoices/complete`: mark up to 100 invoices exported in one call. Each item is
//! what a single complete call would do (one conditional UpdateItem, issued concurrently) and
//! answers as it would: a repeat is a 200, a conflict a 409, another company's invoice a 404,
//! each in its own result, in request order. A malformed body is one 400 and changes nothing.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::{BulkCompleteItem, BulkRequest, Scope, Timestamp};
use crate::edge;
use crate::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::store::invoices::{Transition, BULK_DEADLINE};

pub const ROUTE: Route = Route {
    function: "bulk-complete-invoice-exports",
    method: "POST",
    path: "/v1/invoices/complete",
    scope: Scope::InvoicesWrite,
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let body: BulkRequest<BulkCompleteItem> =
        edge::json_body_up_to(&req, false, edge::MAX_BULK_BODY_BYTES, "")?;
    let transitions = body
        .records(Timestamp::now())
        .map_err(ApiError::fields)?
        .into_iter()
        .map(|(invoice, record)| (invoice, Transition::Complete(record)))
        .collect();
    let deadline = tokio::time::Instant::now() + BULK_DEADLINE;
    let results = state
        .invoices
        .transition_each(tenant.company, transitions, deadline)
        .await;
    edge::item_results(results)
}
