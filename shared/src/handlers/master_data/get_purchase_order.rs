//! `GET /v1/purchase-orders/{poNumber}`: one imported purchase order with its lines (one GetItem).

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::master_data::fields::CodeKey;
use crate::domain::master_data::purchase_order::PurchaseOrders;
use crate::domain::Scope;
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::handlers::master_data;

pub const ROUTE: Route = Route {
    function: "get-purchase-order",
    method: "GET",
    path: "/v1/purchase-orders/{poNumber}",
    scopes: &[Scope::ImportsRead],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let key: CodeKey = edge::path_param(&req, "poNumber")?;
    master_data::get::<PurchaseOrders>(state, tenant.company, &[key.as_str()]).await
}
