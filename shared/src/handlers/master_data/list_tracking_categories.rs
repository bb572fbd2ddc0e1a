//! `GET /v1/tracking-categories?limit&continuationKey`: a page of the options of every tracking category of the company's, by category then optionCode (one Query),
//! paged like the export queue.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::master_data::tracking::TrackingCategories;
use crate::domain::Scope;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::handlers::master_data;

pub const ROUTE: Route = Route {
    function: "list-tracking-categories",
    method: "GET",
    path: "/v1/tracking-categories",
    scopes: &[Scope::ImportsRead],
    pages: true,
    query: &["limit", "continuationKey"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    master_data::list::<TrackingCategories>(state, tenant.company, &req, None).await
}
