//! Everything about where ledgerdock runs, none of it linked into a Lambda binary:
//!
//! - [`cli`]: the `ledgerdock` commands (`dev`, `clients`, `invoices`, `poll`, `listen`,
//!   `trigger`)
//! - [`connector`]: the reference connector `poll` and `listen` run, over the API's HTTP
//! - [`dev`]: the dev stack: embedded engines, the router that plays API Gateway, the OAuth2
//!   token issuer that plays Cognito, the demo seed and its sample files, the OpenAPI document
//! - [`clients`]: machine-client administration, in the local registry or in Cognito
//! - [`bootstrap`]: the table and bucket a fresh engine needs

pub mod bootstrap;
pub mod cli;
pub mod clients;
pub mod connector;
pub mod dev;
