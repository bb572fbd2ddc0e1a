//! The HTTP edge shared by every function: request ids, query/path/body parsing with limits,
//! and JSON responses. Nothing a client sends can panic here; everything becomes an `ApiError`.
//! Beside it: [`token`] (verifying access tokens), [`continuation`] (continuation keys) and
//! [`config`] (settings read from the environment).

pub mod config;
pub mod continuation;
pub mod token;

use std::future::Future;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use crate::foundation::error::ApiError;

/// Largest JSON body the invoice endpoints accept.
pub const MAX_JSON_BODY_BYTES: usize = 1024 * 1024;

/// The request id API Gateway assigned (or the Lambda invocation id, or a fresh one).
pub fn request_id(req: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV1(ctx)) = req.request_context_ref() {
        if let Some(id) = ctx.request_id.as_deref().filter(|id| !id.is_empty()) {
            return id.to_string();
        }
    }
    if let Some(ctx) = req.lambda_context_ref() {
        if !ctx.request_id.is_empty() {
            return ctx.request_id.clone();
        }
    }
    uuid::Uuid::new_v4().to_string()
}

/// Runs one request inside a span carrying requestId (companyId and clientId are recorded once
/// known) and turns its result into a response. `run` answers the result and the headers to
/// add to whatever response it becomes (the rate-limit headers, on errors too). The gate runs
/// every API request through here.
pub async fn serve<F, Fut>(req: Request, run: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = (Result<Response<Body>, ApiError>, http::HeaderMap)>,
{
    let request_id = request_id(&req);
    let span = tracing::info_span!(
        "request",
        requestId = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
        companyId = tracing::field::Empty,
        clientId = tracing::field::Empty,
    );
    async move {
        let (result, headers) = run(req).await;
        let mut response = match result {
            Ok(response) => response,
            Err(error) => error.into_response(&request_id),
        };
        response.headers_mut().extend(headers);
        if let Ok(value) = http::HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        tracing::info!(status = response.status().as_u16(), "request served");
        response
    }
    .instrument(span)
    .await
}

/// The answer of a call that makes something: `status` (201, or 202 for work begun) with what
/// it made, its `Location`, and `Idempotent-Replayed: true` when a repeated Idempotency-Key
/// answered with what the first request made.
pub fn made<T: Serialize>(
    status: http::StatusCode,
    value: &T,
    location: &str,
    replayed: bool,
) -> Result<Response<Body>, ApiError> {
    let mut response = json(status, value)?;
    let headers = response.headers_mut();
    if let Ok(location) = location.parse() {
        headers.insert(http::header::LOCATION, location);
    }
    if replayed {
        headers.insert(
            "idempotent-replayed",
            http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

pub fn json<T: Serialize>(status: http::StatusCode, value: &T) -> Result<Response<Body>, ApiError> {
    let body = serde_json::to_string(value).map_err(ApiError::internal)?;
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .map_err(ApiError::internal)
}

pub fn ok<T: Serialize>(value: &T) -> Result<Response<Body>, ApiError> {
    json(http::StatusCode::OK, value)
}

/// The first value of a query parameter.
pub fn query(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_string)
}

/// A path parameter parsed into a domain type; a malformed one is a 400 naming it.
///
/// A REST API hands `pathParameters` to the function still percent-encoded (`ACME%202` for
/// the supplier `ACME 2`), so they are decoded here, exactly once: `ACME%25202` is the
/// supplier `ACME%202`. Bytes that do not decode to UTF-8 are a 400 too.
pub fn path_param<T: std::str::FromStr<Err = String>>(
    req: &Request,
    name: &str,
) -> Result<T, ApiError> {
    let raw = req
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .ok_or_else(|| ApiError::field(name, "path parameter is required"))?;
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| ApiError::field(name, "must be percent-encoded UTF-8"))?;
    decoded
        .parse()
        .map_err(|e: String| ApiError::field(name, e))
}

/// Refuses a query parameter the operation does not take, naming it and the ones it does, and
/// one given more than once (`?limit=5&limit=500`): which of them was meant is not ours to
/// guess, and every operation takes each of its parameters once.
pub fn known_query(req: &Request, allowed: &[&str]) -> Result<(), ApiError> {
    let Some(query) = req.query_string_parameters_ref() else {
        return Ok(());
    };
    if let Some((unknown, _)) = query.iter().find(|(name, _)| !allowed.contains(name)) {
        let takes = if allowed.is_empty() {
            "this operation takes no query parameters".to_string()
        } else {
            format!("this operation takes {}", allowed.join(", "))
        };
        return Err(ApiError::field(
            unknown,
            format!("is not a query parameter of this operation; {takes}"),
        ));
    }
    for &name in allowed {
        let given = query.all(name).map_or(0, |values| values.len());
        if given > 1 {
            return Err(ApiError::field(
                name,
                format!("is given {given} times; give it once"),
            ));
        }
    }
    Ok(())
}

/// Default and largest page size of every list call.
pub const DEFAULT_PAGE_LIMIT: usize = 100;
pub const MAX_PAGE_LIMIT: usize = 200;

/// The `limit` query parameter of a list call: 1 to [`MAX_PAGE_LIMIT`], default
/// [`DEFAULT_PAGE_LIMIT`].
pub fn page_limit(req: &Request) -> Result<usize, ApiError> {
    limit_between(req, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT)
}

/// The `limit` query parameter: 1 to `max`, `default` when absent.
pub fn limit_between(req: &Request, default: usize, max: usize) -> Result<usize, ApiError> {
    let Some(raw) = query(req, "limit") else {
        return Ok(default);
    };
    // Digits only: `parse` alone would also take "+5", and a value with spaces or control
    // characters around it is a client's bug to be told of, not guessed at.
    let digits = raw.bytes().all(|b| b.is_ascii_digit());
    match raw.parse::<usize>() {
        Ok(n) if digits && (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::field(
            "limit",
            format!("must be a whole number from 1 to {max}, got {raw:?}"),
        )),
    }
}

/// The Content-Type header's value, or "" when absent or not text.
pub fn content_type(req: &Request) -> &str {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Parses a JSON body into `T`, enforcing size and media type and naming the offending field.
/// With `empty_is_object`, an absent body means `{}` (for calls whose fields are all optional).
pub fn json_body<T: DeserializeOwned>(req: &Request, empty_is_object: bool) -> Result<T, ApiError> {
    json_body_up_to(req, empty_is_object, MAX_JSON_BODY_BYTES, "")
}

/// [`json_body`] with its own size limit and a hint appended to the 413 message.
pub fn json_body_up_to<T: DeserializeOwned>(
    req: &Request,
    empty_is_object: bool,
    max_bytes: usize,
    too_large_hint: &str,
) -> Result<T, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > max_bytes {
        return Err(ApiError::PayloadTooLarge(format!(
            "the request body is {} bytes; the limit is {max_bytes} bytes{too_large_hint}",
            bytes.len()
        )));
    }
    let is_blank = bytes.iter().all(u8::is_ascii_whitespace);
    if is_blank && empty_is_object {
        return deserialize(b"{}");
    }
    let content_type = content_type(req);
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type must be application/json, not {:?}",
            if content_type.is_empty() {
                "(none)"
            } else {
                content_type
            }
        )));
    }
    if is_blank {
        return Err(ApiError::field("body", "a JSON object is required"));
    }
    deserialize(bytes)
}

