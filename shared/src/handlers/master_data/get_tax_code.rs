//! `GET /v1/tax-codes/{code}`: one imported tax code (one GetItem).

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::master_data::fields::CodeKey;
use crate::domain::master_data::tax_code::TaxCodes;
use crate::domain::Scope;
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::handlers::master_data;

pub const ROUTE: Route = Route {
    function: "get-tax-code",
    method: "GET",
    path: "/v1/tax-codes/{code}",
    scopes: &[Scope::ImportsRead],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let key: CodeKey = edge::path_param(&req, "code")?;
    master_data::get::<TaxCodes>(state, tenant.company, &[key.as_str()]).await
}
