//! `GET /v1/tracking-categories/{category}?limit&continuationKey`: a page of the options of one tracking category, by optionCode (one Query),
//! paged like every list; a category with no options is a 404.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::master_data::fields::CodeKey;
use crate::domain::master_data::tracking::TrackingCategories;
use crate::domain::Scope;
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::handlers::master_data;

pub const ROUTE: Route = Route {
    function: "get-tracking-category",
    method: "GET",
    path: "/v1/tracking-categories/{category}",
    scopes: &[Scope::ImportsRead],
    pages: true,
    query: &["limit", "continuationKey"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let category: CodeKey = edge::path_param(&req, "category")?;
    master_data::list::<TrackingCategories>(state, tenant.company, &req, Some(&[category.as_str()]))
        .await
}
