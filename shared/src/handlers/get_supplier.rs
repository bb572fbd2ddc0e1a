//! `GET /v1/suppliers/{externalId}`: one imported supplier card (one GetItem).

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::supplier::parse_external_id;
use crate::domain::Scope;
use crate::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::http;

pub const ROUTE: Route = Route {
    function: "get-supplier",
    method: "GET",
    path: "/v1/suppliers/{externalId}",
    scope: Scope::ImportsRead,
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let external_id: String = http::path_param::<ExternalId>(&req, "externalId")?.0;
    match state.suppliers.get(tenant.company, &external_id).await? {
        Some(supplier) => http::ok(&supplier.view()),
        None => Err(ApiError::not_found(format!(
            "supplier {external_id:?} not found"
        ))),
    }
}

/// A path segment checked by the same rule imports apply to externalId.
struct ExternalId(String);

impl std::str::FromStr for ExternalId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_external_id(s).map(Self).map_err(|e| e.message)
    }
}
