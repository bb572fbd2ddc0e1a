//! `POST /v1/invoices/{invoiceId}/complete`: mark exported. One conditional UpdateItem;
//! repeating the same call is a 200, a conflicting one a 409 with the current status, and so
//! is one while another client's claim on the invoice lasts.

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::{CompleteRequest, InvoiceId, Scope, Timestamp, Transition};
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "complete-invoice-export",
    method: "POST",
    path: "/v1/invoices/{invoiceId}/complete",
    scopes: &[Scope::InvoicesWrite],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let invoice_id: InvoiceId = edge::path_param(&req, "invoiceId")?;
    // An empty body is `{}`: both fields are optional.
    let body: CompleteRequest = edge::json_body(&req, true)?;
    let transition = Transition::Complete(body.record(Timestamp::now()));
    let state = state
        .invoices
        .transition(
            tenant.company,
            invoice_id,
            &transition,
            &tenant.acting_in(&req),
        )
        .await?;
    edge::ok(&state)
}
