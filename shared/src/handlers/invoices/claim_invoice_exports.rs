//! `POST /v1/invoices/claims` `{"limit": 1-100, "leaseSeconds": 30-3600}`: takes up to `limit`
//! invoices of the export queue for the calling client until the lease ends. No other claim is
//! handed them until then, and no other client may complete or reject them (409); the
//! claimant completes or rejects each as usual, and one it leaves is handed out again once the
//! lease has ended. Plain listing still shows them. Two Queries and one conditional UpdateItem
//! per invoice tried (see `store::invoices`).

use lambda_http::{Body, Request, Response};

use crate::app::AppState;
use crate::domain::claims::{Claim, ClaimRequest};
use crate::domain::{Scope, Timestamp};
use crate::edge;
use crate::foundation::error::ApiError;
use crate::gate::{Route, Tenant};

pub const ROUTE: Route = Route {
    function: "claim-invoice-exports",
    method: "POST",
    path: "/v1/invoices/claims",
    scopes: &[Scope::InvoicesWrite],
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    // An empty body is `{}`: both fields have defaults.
    let claim =
        Claim::try_from(edge::json_body::<ClaimRequest>(&req, true)?).map_err(ApiError::fields)?;
    let now = Timestamp::now();
    let until = now.plus(claim.lease);
    let invoice_ids = state
        .invoices
        .claim(
            tenant.company,
            &tenant.acting_in(&req),
            claim.limit,
            until,
            now,
        )
        .await?;
    edge::ok(&serde_json::json!({
        "invoiceIds": invoice_ids,
        "claimedUntil": until,
        "leaseSeconds": claim.lease.as_secs(),
    }))
}
