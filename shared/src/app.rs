//! Everything a function needs, built once per container (SDK config, clients, keys) and
//! borrowed by every request.

use aws_config::{BehaviorVersion, SdkConfig};

use crate::auth::{company_from_headers, Caller, Scope, Tenant};
use crate::config::Config;
use crate::documents::DocumentStore;
use crate::error::ApiError;
use crate::imports::files::ImportFiles;
use crate::pagination::ContinuationKeys;
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

    /// The checks every company-scoped request passes, in order: a token (401), the route's
    /// scope in it (403), a well-formed company header (400), and a grant of that company with
    /// that scope to this client (403).
    pub async fn authorize(
        &self,
        req: &lambda_http::Request,
        scope: Scope,
    ) -> Result<Tenant, ApiError> {
        let caller = Caller::from_request(req)?;
        tracing::Span::current().record("clientId", caller.client_id.as_str());
        caller.require(scope)?;
        let company = company_from_headers(req.headers())?;
        tracing::Span::current().record("companyId", tracing::field::display(company));
        match self.grants.scopes(&caller.client_id, company).await? {
            Some(granted) if granted.contains(&scope) => Ok(Tenant {
                company,
                client_id: caller.client_id,
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
