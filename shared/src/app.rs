//! The container: everything a function needs, built once per container (SDK config, adapters,
//! keys) and borrowed by every request. It holds things and decides nothing: admission is
//! the gate's, the work is the handlers' (both sit above this layer and borrow it).

use aws_config::{BehaviorVersion, SdkConfig};

use crate::edge::config::Config;
use crate::edge::continuation::ContinuationKeys;
use crate::store::attempt_queue::AttemptQueue;
use crate::store::clients::ClientStore;
use crate::store::documents::DocumentStore;
use crate::store::events::EventFeed;
use crate::store::grants::GrantStore;
use crate::store::history::InvoiceHistory;
use crate::store::import_files::ImportFiles;
use crate::store::import_jobs::ImportJobStore;
use crate::store::invoices::InvoiceStore;
use crate::store::master_data::MasterDataStore;
use crate::store::webhooks::WebhookStore;

/// How long a container's init waits, at most, for its first DynamoDB connection.
const CONNECTION_WARM_UP: std::time::Duration = std::time::Duration::from_secs(2);

pub struct AppState {
    pub config: Config,
    pub invoices: InvoiceStore,
    pub grants: GrantStore,
    pub clients: ClientStore,
    pub documents: DocumentStore,
    pub import_jobs: ImportJobStore,
    pub import_files: ImportFiles,
    pub master_data: MasterDataStore,
    pub webhooks: WebhookStore,
    /// Each company's event feed (`GET /v1/events`), which the webhook fan-out writes.
    pub events: EventFeed,
    /// Each invoice's history (`GET /v1/invoices/{id}/history`), which the stream's consumer
    /// writes.
    pub history: InvoiceHistory,
    /// Where webhook attempts are queued (the functions that fan out, sweep and deliver).
    pub attempts: AttemptQueue,
    pub continuation: ContinuationKeys,
    /// Set only under `sam local` (see `Config::token_keys`).
    pub tokens: Option<crate::edge::token::RemoteVerifier>,
}

impl AppState {
    /// For Lambda: configuration and credentials from the environment. A function that
    /// `pages` also needs the continuation-key secret: from the environment where it is given
    /// as is (`sam local`), else read from Secrets Manager now, once per container.
    pub async fn from_env(pages: bool) -> Result<Self, crate::edge::config::ConfigError> {
        use crate::edge::config::{ConfigError, ENV_CONTINUATION_SECRET_ARN};
        use crate::edge::continuation::SecretsManagerSource;
        let config = Config::from_env()?;
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(crate::foundation::sdk::timeouts())
            .retry_config(crate::foundation::sdk::retries())
            .load()
            .await;
        let secret_id = config.continuation_secret_id.clone();
        let mut state = Self::new(config, &sdk);
        // The continuation secret (functions that page, in AWS) and the first DynamoDB
        // connection (see open_connection) are fetched side by side.
        let keys = async {
            if state.config.continuation_secret.is_some() {
                return Ok(None);
            }
            match secret_id {
                Some(id) => {
                    let source =
                        SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&sdk), id);
                    ContinuationKeys::from_secrets_manager(source)
                        .await
                        .map(Some)
                        .map_err(|reason| ConfigError::Invalid {
                            name: ENV_CONTINUATION_SECRET_ARN,
                            reason,
                        })
                }
                None if pages => Err(ConfigError::Missing(ENV_CONTINUATION_SECRET_ARN)),
                None => Ok(None),
            }
        };
        let (keys, ()) = tokio::join!(keys, state.grants.open_connection(CONNECTION_WARM_UP));
        if let Some(keys) = keys? {
            state.continuation = keys;
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
        let mut sqs = aws_sdk_sqs::config::Builder::from(sdk);
        if let Some(url) = &config.sqs_endpoint {
            sqs = sqs.endpoint_url(url);
        }
        let sqs = aws_sdk_sqs::Client::from_conf(sqs.build());
        Self::with_sdk(config, dynamodb, s3, sqs)
    }

    /// With SDK clients built elsewhere (the dev stack points each at its own local engine).
    pub fn with_sdk(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
        sqs: aws_sdk_sqs::Client,
    ) -> Self {
        Self {
            attempts: AttemptQueue::new(sqs, config.webhook_queue_url.clone()),
            invoices: InvoiceStore::new(dynamodb.clone(), &config.table_name),
            grants: GrantStore::new(dynamodb.clone(), &config.table_name, config.grant_cache_ttl),
            clients: ClientStore::new(dynamodb.clone(), &config.table_name, config.grant_cache_ttl),
            documents: DocumentStore::new(s3.clone(), &config.bucket_name, config.download_url_ttl),
            import_jobs: ImportJobStore::new(dynamodb.clone(), &config.table_name),
            import_files: ImportFiles::new(s3.clone(), &config.bucket_name),
            master_data: MasterDataStore::new(dynamodb.clone(), &config.table_name),
            webhooks: WebhookStore::new(dynamodb.clone(), &config.table_name),
            events: EventFeed::new(dynamodb.clone(), &config.table_name)
                .with_settle(config.feed_settle),
            history: InvoiceHistory::new(dynamodb.clone(), &config.table_name),
            continuation: config
                .continuation_secret
                .clone()
                .map_or_else(ContinuationKeys::none, ContinuationKeys::new),
            tokens: config
                .token_keys
                .clone()
                .map(crate::edge::token::RemoteVerifier::new),
            config,
        }
    }
}
