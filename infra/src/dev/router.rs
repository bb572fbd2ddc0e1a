//! The dev stack's front door, playing API Gateway and Cognito on one port:
//! `/health`, `/oauth2/token`, `/.well-known/jwks.json`, `/openapi.json`, `/docs` (the API
//! reference rendered from it, see [`super::reference`]), and every route of
//! `ledgerdock_shared::handlers::ROUTES`, with the token and the route's scope checked the way
//! the REST API's Cognito authorizer checks them, and the same request context handed on.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request as AxumRequest, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use ledgerdock_shared::domain::Scope;
use ledgerdock_shared::gate::Route;
use ledgerdock_shared::handlers::ROUTES;
use ledgerdock_shared::ApiError;
use serde_json::json;

use crate::clients::{secret_matches, ClientRegistry};
use crate::dev::oauth::{TokenIssuer, TOKEN_TTL_SECS};

/// API Gateway's own payload limit; the functions enforce their tighter per-route limits.
pub const GATEWAY_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

pub struct DevApi {
    /// Each route runs its own function's handler with that function's state (identity).
    pub functions: Arc<crate::dev::functions::Functions>,
    pub issuer: TokenIssuer,
    pub clients: ClientRegistry,
    /// The API's OpenAPI document, with this stack's URLs (see [`super::openapi`]).
    pub openapi: serde_json::Value,
}

pub fn router(api: Arc<DevApi>) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/oauth2/token", post(token))
        .route("/.well-known/jwks.json", get(jwks))
        .route(
            "/openapi.json",
            get(|State(api): State<Arc<DevApi>>| async move { Json(api.openapi.clone()) }),
        )
        .route(
            "/docs",
            get(|State(api): State<Arc<DevApi>>| async move {
                axum::response::Html(super::reference::render(&api.openapi))
            }),
        )
        .fallback(invoke_to_the_end)
        .layer(DefaultBodyLimit::max(GATEWAY_MAX_BODY_BYTES + 1))
        .layer(axum::middleware::map_response(
            framework_errors_in_api_shape,
        ))
        .with_state(api)
}

/// The HTTP layer's own refusals (a wrong method on /health or /oauth2/token, an oversized
/// or unreadable body) carry the API's error body too, as API Gateway's gateway responses do
/// (template.yaml). Hyper answers a few things before any of this runs (431 for oversized
/// headers, 414, a request that is not HTTP at all); those keep its empty body.
async fn framework_errors_in_api_shape(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ("METHOD_NOT_ALLOWED", "this path does not take this method")
        }
        StatusCode::NOT_FOUND => ("NOT_FOUND", "no such route"),
        StatusCode::PAYLOAD_TOO_LARGE => ("PAYLOAD_TOO_LARGE", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "UNSUPPORTED_MEDIA_TYPE",
            "the request body's Content-Type is not accepted here",
        ),
        s if s.is_client_error() => ("VALIDATION_ERROR", "the request could not be read"),
        _ => ("INTERNAL", "internal error"),
    };
    let allow = response.headers().get(axum::http::header::ALLOW).cloned();
    let body = json!({"error": {
        "code": code,
        "message": message,
        "requestId": uuid::Uuid::new_v4().to_string(),
    }});
    let mut replaced = (status, Json(body)).into_response();
    if let Some(allow) = allow {
        replaced
            .headers_mut()
            .insert(axum::http::header::ALLOW, allow);
    }
    replaced
}

/// Cognito's app client ids are 26 characters; anything far longer, or not made of letters,
/// digits, '-' and '_', is no client of ours and is refused before any lookup.
const MAX_CLIENT_ID_CHARS: usize = 128;
/// Generated secrets are 51 characters (Cognito) or 48 (local); bounded likewise.
const MAX_CLIENT_SECRET_CHARS: usize = 512;

fn plausible_credentials(client_id: &str, secret: &str) -> bool {
    !client_id.is_empty()
        && client_id.len() <= MAX_CLIENT_ID_CHARS
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && secret.len() <= MAX_CLIENT_SECRET_CHARS
}

async fn jwks(State(api): State<Arc<DevApi>>) -> Json<serde_json::Value> {
    Json(api.issuer.jwks())
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"error": error}))).into_response()
}

