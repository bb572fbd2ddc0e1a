//! Who is calling and what they may do.
//!
//! API Gateway's Cognito authorizer (or the dev stack's stand-in) has already verified the token;
//! its claims arrive in the request context. Here we read the client id and scopes from them,
//! check the route's scope again (defence in depth), and check the client's grant for the
//! company named in `Lightyear-Company-ID`.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::domain::{CompanyId, Scope};
use crate::foundation::error::ApiError;

/// The tenant header every company-scoped call carries.
pub const COMPANY_HEADER: &str = "Lightyear-Company-ID";

/// The authenticated machine client behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub client_id: String,
    pub scopes: Vec<Scope>,
}

impl Caller {
    /// Whether the request carries authorizer claims at all (it does not under `sam local`,
    /// which runs no authorizer).
    pub fn has_claims(req: &Request) -> bool {
        matches!(
            req.request_context_ref(),
            Some(RequestContext::ApiGatewayV1(ctx)) if ctx.authorizer.fields.contains_key("claims")
        )
    }

    /// The caller of a verified token.
    pub fn from_claims(claims: &crate::edge::token::Claims) -> Self {
        Self {
            client_id: claims.client_id.clone(),
            scopes: claims
                .scope
                .split_whitespace()
                .filter_map(Scope::parse)
                .collect(),
        }
    }

    /// The `Authorization: Bearer <token>` of a request's headers (the dev router reads it
    /// the same way).
    pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
        let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// Reads the authorizer claims of a REST API (payload v1) request:
    /// `requestContext.authorizer.claims.{client_id, scope}`.
    pub fn from_request(req: &Request) -> Result<Self, ApiError> {
        let unauthenticated =
            || ApiError::Unauthenticated("a valid bearer access token is required".into());
        let claims = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(ctx)) => ctx.authorizer.fields.get("claims").cloned(),
            _ => None,
        }
        .ok_or_else(unauthenticated)?;
        // The authorizer sometimes hands claims over as a JSON string rather than an object.
        let claims = match claims {
            serde_json::Value::String(s) => {
                serde_json::from_str(&s).map_err(|_| unauthenticated())?
            }
            other => other,
        };
        let client_id = claims
            .get("client_id")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(unauthenticated)?
            .to_string();
        let scopes = claims
            .get("scope")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(Scope::parse)
            .collect();
        Ok(Self { client_id, scopes })
    }

    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        self.require_one_of(&[scope]).map(|_| ())
    }

    /// Those of `scopes` the token carries; a 403 naming them when it carries none.
    pub fn require_one_of(&self, scopes: &[Scope]) -> Result<Vec<Scope>, ApiError> {
        let carried: Vec<Scope> = scopes
            .iter()
            .copied()
            .filter(|s| self.scopes.contains(s))
            .collect();
        if carried.is_empty() {
            let names: Vec<String> = scopes.iter().map(|s| s.oauth_name()).collect();
            return Err(ApiError::Forbidden(format!(
                "the access token lacks the scope {}",
                names.join(" or ")
            )));
        }
        Ok(carried)
    }
}

/// Reads and validates `Lightyear-Company-ID`.
pub fn company_from_headers(headers: &http::HeaderMap) -> Result<CompanyId, ApiError> {
    let raw = headers
        .get(COMPANY_HEADER)
        .ok_or_else(|| ApiError::field(COMPANY_HEADER, "header is required"))?
        .to_str()
        .map_err(|_| ApiError::field(COMPANY_HEADER, "must be a UUID"))?;
    raw.trim()
        .parse()
        .map_err(|e: String| ApiError::field(COMPANY_HEADER, e))
}

/// A request that passed every check: this client may act for this company with this scope.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub company: CompanyId,
    pub client_id: String,
    /// Every scope the client's grant for `company` holds (the route's among them): what it
    /// may be told later, by a webhook, as well as what it may do now.
    pub granted: Vec<crate::domain::Scope>,
    /// The route's scopes this request is admitted by: carried by its token and held by the
    /// grant. Most routes have one; the event feed shows an event type only to a request
    /// admitted by that type's read scope, so a token narrowed to one scope reads only its own.
    pub admitted: Vec<crate::domain::Scope>,
}

impl Tenant {
    /// This tenant's client acting in `req`.
    pub fn acting_in(&self, req: &Request) -> crate::domain::Actor {
        crate::domain::Actor {
            client_id: self.client_id.clone(),
            request_id: crate::edge::request_id(req),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
    use serde_json::json;

    fn request_with_claims(claims: serde_json::Value) -> Request {
        let mut ctx = ApiGatewayProxyRequestContext::default();
        ctx.authorizer.fields.insert("claims".into(), claims);
        Request::default().with_request_context(RequestContext::ApiGatewayV1(ctx))
    }

    #[test]
    fn reads_client_and_scopes_from_claims() {
        let req = request_with_claims(
            json!({"client_id": "c1", "scope": "ledgerdock/invoices.read other/x"}),
        );
        let caller = Caller::from_request(&req).unwrap();
        assert_eq!(caller.client_id, "c1");
        assert_eq!(caller.scopes, vec![Scope::InvoicesRead]);
        assert!(caller.require(Scope::InvoicesRead).is_ok());
        assert!(matches!(
            caller.require(Scope::InvoicesWrite),
            Err(ApiError::Forbidden(_))
        ));
    }

    #[test]
    fn a_route_of_several_scopes_admits_a_token_carrying_any_one_and_names_them_all_otherwise() {
        let req =
            request_with_claims(json!({"client_id": "c1", "scope": "ledgerdock/imports.read"}));
        let caller = Caller::from_request(&req).unwrap();
        let either = [Scope::InvoicesRead, Scope::ImportsRead];
        assert_eq!(
            caller.require_one_of(&either).unwrap(),
            [Scope::ImportsRead]
        );
        match caller.require_one_of(&[Scope::InvoicesRead, Scope::WebhooksManage]) {
            Err(ApiError::Forbidden(message)) => {
                assert!(
                    message.contains("ledgerdock/invoices.read or ledgerdock/webhooks.manage"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_claims_are_unauthenticated() {
        assert!(matches!(
            Caller::from_request(&Request::default()),
            Err(ApiError::Unauthenticated(_))
        ));
        let req = request_with_claims(json!({"scope": "ledgerdock/invoices.read"}));
        assert!(matches!(
            Caller::from_request(&req),
            Err(ApiError::Unauthenticated(_))
        ));
    }

    #[test]
    fn company_header_must_be_a_uuid() {
        let mut headers = http::HeaderMap::new();
        assert!(company_from_headers(&headers).is_err());
        headers.insert(COMPANY_HEADER, "not-a-uuid".parse().unwrap());
        assert!(company_from_headers(&headers).is_err());
        headers.insert(
            COMPANY_HEADER,
            "3f2b8c1e-5d6a-4f7b-9c0d-1e2f3a4b5c6d".parse().unwrap(),
        );
        assert!(company_from_headers(&headers).is_ok());
    }
}
