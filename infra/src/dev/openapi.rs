//! The API's contract, `openapi.yaml` at the repository root (the one source: a test holds it
//! equal to `ROUTES` and template.yaml), served by the dev stack as JSON at `/openapi.json`
//! with the running stack's own URLs, so a client generator or schemathesis can point at it.

use anyhow::Context;

/// The document as written.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");

/// The document as JSON, its first server and token URL set to this stack's.
pub fn document(api_url: &str, token_url: &str) -> anyhow::Result<serde_json::Value> {
    let mut doc: serde_json::Value =
        serde_yaml::from_str(OPENAPI_YAML).context("openapi.yaml is not valid YAML")?;
    doc["servers"][0]["url"] = serde_json::json!(api_url);
    doc["components"]["securitySchemes"]["clientCredentials"]["flows"]["clientCredentials"]
        ["tokenUrl"] = serde_json::json!(token_url);
    Ok(doc)
}
