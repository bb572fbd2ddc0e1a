//! `GET /v1/suppliers?limit&continuationKey`: a page of the company's supplier cards in
//! externalId order (one Query), paged like the export queue.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::supplier::SupplierCards;
use crate::domain::Scope;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::handlers::master_data;

pub const ROUTE: Route = Route {
    function: "list-suppliers",
    method: "GET",
    path: "/v1/suppliers",
    scopes: &[Scope::ImportsRead],
    pages: true,
    query: &["limit", "continuationKey"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    master_data::list::<SupplierCards>(state, tenant.company, &req, None).await
}
