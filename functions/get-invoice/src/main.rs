//! Lambda entry point. All logic lives in `ledgerdock_shared::handlers::get_invoice`,
//! which the dev stack also serves in-process.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ledgerdock_shared::runtime::run_http("get-invoice").await
}
