//! Lambda entry point of `POST /v1/invoices/claims`. All logic lives in
//! `ledgerdock_shared::handlers::invoices::claim_invoice_exports`, which the dev stack also serves in-process.

use ledgerdock_shared::handlers::invoices::claim_invoice_exports::ROUTE;

// This binary is the function its route names: checked when it compiles.
const _: () = assert!(ROUTE.is_function(env!("CARGO_PKG_NAME")));

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ledgerdock_shared::runtime::run_http(&ROUTE).await
}
