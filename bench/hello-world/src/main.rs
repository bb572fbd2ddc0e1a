//! The best a Rust Lambda behind API Gateway can do: `lambda_http` answering 200 with a fixed
//! JSON body, no SDK, no state. The cold-start figures of the real functions are ratios to it.

use std::convert::Infallible;

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_: Request| async {
        let mut response = Response::new(Body::from(r#"{"hello":"world"}"#));
        response.headers_mut().insert(
            "content-type",
            lambda_http::http::HeaderValue::from_static("application/json"),
        );
        Ok::<_, Infallible>(response)
    }))
    .await
}
