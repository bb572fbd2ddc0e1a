//! `GET /v1/purchase-orders?limit&continuationKey`: a page of the company's purchase orders (each with its lines) in poNumber order (one Query),
//! paged like the export queue.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::master_data::purchase_order::PurchaseOrders;
use crate::domain::Scope;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::handlers::master_data;

pub const ROUTE: Route = Route {
    function: "list-purchase-orders",
    method: "GET",
    path: "/v1/purchase-orders",
    scopes: &[Scope::ImportsRead],
    pages: true,
    query: &["limit", "continuationKey"],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    master_data::list::<PurchaseOrders>(state, tenant.company, &req, None).await
}
