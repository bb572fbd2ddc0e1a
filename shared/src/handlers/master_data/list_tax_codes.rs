//! `GET /v1/tax-codes?limit&continuationKey`: a page of the company's tax codes in code order (one Query),
//! paged like the export queue.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::master_data::tax_code::TaxCodes;
use crate::domain::Scope;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::handlers::master_data;

pub const ROUTE: Route = Route {
    function: "list-tax-codes",
    method: "GET",
    path: "/v1/tax-codes",
    scopes: &[Scope::ImportsRead],
    pages: true,
    query: &["limit", "continuationKey"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    master_data::list::<TaxCodes>(state, tenant.company, &req, None).await
}
