//! `POST /v1/invoices/reject`: reject up to 100 invoices in one call, each with its reason and
//! each as its single reject would be (see [`super::bulk`]).

use lambda_http::{Body, Request, Response};

use super::bulk;
use crate::app::AppState;
use crate::domain::{BulkRejectItem, BulkRequest, Scope};
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "bulk-reject-invoice-exports",
    method: "POST",
    path: "/v1/invoices/reject",
    scopes: &[Scope::InvoicesWrite],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    bulk::settle_each(state, tenant, req, BulkRequest::<BulkRejectItem>::records).await
}
