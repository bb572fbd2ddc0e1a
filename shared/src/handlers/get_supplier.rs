//! `GET /v1/suppliers/{externalId}`: one imported supplier card (one GetItem).

use lambda_http::{Body, Request, Response};

use super::{HandlerFuture, Route};
use crate::app::AppState;
use crate::auth::Tenant;
use crate::domain::supplier::parse_external_id;
use crate::error::ApiError;
use crate::http;

pub fn boxed<'a>(state: &'a AppState, route: &'static Route, req: Request) -> HandlerFuture<'a> {
    Box::pin(state.serve_route(route, req, run))
}

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
