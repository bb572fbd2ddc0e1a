//! ledgerdock's shared library: everything the Lambda functions run, in layers. A module uses
//! its own layer and the layers below it, never one above (`tests/layers.rs` checks):
//!
//! | layer | modules | holds |
//! |---|---|---|
//! | runtime | [`runtime`] | what each function's `main` runs: state once per container, then invocations |
//! | handlers | [`handlers`] | one module per operation; an API operation declares its `ROUTE` |
//! | gate | [`gate`] | admission of an API request: caller, rate count, scope, company, grant |
//! | features | [`imports`], [`publish`] | import jobs (reader, worker, sweep); publishing invoices |
//! | container | [`app`] | `AppState`: config, adapters and keys, built once per container |
//! | adapters | [`store`] | everything that talks to DynamoDB, S3 or SQS |
//! | edge | [`edge`], [`token`], [`pagination`], [`config`] | HTTP parsing and answers, token checks, continuation keys, settings |
//! | domain | [`domain`] | the API's types, parsed once at the edge (ids, money, invoices, suppliers, jobs, scopes) |
//! | foundation | [`error`], [`telemetry`], [`sdk`], [`plain_http`] | the error model, logging, SDK timeouts, a tiny HTTP client |

pub mod app;
pub mod config;
pub mod domain;
pub mod edge;
pub mod error;
pub mod gate;
pub mod handlers;
pub mod imports;
pub mod pagination;
pub mod plain_http;
pub mod publish;
pub mod runtime;
pub mod sdk;
pub mod store;
pub mod telemetry;
pub mod token;
pub mod webhooks;

pub use app::AppState;
pub use error::ApiError;
