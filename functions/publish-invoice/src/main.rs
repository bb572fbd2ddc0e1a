//! Lambda entry point for the internal publish path (invoked directly by the platform, not
//! through API Gateway). The event and its handling live in
//! `ledgerdock_shared::handlers::invoices::publish_invoice`.

use ledgerdock_shared::handlers::invoices::publish_invoice::{handle, PublishInvoiceEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_http::lambda_runtime::Error> {
    ledgerdock_shared::runtime::run_event(|state, event: PublishInvoiceEvent| handle(state, event))
        .await
}
