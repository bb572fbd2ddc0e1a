//! Lambda entry point for the table's DynamoDB stream: changes that are news become webhook
//! deliveries. Logic: `ledgerdock_shared::handlers::webhooks::webhook_fanout`.

use ledgerdock_shared::features::webhooks::events::StreamEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_http::lambda_runtime::Error> {
    ledgerdock_shared::runtime::run_event(|state, event: StreamEvent| {
        ledgerdock_shared::handlers::webhooks::webhook_fanout::handle(state, event)
    })
    .await
}
