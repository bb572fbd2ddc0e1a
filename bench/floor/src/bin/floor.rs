//! The floor of a DynamoDB-only function (see the crate docs).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let sdk = floor::sdk_config().await;
    let floor: &'static floor::Floor = Box::leak(Box::new(floor::Floor::new(&sdk)));
    floor.open_connection().await;
    floor.run().await
}
