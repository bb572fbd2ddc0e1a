//! ledgerdock's shared library: everything two functions would both need.
//!
//! - [`domain`]: types parsed at the edge (ids, money, invoices)
//! - [`error`] / [`http`]: the error model and the HTTP edge
//! - [`auth`]: caller claims, scopes, tenant header; [`token`]: access-token verification
//! - [`store`]: DynamoDB adapters; [`documents`]: S3 adapter
//! - [`handlers`]: one module per API operation, plus the route/scope table
//! - [`app`] / [`config`] / [`runtime`] / [`sdk`] / [`telemetry`]: per-container setup

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod gate;
pub mod handlers;
pub mod http;
pub mod imports;
pub mod pagination;
pub mod plain_http;
pub mod publish;
pub mod runtime;
pub mod sdk;
pub mod store;
pub mod telemetry;
pub mod token;

pub use app::AppState;
pub use error::ApiError;
