//! Lambda entry point for the webhook attempt queue (SQS): each queued delivery attempted,
//! signed. Logic: `ledgerdock_shared::handlers::webhooks::deliver_webhooks`.

use ledgerdock_shared::store::attempt_queue::SqsEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_http::lambda_runtime::Error> {
    ledgerdock_shared::runtime::run_event(|state, event: SqsEvent| {
        ledgerdock_shared::handlers::webhooks::deliver_webhooks::handle(state, event)
    })
    .await
}
