//! Everything a function needs, built once per container (SDK config, clients, keys) and
//! borrowed by every request.

use std::future::Future;

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_http::{Body, Request, Response};

use crate::auth::{company_from_headers, Caller, Scope, Tenant};
use crate::config::Config;
use crate::documents::DocumentStore;
use crate::domain::CompanyId;
use crate::error::ApiError;
use crate::handlers::Route;
use crate::imports::files::ImportFiles;
use crate::pagination::ContinuationKeys;
use crate::store::clients::{ClientStore, RateStatus};
use crate::store::grants::GrantStore;
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
}

impl AppState {
    /// For Lambda: configuration and credentials from the environment.
    pub async fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        Ok(Self::new(config, &sdk))
    }

    pub fn new(config: Config, sdk: &SdkConfig) -> Self {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let s3_config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(config.s3_force_path_style)
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(s3_config);
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
            continuation: ContinuationKeys::new(config.continuation_secret.clone()),
            dynamodb,
            s3,
            config,
        }
    }

    /// Serves one API request of `route`: admits it (see [`AppState::admit`]), runs `run` for
    /// the admitted tenant, and puts the rate-limit headers on whatever the answer is.
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
            let (rate, admitted) = self.admit(&req, route).await;
            let result = match admitted {
                Ok(tenant) => run(self, tenant, req).await,
                Err(e) => Err(e),
            };
            (result, rate.map(|r| r.headers()).unwrap_or_default())
        })
        .await
    }

    /// The checks every company-scoped request passes, in order: a token (401), the client's
    /// rate limit (429), the route's scope in the token (403), a well-formed company header
    /// (400), and a grant of that company with that scope to this client (403).
    ///
    /// Counting the request (one UpdateItem that holds the limit across every container) runs
    /// at the same time as the request's own first work, the grant lookup, not before it.
    pub async fn admit(
        &self,
        req: &Request,
        route: &'static Route,
    ) -> (Option<RateStatus>, Result<Tenant, ApiError>) {
        let caller = match Caller::from_request(req) {
            Ok(caller) => caller,
            Err(e) => return (None, Err(e)),
        };
        tracing::Span::current().record("clientId", caller.client_id.as_str());
        let company = company_from_headers(req.headers());
        let grant = async {
            match &company {
                Ok(company) => self.grants.scopes(&caller.client_id, *company).await,
                Err(_) => Ok(None),
            }
        };
        let (count, limit, grant) = tokio::join!(
            self.clients
                .record_request(&caller.client_id, route.function, chrono::Utc::now()),
            self.clients.rate_limit(&caller.client_id),
            grant,
        );
        let rate = match (count, limit) {
            (Ok((used, reset_secs)), Ok(limit)) => RateStatus {
                limit,
                used,
                reset_secs,
            },
            (Err(e), _) | (_, Err(e)) => return (None, Err(e)),
        };
        (
            Some(rate),
            self.decide(&caller, route.scope, rate, company, grant),
        )
    }

    fn decide(
        &self,
        caller: &Caller,
        scope: Scope,
        rate: RateStatus,
        company: Result<CompanyId, ApiError>,
        grant: Result<Option<Vec<Scope>>, ApiError>,
    ) -> Result<Tenant, ApiError> {
        if rate.exceeded() {
            return Err(ApiError::RateLimited {
                message: format!(
                    "this client may make {} requests a minute; try again in {} s",
                    rate.limit, rate.reset_secs
                ),
                retry_after_secs: rate.reset_secs,
            });
        }
        caller.require(scope)?;
        let company = company?;
        tracing::Span::current().record("companyId", tracing::field::display(company));
        match grant? {
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
