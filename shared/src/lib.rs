//! ledgerdock's shared library: everything the Lambda functions run. Each top-level module is
//! one layer, and a module uses its own layer and the layers below it, never one above
//! (`tests/layers.rs` keeps the order, and docs/architecture.md says what each layer holds).
//! Bottom to top:
//!
//! - [`foundation`]: the error model, logging, SDK timeouts, a tiny HTTP client;
//! - [`domain`]: the API's types, parsed once at the edge;
//! - [`edge`]: HTTP parsing and answers, token checks, continuation keys, settings;
//! - [`store`]: everything that talks to DynamoDB, S3 or SQS;
//! - [`app`]: `AppState`, built once per container;
//! - [`features`]: workflows spanning several stores (imports, publishing, webhooks);
//! - [`gate`]: admission of an API request (caller, rate, scope, company, grant);
//! - [`handlers`]: one module per operation, grouped by feature;
//! - [`runtime`]: what each function's `main` runs.

pub mod foundation;

pub mod domain;

pub mod edge;

pub mod store;

pub mod app;

pub mod features;

pub mod gate;

pub mod handlers;

pub mod runtime;

pub use app::AppState;
pub use foundation::error::ApiError;
