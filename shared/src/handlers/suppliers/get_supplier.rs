//! `GET /v1/suppliers/{externalId}`: one imported supplier card (one GetItem).

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::supplier::{SupplierCards, SupplierKey};
use crate::domain::Scope;
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::handlers::master_data;

pub const ROUTE: Route = Route {
    function: "get-supplier",
    method: "GET",
    path: "/v1/suppliers/{externalId}",
    scopes: &[Scope::ImportsRead],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let key: SupplierKey = edge::path_param(&req, "externalId")?;
    master_data::get::<SupplierCards>(state, tenant.company, &[key.as_str()]).await
}
