//! The floor of a function that also uses S3: the same, with an S3 client built at init (see
//! the crate docs).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let sdk = floor::sdk_config().await;
    let floor: &'static floor::Floor = Box::leak(Box::new(floor::Floor::new(&sdk)));
    // Built once per container, as the functions build theirs; kept for the container's life.
    let s3: &'static aws_sdk_s3::Client = Box::leak(Box::new(floor::s3_client(&sdk)));
    std::hint::black_box(s3);
    floor.open_connection().await;
    floor.run().await
}
