//! `GET /v1/suppliers/{externalId}`: one imported supplier card (one GetItem).

use lambda_http::{Body, Request, Response};

use super::HandlerFuture;
use crate::app::AppState;
use crate::auth::Scope;
use crate::domain::supplier::parse_external_id;
use crate::error::ApiError;
use crate::http;

pub fn boxed(state: &AppState, req: Request) -> HandlerFuture<'_> {
    Box::pin(handle(state, req))
}

pub async fn handle(state: &AppState, req: Request) -> Response<Body> {
    http::serve(req, |req| run(state, req)).await
}

async fn run(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let tenant = state.authorize(&req, Scope::ImportsRead).await?;
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
