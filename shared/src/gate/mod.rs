//! The gate: how an API request is admitted before its handler runs. Identity from the token
//! (claims from API Gateway's Cognito authorizer, or a bearer token verified here under `sam
//! local`), one count against the client's rate limit, the route's scope, the company header
//! and the client's grant for that company. A handler only ever sees a [`Tenant`] that passed.
//!
//! [`Route`] is what one Lambda function serves: each handler module declares its `ROUTE`,
//! and `handlers::ROUTES` lists them for the dev stack and the template test.

pub mod caller;
pub mod rate;

use std::future::Future;
use std::pin::Pin;

use lambda_http::{Body, Request, Response};

pub use caller::{company_from_headers, Caller, Tenant, COMPANY_HEADER};
pub use rate::RateStatus;

use crate::app::AppState;
use crate::domain::Scope;
use crate::foundation::error::ApiError;

/// What a handler's work returns, boxed so a [`Route`] can hold any handler.
pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send + 'a>>;
/// A handler: the work of one route, for a tenant the gate admitted.
pub type Handler = for<'a> fn(&'a AppState, Tenant, Request) -> HandlerFuture<'a>;

/// A public API route: the function that serves it, the scope its authorizer demands, and
/// the handler that does its work.
pub struct Route {
    /// The Lambda function (and functions/ crate) name.
    pub function: &'static str,
    pub method: &'static str,
    /// API Gateway resource path, with `{param}` segments.
    pub path: &'static str,
    /// The scopes that admit a request: the token must carry one of them, as API Gateway's
    /// `AuthorizationScopes` demands, and the client's grant for the company must hold one
    /// the token carries.
    pub scopes: &'static [Scope],
    /// Whether it answers in pages (and so needs the continuation-key secret).
    pub pages: bool,
    /// The query parameters it takes; any other is a 400 naming it (a mistyped `limt=5` is
    /// not silently ignored).
    pub query: &'static [&'static str],
    pub run: Handler,
}

impl Route {
    /// Whether this is the route of the function (crate) `name`. A `const fn`, so each
    /// function's `main` proves when it compiles that it serves its own route.
    pub const fn is_function(&self, name: &str) -> bool {
        let (a, b) = (self.function.as_bytes(), name.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
}

/// Serves one API request of `route`: identifies the caller from the token (401), counts
/// the request against the client's rate limit (429), checks the route's scope in the token
/// (403), the company header (400) and the client's grant for that company and scope (403),
/// runs the route's handler for the admitted tenant, and puts the rate-limit headers on
/// whatever the answer is.
///
/// The count is one UpdateItem that holds the limit across every container; it never runs
/// before the request's own work. A read (GET) runs in full alongside it and its answer is
/// replaced by the 429 if the client is over the limit (it changed nothing). A write waits
/// for the count before it changes anything, while the count overlaps its grant lookup.
pub async fn serve(state: &AppState, route: &'static Route, req: Request) -> Response<Body> {
    crate::edge::serve(req, |req| async move {
        let caller = match caller(state, &req).await {
            Ok(caller) => caller,
            Err(e) => return (Err(e), http::HeaderMap::new()),
        };
        tracing::Span::current().record("clientId", caller.client_id.as_str());
        let counting = count(state, &caller.client_id, route);
        let (rate, result) = if route.method == "GET" {
            let work = async {
                let tenant = check(state, &caller, route.scopes, &req).await?;
                crate::edge::known_query(&req, route.query)?;
                (route.run)(state, tenant, req).await
            };
            tokio::join!(counting, work)
        } else {
            let (rate, checked) = tokio::join!(counting, check(state, &caller, route.scopes, &req));
            let result = match (&rate, checked) {
                (Ok(rate), Ok(tenant)) if !rate.exceeded() => {
                    match crate::edge::known_query(&req, route.query) {
                        Ok(()) => (route.run)(state, tenant, req).await,
                        Err(e) => Err(e),
                    }
                }
                (_, Err(e)) => Err(e),
                // Over the limit, or not counted: answered below, nothing done.
                (_, Ok(_)) => Ok(Response::default()),
            };
            (rate, result)
        };
        match rate {
            Ok(rate) if rate.exceeded() => (
                Err(ApiError::RateLimited {
                    message: format!(
                        "this client may make {} requests a minute; try again in {} s",
                        rate.limit, rate.reset_secs
                    ),
                    retry_after_secs: rate.reset_secs,
                }),
                rate.headers(),
            ),
            Ok(rate) => (result, rate.headers()),
            Err(e) => (Err(e), http::HeaderMap::new()),
        }
    })
    .await
}

/// Who is calling: from the authorizer's claims, or, where an event has none and this
/// container is configured with a JWKS (`sam local` only), from the bearer token verified
/// here with the same verifier the dev stack's authorizer uses. In AWS a claim-less event
/// is a 401.
async fn caller(state: &AppState, req: &Request) -> Result<Caller, ApiError> {
    match &state.tokens {
        Some(tokens) if !Caller::has_claims(req) => {
            let token = Caller::bearer(req.headers()).ok_or_else(|| {
                ApiError::Unauthenticated(
                    "an Authorization: Bearer <access token> header is required".into(),
                )
            })?;
            Ok(Caller::from_claims(&tokens.verify(token).await?))
        }
        _ => Caller::from_request(req),
    }
}

/// Counts one request of the client and says where it stands in the current minute.
async fn count(state: &AppState, client_id: &str, route: &Route) -> Result<RateStatus, ApiError> {
    let (counted, limit) = tokio::join!(
        state
            .clients
            .record_request(client_id, route.function, chrono::Utc::now()),
        state.clients.rate_limit(client_id),
    );
    let (used, reset_secs) = counted?;
    Ok(RateStatus {
        limit: limit?,
        used,
        reset_secs,
    })
}

/// One of the route's scopes in the token, a well-formed company header, and a grant of that
/// company to this client holding one of them the token carries (one GetItem, cached per warm
/// container).
async fn check(
    state: &AppState,
    caller: &Caller,
    scopes: &[Scope],
    req: &Request,
) -> Result<Tenant, ApiError> {
    let carried = caller.require_one_of(scopes)?;
    let company = company_from_headers(req.headers())?;
    tracing::Span::current().record("companyId", tracing::field::display(company));
    match state.grants.scopes(&caller.client_id, company).await? {
        Some(granted) if carried.iter().any(|s| granted.contains(s)) => Ok(Tenant {
            company,
            client_id: caller.client_id.clone(),
            admitted: carried
                .into_iter()
                .filter(|s| granted.contains(s))
                .collect(),
            granted,
        }),
        Some(_) => Err(ApiError::Forbidden(format!(
            "this client's grant for company {company} does not include {}",
            names(&carried)
        ))),
        None => Err(ApiError::Forbidden(format!(
            "this client is not granted access to company {company}"
        ))),
    }
}

/// `a`, or `a or b`: the OAuth names of `scopes`.
fn names(scopes: &[Scope]) -> String {
    let names: Vec<String> = scopes.iter().map(|s| s.oauth_name()).collect();
    names.join(" or ")
}