/// `POST /oauth2/token`, client_credentials only, answering like Cognito's token endpoint.
async fn token(State(api): State<Arc<DevApi>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(id, secret)| (id.to_string(), secret.to_string()))
        });
    let credentials = basic.or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    });
    let Some((client_id, secret)) =
        credentials.filter(|(id, secret)| plausible_credentials(id, secret))
    else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    let client = match api.clients.find(&client_id).await {
        Ok(Some(client)) if secret_matches(&client, &secret) => client,
        Ok(_) => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client"),
        Err(e) => {
            tracing::error!(error = %e, "client lookup failed");
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
        }
    };
    let scopes = match form
        .get("scope")
        .map(|s| s.split_whitespace().collect::<Vec<_>>())
    {
        None => client.allowed_scopes.clone(),
        Some(requested) => {
            let mut granted = Vec::new();
            for name in requested {
                match Scope::parse(name).filter(|s| {
                    name.starts_with("ledgerdock/") && client.allowed_scopes.contains(s)
                }) {
                    Some(scope) => granted.push(scope),
                    None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope"),
                }
            }
            granted
        }
    };
    match api.issuer.issue(&client.client_id, &scopes) {
        Ok(access_token) => Json(json!({
            "access_token": access_token,
            "expires_in": TOKEN_TTL_SECS,
            "token_type": "Bearer",
        }))
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "token signing failed");
            oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
    }
}

