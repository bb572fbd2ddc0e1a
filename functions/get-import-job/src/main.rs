//! Lambda entry point. All logic lives in `ledgerdock_shared::handlers::get_import_job`,
//! which the dev stack also serves in-process.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ledgerdock_shared::runtime::run_http("get-import-job").await
}
