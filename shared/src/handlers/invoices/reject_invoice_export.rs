//! `POST /v1/invoices/{invoiceId}/reject`: reject with a reason. One conditional UpdateItem;
//! repeating the same call is a 200, a conflicting one a 409 with the current status.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::{InvoiceId, RejectRequest, Scope, Timestamp, Transition};
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "reject-invoice-export",
    method: "POST",
    path: "/v1/invoices/{invoiceId}/reject",
    scopes: &[Scope::InvoicesWrite],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let invoice_id: InvoiceId = edge::path_param(&req, "invoiceId")?;
    let body: RejectRequest = edge::json_body(&req, false)?;
    let record = body.record(Timestamp::now())?;
    let state = state
        .invoices
        .transition(
            tenant.company,
            invoice_id,
            &Transition::Reject(record),
            &tenant.acting_in(&req),
        )
        .await?;
    edge::ok(&state)
}
