//! Lambda entry point. All logic lives in `ledgerdock_shared::handlers::list_exportable_invoices`,
//! which the dev stack also serves in-process.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ledgerdock_shared::runtime::run_http("list-exportable-invoices").await
}