/// What a JSON text is at its top level, from its first significant byte.
fn json_kind(bytes: &[u8]) -> &'static str {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number or not JSON",
    }
}

/// Parses a request body that must be a JSON object. serde would also fill a struct from a
/// positional array (`["reason", "CODE"]`), which no client means: only objects get through.
fn deserialize<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let kind = json_kind(bytes);
    if kind != "an object" {
        // Broken JSON still gets the parser's own account of where it broke.
        if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
            return Err(ApiError::field(
                "body",
                format!("must be a JSON object, not {kind}"),
            ));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = describe_json_error(&inner);
        // serde_path_to_error already names an unknown field by its own path.
        // Broken JSON is the body's fault, wherever the parser happened to be.
        let broken = inner.is_syntax() || inner.is_eof();
        let top = matches!(path.as_str(), "." | "?" | "");
        // A required field left out is named itself, where the object that lacks it is.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'));
        let field = match missing {
            Some(name) if !broken && top => name.to_string(),
            Some(name) if !broken => format!("{path}.{name}"),
            _ if broken || top => "body".to_string(),
            _ => path,
        };
        ApiError::field(field, message)
    })?;
    de.end()
        .map_err(|e| ApiError::field("body", describe_json_error(&e)))?;
    Ok(value)
}

/// serde's messages, minus the line/column noise that means nothing to most clients and
/// minus the Rust type names, which mean nothing to any.
pub fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let text = without_type_names(&text);
    if e.is_syntax() || e.is_eof() {
        format!(
            "malformed JSON ({text}, line {} column {})",
            e.line(),
            e.column()
        )
    } else {
        text
    }
}

