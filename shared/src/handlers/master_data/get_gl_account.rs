//! `GET /v1/gl-accounts/{code}`: one imported GL account (one GetItem).

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::master_data::fields::CodeKey;
use crate::domain::master_data::gl_account::GlAccounts;
use crate::domain::Scope;
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::handlers::master_data;

pub const ROUTE: Route = Route {
    function: "get-gl-account",
    method: "GET",
    path: "/v1/gl-accounts/{code}",
    scopes: &[Scope::ImportsRead],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let key: CodeKey = edge::path_param(&req, "code")?;
    master_data::get::<GlAccounts>(state, tenant.company, &[key.as_str()]).await
}
