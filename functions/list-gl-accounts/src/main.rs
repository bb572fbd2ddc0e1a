//! Lambda entry point of `GET /v1/gl-accounts`. All logic lives in
//! `ledgerdock_shared::handlers::master_data::list_gl_accounts`, which the dev stack also serves in-process.

use ledgerdock_shared::handlers::master_data::list_gl_accounts::ROUTE;

// This binary is the function its route names: checked when it compiles.
const _: () = assert!(ROUTE.is_function(env!("CARGO_PKG_NAME")));

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ledgerdock_shared::runtime::run_http(&ROUTE).await
}
