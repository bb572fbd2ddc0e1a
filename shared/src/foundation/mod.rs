//! What every layer above stands on, knowing nothing of the API: the one error model, logging,
//! how SDK clients behave on the wire, and a minimal HTTP client for the Runtime API.

pub mod error;
pub mod plain_http;
pub mod sdk;
pub mod telemetry;