/// Rewrites serde's "expected struct Foo" / "expected enum Bar" into the JSON a client knows.
pub fn without_type_names(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("expected ") {
        let (head, tail) = rest.split_at(at + "expected ".len());
        out.push_str(head);
        let (kind, after) = if let Some(after) = tail.strip_prefix("struct variant ") {
            ("a JSON object", after)
        } else if let Some(after) = tail.strip_prefix("tuple struct ") {
            ("a JSON array", after)
        } else if let Some(after) = tail.strip_prefix("unit struct ") {
            ("null", after)
        } else if let Some(after) = tail.strip_prefix("struct ") {
            ("a JSON object", after)
        } else if let Some(after) = tail.strip_prefix("enum ") {
            ("one of the documented values", after)
        } else {
            rest = tail;
            continue;
        };
        out.push_str(kind);
        // Drop the type's name: an identifier, possibly with generics or a path.
        let name_len = after
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | ':' | '<' | '>')))
            .unwrap_or(after.len());
        rest = &after[name_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body1 {
        reason: String,
    }

    fn req(content_type: Option<&str>, body: &str) -> Request {
        let mut b = http::Request::builder();
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        b.body(Body::Text(body.to_string())).unwrap()
    }

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::Validation { details, .. } => details[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_the_field_with_the_wrong_type() {
        let e = json_body::<Body1>(&req(Some("application/json"), r#"{"reason": 5}"#), false)
            .unwrap_err();
        assert_eq!(field_of(e), "reason");
    }

    #[test]
    fn malformed_json_and_unknown_fields_are_validation_errors() {
        let e = json_body::<Body1>(&req(Some("application/json"), "{"), false).unwrap_err();
        assert_eq!(field_of(e), "body");
        let e = json_body::<Body1>(
            &req(Some("application/json"), r#"{"reason":"x","extra":1}"#),
            false,
        )
        .unwrap_err();
        assert_eq!(field_of(e), "extra");
        let e = json_body::<Body1>(&req(Some("application/json"), "\"text\""), false).unwrap_err();
        assert_eq!(field_of(e), "body");
    }

    #[test]
    fn only_objects_are_bodies_and_no_type_name_leaks() {
        for (body, kind) in [
            ("[]", "an array"),
            (r#"["reason"]"#, "an array"),
            ("  true", "a boolean"),
            ("null", "null"),
            ("12", "a number"),
        ] {
            let e = json_body::<Body1>(&req(Some("application/json"), body), false).unwrap_err();
            let ApiError::Validation { details, .. } = e else {
                panic!("{body}: not a validation error");
            };
            assert_eq!(details[0].field, "body", "{body}");
            assert!(details[0].message.contains(kind), "{body}: {details:?}");
            assert!(!details[0].message.contains("Body1"), "{details:?}");
        }
        assert_eq!(
            without_type_names("invalid type: string \"x\", expected struct Supplier"),
            "invalid type: string \"x\", expected a JSON object"
        );
        assert_eq!(
            without_type_names("unknown variant `X`, expected enum DocumentType or so"),
            "unknown variant `X`, expected one of the documented values or so"
        );
        assert_eq!(
            without_type_names("expected `,` or `}`"),
            "expected `,` or `}`"
        );
    }

    #[test]
    fn page_limit_bounds() {
        let with = |limit: Option<&str>| {
            let req = req(None, "");
            match limit {
                None => req,
                Some(v) => req.with_query_string_parameters(std::collections::HashMap::from([(
                    "limit".to_string(),
                    v.to_string(),
                )])),
            }
        };
        assert_eq!(page_limit(&with(None)).unwrap(), 100);
        assert_eq!(page_limit(&with(Some("1"))).unwrap(), 1);
        assert_eq!(page_limit(&with(Some("200"))).unwrap(), 200);
        for bad in ["0", "201", "-1", "abc", "", "1.5", "+5", " 5", "\r1", "5\n"] {
            assert!(page_limit(&with(Some(bad))).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_query_parameter_given_twice_or_unknown_is_named() {
        let with = |pairs: &[(&str, &str)]| {
            let mut map: std::collections::HashMap<String, Vec<String>> = Default::default();
            for (name, value) in pairs {
                map.entry(name.to_string())
                    .or_default()
                    .push(value.to_string());
            }
            req(None, "").with_query_string_parameters(map)
        };
        let allowed = ["limit", "continuationKey"];
        assert!(known_query(&with(&[("limit", "5")]), &allowed).is_ok());
        assert!(known_query(&with(&[]), &allowed).is_ok());
        let twice = known_query(&with(&[("limit", "5"), ("limit", "500")]), &allowed).unwrap_err();
        assert_eq!(twice.status(), 400);
        assert_eq!(field_of(twice), "limit");
        let unknown = known_query(&with(&[("page", "2")]), &allowed).unwrap_err();
        assert_eq!(field_of(unknown), "page");
    }

    #[test]
    fn wrong_media_type_and_oversize() {
        let e = json_body::<Body1>(&req(Some("text/plain"), "{}"), false).unwrap_err();
        assert_eq!(e.status(), 415);
        let big = "x".repeat(MAX_JSON_BODY_BYTES + 1);
        let e = json_body::<Body1>(&req(Some("application/json"), &big), false).unwrap_err();
        assert_eq!(e.status(), 413);
        assert!(json_body::<Body1>(
            &req(Some("application/json; charset=utf-8"), r#"{"reason":"r"}"#),
            false
        )
        .is_ok());
    }
}