/// Matches `path` against a route template, returning its path parameters as they appear in
/// the URL (percent-encoded).
fn match_path(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    let mut want = template.trim_end_matches('/').split('/');
    let mut got = path.trim_end_matches('/').split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            // Handed on still percent-encoded, as a REST API does; the function decodes.
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') && !g.is_empty() => {
                params.insert(w[1..w.len() - 1].to_string(), g.to_string());
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

/// The route for `method` on `path`, found as API Gateway finds it: first the resource (the
/// path template matching `path`, literal segments beating parameters, so `/exportable` and
/// `/complete` win over `/{invoiceId}`), then the method on that resource. `Err` holds the
/// methods the resource takes (empty when no resource matches).
fn find_route(
    method: &str,
    path: &str,
) -> Result<(&'static Route, HashMap<String, String>), Vec<&'static str>> {
    let resource = ROUTES
        .iter()
        .filter_map(|r| match_path(r.path, path).map(|p| (r.path, p)))
        .min_by_key(|(_, params)| params.len());
    let Some((template, params)) = resource else {
        return Err(Vec::new());
    };
    let on_resource = ROUTES.iter().filter(|r| r.path == template);
    match on_resource.clone().find(|r| r.method == method) {
        Some(route) => Ok((route, params)),
        None => Err(on_resource.map(|r| r.method).collect()),
    }
}

/// A known path asked with a method it does not take: 405 with `Allow`, as HTTP says. (API
/// Gateway answers this with its MISSING_AUTHENTICATION_TOKEN response instead, which
/// template.yaml shapes as a 404 NOT_FOUND; see docs/operations.md, "Limits".)
fn method_not_allowed(method: &str, path: &str, allowed: &[&str]) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let allow = allowed.join(", ");
    let body = json!({"error": {
        "code": "METHOD_NOT_ALLOWED",
        "message": format!("{path} does not take {method}; it takes {allow}"),
        "requestId": request_id,
    }});
    let mut response = (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = axum::http::HeaderValue::from_str(&allow) {
        headers.insert(axum::http::header::ALLOW, value);
    }
    if let Ok(value) = axum::http::HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", value);
    }
    response
}

fn error_response(error: ApiError) -> Response {
    to_axum(error.into_response(&uuid::Uuid::new_v4().to_string()))
}

fn to_axum(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(text) => text.into_bytes(),
        lambda_http::Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// What API Gateway does for each API request: find the route, run the authorizer, then invoke
/// the function with a REST (payload v1) request context carrying the token's claims.
/// Runs [`gateway`] to its end even if the caller hangs up, as Lambda does: API Gateway has
/// read the whole request before it invokes the function, and an invocation is not cancelled
/// when the client goes away. (Left to hyper, a dropped connection would drop the handler at
/// its next await, possibly between a write and what follows it, which AWS never does.)
async fn invoke_to_the_end(state: State<Arc<DevApi>>, req: AxumRequest) -> Response {
    tokio::spawn(gateway(state, req)).await.unwrap_or_else(|e| {
        error_response(ApiError::internal(format!("the handler panicked: {e}")))
    })
}

async fn gateway(State(api): State<Arc<DevApi>>, req: AxumRequest) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let (route, path_params) = match find_route(&method, &path) {
        Ok(found) => found,
        Err(allowed) if !allowed.is_empty() => return method_not_allowed(&method, &path, &allowed),
        Err(_) => {
            return error_response(ApiError::not_found(format!("no route for {method} {path}")))
        }
    };
    let token = ledgerdock_shared::gate::Caller::bearer(req.headers()).map(str::to_string);
    let Some(token) = token else {
        return error_response(ApiError::Unauthenticated(
            "an Authorization: Bearer <access token> header is required".into(),
        ));
    };
    let claims = match api.issuer.verify(&token) {
        Ok(claims) => claims,
        Err(e) => {
            return error_response(ApiError::Unauthenticated(format!(
                "{e}; request a new access token"
            )))
        }
    };
    // As API Gateway's Cognito authorizer: the token must carry one of the route's scopes.
    let names: Vec<String> = route.scopes.iter().map(|s| s.oauth_name()).collect();
    if !claims
        .scope
        .split_whitespace()
        .any(|s| names.iter().any(|name| name == s))
    {
        return error_response(ApiError::Forbidden(format!(
            "the access token lacks the scope {}",
            names.join(" or ")
        )));
    }

    let request_id = uuid::Uuid::new_v4().to_string();
    let query: HashMap<String, Vec<String>> =
        form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .fold(HashMap::new(), |mut map, (k, v)| {
                map.entry(k).or_insert_with(Vec::new).push(v);
                map
            });
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, GATEWAY_MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return error_response(ApiError::PayloadTooLarge(format!(
                "the request body exceeds the gateway limit of {GATEWAY_MAX_BODY_BYTES} bytes"
            )))
        }
    };

    let mut context = ApiGatewayProxyRequestContext::default();
    context.request_id = Some(request_id);
    context.stage = Some("local".into());
    context.resource_path = Some(route.path.into());
    context.path = Some(path.clone());
    context.http_method = parts.method.clone();
    context.authorizer.fields.insert(
        "claims".into(),
        json!({
            "sub": claims.sub,
            "client_id": claims.client_id,
            "token_use": claims.token_use,
            "scope": claims.scope,
            "iss": claims.iss,
            "exp": claims.exp.to_string(),
            "iat": claims.iat.to_string(),
            "jti": claims.jti,
        }),
    );
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Binary(bytes.to_vec())
    };
    let lambda_request = lambda_http::Request::from_parts(parts, body)
        .with_request_context(RequestContext::ApiGatewayV1(context))
        .with_path_parameters(QueryMap::from(path_params))
        .with_query_string_parameters(QueryMap::from(query))
        .with_raw_http_path(path);
    to_axum(
        ledgerdock_shared::gate::serve(&api.functions.of(route.function), route, lambda_request)
            .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_win_over_parameters() {
        let (route, params) = find_route("GET", "/v1/invoices/exportable").unwrap();
        assert_eq!(route.function, "list-exportable-invoices");
        assert!(params.is_empty());
        let (route, params) = find_route("GET", "/v1/invoices/abc/download-url").unwrap();
        assert_eq!(route.function, "get-invoice-download-url");
        assert_eq!(params["invoiceId"], "abc");
        let (_, params) = find_route("GET", "/v1/suppliers/ACME%202").unwrap();
        assert_eq!(
            params["externalId"], "ACME%202",
            "handed on encoded, as API Gateway does"
        );
        let (route, _) = find_route("POST", "/v1/invoices/complete").unwrap();
        assert_eq!(route.function, "bulk-complete-invoice-exports");
        // The resource is found first, as in API Gateway: `complete` is no invoice id.
        assert_eq!(
            find_route("GET", "/v1/invoices/complete").err().unwrap(),
            ["POST"]
        );
        assert_eq!(
            find_route("DELETE", "/v1/invoices/abc").err().unwrap(),
            ["GET"]
        );
        assert!(find_route("GET", "/v1/nothing").err().unwrap().is_empty());
    }
}
