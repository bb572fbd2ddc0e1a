//! `POST /v1/invoices/complete`: mark up to 100 invoices exported in one call, each as its
//! single complete would be (see [`super::bulk`]).

use lambda_http::{Body, Request, Response};

use super::bulk;
use crate::app::AppState;
use crate::domain::{BulkCompleteItem, BulkRequest, Scope};
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "bulk-complete-invoice-exports",
    method: "POST",
    path: "/v1/invoices/complete",
    scopes: &[Scope::InvoicesWrite],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    bulk::settle_each(state, tenant, req, BulkRequest::<BulkCompleteItem>::records).await
}
