//! Everything a function needs, built once per container (SDK config, clients, keys) and
//! borrowed by every request.

use std::future::Future;

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_http::{Body, Request, Response};

use crate::auth::{company_from_headers, Caller, Tenant};
use crate::config::Config;
use crate::domain::Scope;
use crate::error::ApiError;
use crate::handlers::Route;
use crate::pagination::ContinuationKeys;
use crate::store::clients::{ClientStore, RateStatus};
use crate::store::documents::DocumentStore;
use crate::store::grants::GrantStore;
use crate::store::import_files::ImportFiles;
use crate::store::import_jobs::ImportJobStore;
use crate::store::invoices::InvoiceStore;
use crate::store::suppliers::SupplierStore;

pub struct AppState {
    pub config: Config,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub invoices: InvoiceStore,
    pub grants: GrantStore,
    pub clients: ClientStore,
    pub documents: DocumentStore,
    pub import_jobs: ImportJobStore,
    pub import_files: ImportFiles,
    pub suppliers: SupplierStore,
    pub continuation: ContinuationKeys,
    /// Set only under `sam local` (see `Config::token_keys`).
    pub tokens: Option<crate::token::RemoteVerifier>,
}

impl AppState {
    /// For Lambda: configuration and credentials from the environment. A function that
    /// `pages` also needs the continuation-key secret: from the environment where it is given
    /// as is (`sam local`), else read from Secrets Manager now, once per container.
    pub async fn from_env(pages: bool) -> Result<Self, crate::config::ConfigError> {
        use crate::config::{ConfigError, ENV_CONTINUATION_SECRET_ARN};
        use crate::pagination::SecretsManagerSource;
        let config = Config::from_env()?;
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(crate::sdk::timeouts())
            .retry_config(crate::sdk::retries())
            .load()
            .await;
        let secret_id = config.continuation_secret_id.clone();
        let mut state = Self::new(config, &sdk);
        if state.config.continuation_secret.is_none() {
            match secret_id {
                Some(id) => {
                    let source =
                        SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&sdk), id);
                    state.continuation = ContinuationKeys::from_secrets_manager(source)
                        .await
                        .map_err(|reason| ConfigError::Invalid {
                            name: ENV_CONTINUATION_SECRET_ARN,
                            reason,
                        })?;
                }
                None if pages => return Err(ConfigError::Missing(ENV_CONTINUATION_SECRET_ARN)),
                None => {}
            }
        }
        Ok(state)
    }

    pub fn new(config: Config, sdk: &SdkConfig) -> Self {
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk);
        if let Some(url) = &config.dynamodb_endpoint {
            dynamodb = dynamodb.endpoint_url(url);
        }
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(dynamodb.build());
        let mut s3 =
            aws_sdk_s3::config::Builder::from(sdk).force_path_style(config.s3_force_path_style);
        if let Some(url) = &config.s3_endpoint {
            s3 = s3.endpoint_url(url);
        }
        let s3 = aws_sdk_s3::Client::from_conf(s3.build());
        Self::with_clients(config, dynamodb, s3)
    }

    /// With clients built elsewhere (the dev stack points each at its own local engine).
    pub fn with_clients(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
    ) -> Self {
        Self {
            invoices: InvoiceStore::new(dynamodb.clone(), &config.table_name),
            grants: GrantStore::new(dynamodb.clone(), &config.table_name, config.grant_cache_ttl),
            clients: ClientStore::new(dynamodb.clone(), &config.table_name, config.grant_cache_ttl),
            documents: DocumentStore::new(s3.clone(), &config.bucket_name, config.download_url_ttl),
            import_jobs: ImportJobStore::new(dynamodb.clone(), &config.table_name),
            import_files: ImportFiles::new(s3.clone(), &config.bucket_name),
            suppliers: SupplierStore::new(dynamodb.clone(), &config.table_name),
            continuation: config
                .continuation_secret
                .clone()
                .map_or_else(ContinuationKeys::none, ContinuationKeys::new),
            tokens: config
                .token_keys
                .clone()
                .map(crate::token::RemoteVerifier::new),
            dynamodb,
            s3,
            config,
        }
    }

    /// Serves one API request of `route`: identifies the caller from the token (401), counts
    /// the request against the client's rate limit (429), checks the route's scope in the token
    /// (403), the company header (400) and the client's grant for that company and scope (403),
    /// runs `run` for the admitted tenant, and puts the rate-limit headers on whatever the
    /// answer is.
    ///
    /// The count is one UpdateItem that holds the limit across every container; it never runs
    /// before the request's own work. A read (GET) runs in full alongside it and its answer is
    /// replaced by the 429 if the client is over the limit (it changed nothing). A write waits
    /// for the count before it changes anything, while the count overlaps its grant lookup.
    pub async fn serve_route<'a, F, Fut>(
        &'a self,
        route: &'static Route,
        req: Request,
        run: F,
    ) -> Response<Body>
    where
        F: FnOnce(&'a AppState, Tenant, Request) -> Fut,
        Fut: Future<Output = Result<Response<Body>, ApiError>>,
    {
        crate::http::serve_with_headers(req, |req| async move {
            let caller = match self.caller(&req).await {
                Ok(caller) => caller,
                Err(e) => return (Err(e), http::HeaderMap::new()),
            };
            tracing::Span::current().record("clientId", caller.client_id.as_str());
            let counting = self.count(&caller.client_id, route);
            let (rate, result) = if route.method == "GET" {
                let work = async {
                    let tenant = self.check(&caller, route.scope, &req).await?;
                    crate::http::known_query(&req, route.query)?;
                    run(self, tenant, req).await
                };
                tokio::join!(counting, work)
            } else {
                let (rate, checked) =
                    tokio::join!(counting, self.check(&caller, route.scope, &req));
                let result = match (&rate, checked) {
                    (Ok(rate), Ok(tenant)) if !rate.exceeded() => {
                        match crate::http::known_query(&req, route.query) {
                            Ok(()) => run(self, tenant, req).await,
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
    async fn caller(&self, req: &Request) -> Result<Caller, ApiError> {
        match &self.tokens {
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
    async fn count(&self, client_id: &str, route: &Route) -> Result<RateStatus, ApiError> {
        let (counted, limit) = tokio::join!(
            self.clients
                .record_request(client_id, route.function, chrono::Utc::now()),
            self.clients.rate_limit(client_id),
        );
        let (used, reset_secs) = counted?;
        Ok(RateStatus {
            limit: limit?,
            used,
            reset_secs,
        })
    }

    /// The route's scope in the token, a well-formed company header, and a grant of that
    /// company with that scope to this client (one GetItem, cached per warm container).
    async fn check(
        &self,
        caller: &Caller,
        scope: Scope,
        req: &Request,
    ) -> Result<Tenant, ApiError> {
        caller.require(scope)?;
        let company = company_from_headers(req.headers())?;
        tracing::Span::current().record("companyId", tracing::field::display(company));
        match self.grants.scopes(&caller.client_id, company).await? {
            Some(granted) if granted.contains(&scope) => Ok(Tenant {
                company,
                client_id: caller.client_id.clone(),
            }),
            Some(_) => Err(ApiError::Forbidden(format!(
                "this client's grant for company {company} does not include {}",
                scope.oauth_name()
            ))),
            None => Err(ApiError::Forbidden(format!(
                "this client is not granted access to company {company}"
            ))),
        }
    }
}
