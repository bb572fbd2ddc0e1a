//! Events as AWS sends them to the functions: the payloads `sam local generate-event` writes
//! (infra/events), and the changes a test makes to one (a caller, a path parameter, a query, a
//! body), keeping every field API Gateway fills in step.

use serde_json::{json, Value};

use crate::Connector;

/// An event from infra/events (the payloads `sam local generate-event` writes, shaped for
/// each function by infra/events/generate.sh).
pub fn event(function: &str) -> Value {
    let path = format!(
        "{}/../infra/events/{function}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

/// The function's event from infra/events, sent by `tenant`: its company header, bearer token
/// and the authorizer claims Cognito would fill for its client.
pub fn api_event(function: &str, tenant: &Connector) -> Value {
    let mut e = event(function);
    set_header(&mut e, "Lightyear-Company-ID", &tenant.company.to_string());
    set_header(&mut e, "Authorization", &format!("Bearer {}", tenant.token));
    let claims = &mut e["requestContext"]["authorizer"]["claims"];
    claims["client_id"] = json!(tenant.client_id);
    claims["sub"] = json!(tenant.client_id);
    e
}

/// Sets a header in both of the forms a REST proxy event carries.
pub fn set_header(e: &mut Value, name: &str, value: &str) {
    e["headers"][name] = json!(value);
    e["multiValueHeaders"][name] = json!([value]);
}

/// Sets a path parameter, and the request path that API Gateway would have matched.
pub fn set_path_param(e: &mut Value, name: &str, value: &str) {
    e["pathParameters"][name] = json!(value);
    let resource = e["resource"].as_str().unwrap().to_string();
    let mut path = resource.clone();
    for (param, value) in e["pathParameters"].as_object().unwrap() {
        path = path.replace(&format!("{{{param}}}"), value.as_str().unwrap());
    }
    let stage = e["requestContext"]["stage"].as_str().unwrap().to_string();
    e["requestContext"]["path"] = json!(format!("/{stage}{path}"));
    e["path"] = json!(path);
}

pub fn set_query(e: &mut Value, name: &str, value: &str) {
    e["queryStringParameters"][name] = json!(value);
    e["multiValueQueryStringParameters"][name] = json!([value]);
}

pub fn set_body(e: &mut Value, body: &str) {
    e["body"] = json!(body);
    e["isBase64Encoded"] = json!(false);
}
