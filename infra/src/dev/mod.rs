//! `ledgerdock dev`: the whole API in one process. The embedded DynamoDB and S3 engines listen
//! on loopback and the real AWS SDK clients talk to them over HTTP, exactly as the functions
//! talk to AWS; [`router`] plays API Gateway and [`oauth`] Cognito's token endpoint; [`seed`]
//! writes the demo companies with [`samples`] as their soft copies.

pub mod engines;
pub mod functions;
pub mod iam;
pub mod imports;
pub mod oauth;
pub mod openapi;
pub mod queue;
pub mod reference;
pub mod router;
pub mod samples;
pub mod schedules;
pub mod seed;
pub mod stream_filter;
pub mod webhooks;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ledgerdock_shared::domain::webhook::UrlPolicy;
use ledgerdock_shared::edge::config::{
    Config, DEFAULT_DOWNLOAD_URL_TTL, DEFAULT_IMPORT_LEASE, DEFAULT_IMPORT_PROCESSING_DEADLINE,
    DEFAULT_IMPORT_UPLOAD_GRACE, DEFAULT_UPLOAD_URL_TTL,
};
use ledgerdock_shared::AppState;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::clients::{random_token, ClientRegistry};
use crate::dev::oauth::TokenIssuer;
use crate::dev::seed::DemoCompanyInfo;
use engines::{LOCAL_ACCESS_KEY, LOCAL_REGION, LOCAL_SECRET_KEY};
use router::DevApi;

pub const DEFAULT_TABLE: &str = "ledgerdock";
pub const DEFAULT_BUCKET: &str = "ledgerdock-local";
/// The `sam local --env-vars` file `ledgerdock dev` writes into its data dir: every function's
/// environment pointed at the running stack (see [`DevStack::function_environment`]).
pub const SAM_ENV_FILE: &str = "sam-env.json";

#[derive(Debug, Clone)]
pub struct DevOptions {
    pub host: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub s3_port: u16,
    pub dynamodb_port: u16,
    /// The SQS engine's port (the webhook attempt queue).
    pub sqs_port: u16,
    pub data_dir: PathBuf,
    pub in_memory: bool,
    pub seed_demo: bool,
    /// Use this DynamoDB (e.g. official DynamoDB Local) instead of the embedded engine.
    pub external_dynamodb: Option<String>,
    pub table_name: String,
    pub bucket_name: String,
    pub download_url_ttl: Duration,
    pub upload_url_ttl: Duration,
    pub import_upload_grace: Duration,
    pub import_processing_deadline: Duration,
    /// How long an import worker's hold on a job lasts unless renewed (see `Config`).
    pub import_lease: Duration,
    /// How old an event must be before `GET /v1/events` serves it: as in AWS, unless a test
    /// shortens it.
    pub feed_settle: Duration,
    /// How often the import-job sweep runs: as the template schedules it, unless a test
    /// needs deadlines to pass sooner.
    pub sweep_interval: Duration,
    /// Deliver webhooks: capture the changes of news items in front of DynamoDB and hand them
    /// to the fan-out, and run the dispatcher every `webhook_dispatch_interval`, as the two
    /// webhook functions run in AWS (see [`webhooks`]). Tests that drive the fan-out
    /// themselves turn it off.
    pub deliver_webhooks: bool,
    /// How often the webhook sweep runs: as the template schedules it.
    pub webhook_dispatch_interval: Duration,
    /// Where webhook URLs may point: by default also a receiver on this machine
    /// (`http://127.0.0.1:…`); [`UrlPolicy::Public`] is exactly AWS's rule (HTTPS to public
    /// addresses only), to see what a deployed stack would refuse.
    pub webhook_urls: UrlPolicy,
    /// Run the import worker when an import file lands, as S3's notification does in AWS.
    /// Tests turn it off to deliver the events themselves (see [`DevStack::delivering_imports`]).
    pub process_imports: bool,
    /// Print progress lines to stderr.
    pub verbose: bool,
    /// The template whose IAM policies and stream filter the stack enforces: template.yaml as
    /// built in, unless a test hands in an altered one to show what enforcement refuses.
    pub template: Option<String>,
}

impl Default for DevOptions {
    fn default() -> Self {
        // The sweeps run as template.yaml schedules them (a test holds the template readable).
        let schedules = schedules::Schedules::read(stream_filter::TEMPLATE)
            .expect("the built-in template.yaml is YAML");
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 3000,
            s3_port: 3001,
            dynamodb_port: 3002,
            sqs_port: 3003,
            data_dir: PathBuf::from(".ledgerdock"),
            in_memory: false,
            seed_demo: false,
            external_dynamodb: None,
            table_name: DEFAULT_TABLE.into(),
            bucket_name: DEFAULT_BUCKET.into(),
            download_url_ttl: DEFAULT_DOWNLOAD_URL_TTL,
            upload_url_ttl: DEFAULT_UPLOAD_URL_TTL,
            import_upload_grace: DEFAULT_IMPORT_UPLOAD_GRACE,
            import_processing_deadline: DEFAULT_IMPORT_PROCESSING_DEADLINE,
            import_lease: DEFAULT_IMPORT_LEASE,
            feed_settle: ledgerdock_shared::domain::events::SETTLE,
            sweep_interval: schedules
                .rate_of("sweep-import-jobs")
                .expect("template.yaml schedules the import sweep"),
            deliver_webhooks: true,
            webhook_dispatch_interval: schedules
                .rate_of("dispatch-webhooks")
                .expect("template.yaml schedules the webhook sweep"),
            webhook_urls: UrlPolicy::AllowLoopback,
            process_imports: true,
            verbose: false,
            template: None,
        }
    }
}

impl DevOptions {
    /// A throwaway stack for tests: free ports, everything in memory, files under `data_dir`.
    pub fn ephemeral(data_dir: PathBuf) -> Self {
        Self {
            port: 0,
            s3_port: 0,
            dynamodb_port: 0,
            sqs_port: 0,
            in_memory: true,
            data_dir,
            ..Self::default()
        }
    }
}

/// What `--seed-demo` writes to `<data-dir>/demo.json` and prints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoInfo {
    pub api_url: String,
    pub token_url: String,
    pub s3_url: String,
    pub dynamodb_url: String,
    pub companies: Vec<DemoCompanyInfo>,
}

/// Keys that must survive restarts of a persistent stack (tokens and continuation keys stay valid).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StackKeys {
    continuation_secret: String,
    signing_key_pkcs8: String,
}

pub struct DevStack {
    pub api_url: String,
    pub token_url: String,
    pub s3_url: String,
    pub dynamodb_url: String,
    /// The operator's state: seeding, the CLI's publish, tests' setup and checks. It may do
    /// anything; the functions run with [`Self::functions`]' states instead.
    pub app: Arc<AppState>,
    /// The operator's SDK clients pointed at the stack's own engines (for tools and tests).
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The webhook attempt queue (its engine: tests drive its consumer through it).
    pub queue: Arc<queue::LocalQueue>,
    pub api: Arc<DevApi>,
    pub demo: Option<DemoInfo>,
    pub data_dir: PathBuf,
    /// Whether S3 object notifications reach the import worker (false drops them, as a lost
    /// event would be).
    pub delivering_imports: Arc<AtomicBool>,
    /// Each function's own state, its SDK clients signed as that function (see
    /// [`functions`]): tests run a handler with the function's state, so its calls meet the
    /// function's policy.
    pub functions: Arc<functions::Functions>,
    /// The template's IAM, as the engines enforce it.
    pub iam: Arc<iam::Iam>,
    /// Stream records handed to the fan-out so far (those the template's filter let through).
    pub stream_records: Arc<std::sync::atomic::AtomicUsize>,
    /// Invocations of the fan-out so far: the batches those records went in.
    pub fan_out_invocations: Arc<std::sync::atomic::AtomicUsize>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _scratch: Option<tempfile::TempDir>,
}

fn credentials(access_key: &str) -> Credentials {
    Credentials::new(access_key, LOCAL_SECRET_KEY, None, None, "ledgerdock-dev")
}

/// The operator's SDK clients for a local stack (the CLI, seeding, tools and tests' setup):
/// allowed everything, as an administrator is.
pub fn local_sdk(
    dynamodb_url: &str,
    s3_url: &str,
) -> (aws_sdk_dynamodb::Client, aws_sdk_s3::Client) {
    local_sdk_as(LOCAL_ACCESS_KEY, dynamodb_url, s3_url)
}

/// SDK clients signing with `access_key`: a function's own (see [`iam::access_key_of`]).
pub fn local_sdk_as(
    access_key: &str,
    dynamodb_url: &str,
    s3_url: &str,
) -> (aws_sdk_dynamodb::Client, aws_sdk_s3::Client) {
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(LOCAL_REGION))
            .credentials_provider(credentials(access_key))
            .endpoint_url(dynamodb_url)
            .timeout_config(ledgerdock_shared::foundation::sdk::timeouts())
            .retry_config(ledgerdock_shared::foundation::sdk::retries())
            .build(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(LOCAL_REGION))
            .credentials_provider(credentials(access_key))
            .endpoint_url(s3_url)
            .force_path_style(true)
            .timeout_config(ledgerdock_shared::foundation::sdk::timeouts())
            .retry_config(ledgerdock_shared::foundation::sdk::retries())
            .build(),
    );
    (dynamodb, s3)
}

/// The operator's SQS client pointed at the stack's queue engine.
pub fn local_sqs(sqs_url: &str) -> aws_sdk_sqs::Client {
    local_sqs_as(LOCAL_ACCESS_KEY, sqs_url)
}

/// An SQS client signing with `access_key`.
pub fn local_sqs_as(access_key: &str, sqs_url: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(LOCAL_REGION))
            .credentials_provider(credentials(access_key))
            .endpoint_url(sqs_url)
            .timeout_config(ledgerdock_shared::foundation::sdk::timeouts())
            .retry_config(ledgerdock_shared::foundation::sdk::retries())
            .build(),
    )
}

/// Runs `tick` every `interval` until `shutdown` flips, as a schedule runs a function in AWS.
pub fn every<F, Fut>(
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
    tick: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
            tick().await;
        }
    })
}

/// Writes a file only its owner may read (0600): keys.json holds the token signing key and
/// the continuation secret, demo.json a client secret. An existing file is narrowed too.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}

fn load_or_create_keys(
    data_dir: Option<&std::path::Path>,
    issuer_url: &str,
) -> anyhow::Result<(Vec<u8>, TokenIssuer)> {
    let path = data_dir.map(|d| d.join("keys.json"));
    if let Some(path) = path.as_ref().filter(|p| p.exists()) {
        let keys: StackKeys = serde_json::from_slice(&std::fs::read(path)?)
            .with_context(|| format!("reading {}", path.display()))?;
        let pkcs8 = STANDARD.decode(&keys.signing_key_pkcs8)?;
        return Ok((
            keys.continuation_secret.into_bytes(),
            TokenIssuer::from_pkcs8(&pkcs8, issuer_url)?,
        ));
    }
    let secret = random_token(48);
    let (issuer, pkcs8) = TokenIssuer::generate(issuer_url)?;
    if let Some(path) = path {
        let keys = StackKeys {
            continuation_secret: secret.clone(),
            signing_key_pkcs8: STANDARD.encode(pkcs8),
        };
        write_private(&path, &serde_json::to_vec_pretty(&keys)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok((secret.into_bytes(), issuer))
}

/// Where the stack keeps its files: the data dir (keys, demo.json, sam-env.json, and unless in
/// memory the DynamoDB file and the S3 objects), and a scratch folder for S3 objects in memory
/// mode, removed on exit.
struct Storage {
    data_dir: PathBuf,
    /// Where the S3 engine keeps objects: the scratch folder in memory mode, else the data dir.
    s3_root: PathBuf,
    scratch: Option<tempfile::TempDir>,
}

impl Storage {
    fn prepare(options: &DevOptions) -> anyhow::Result<Self> {
        let scratch = if options.in_memory {
            Some(tempfile::tempdir()?)
        } else {
            None
        };
        std::fs::create_dir_all(&options.data_dir)
            .with_context(|| format!("creating data dir {}", options.data_dir.display()))?;
        let data_dir = options.data_dir.canonicalize()?;
        let s3_root = scratch
            .as_ref()
            .map(|t| t.path().to_path_buf())
            .unwrap_or_else(|| data_dir.clone())
            .join("s3");
        Ok(Self {
            data_dir,
            s3_root,
            scratch,
        })
    }
}

/// Every function's policy from `template`, its ARNs pointed at this stack's table, bucket and
/// queue.
fn read_iam(template: &str, options: &DevOptions) -> anyhow::Result<iam::Iam> {
    iam::Iam::from_template(
        template,
        iam::local_account(&options.table_name, &options.bucket_name),
    )
    .map_err(|e| anyhow::anyhow!("reading template.yaml's IAM policies: {e}"))
}

/// What the engines hand the event sources: the captured stream records and the keys of
/// import files created.
struct EngineEvents {
    captured: tokio::sync::mpsc::UnboundedReceiver<
        ledgerdock_shared::features::webhooks::events::StreamRecord,
    >,
    created: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// The engines the functions' SDK clients call, each behind the template's IAM.
struct Engines {
    dynamodb_url: String,
    s3_url: String,
    sqs_url: String,
    queue: Arc<queue::LocalQueue>,
    events: EngineEvents,
}

impl Engines {
    async fn start(
        options: &DevOptions,
        template: &str,
        storage: &Storage,
        iam: &Arc<iam::Iam>,
        shutdown: &watch::Receiver<bool>,
        tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> anyhow::Result<Self> {
        // The stack's DynamoDB URL is its front (see `webhooks::start_front`): IAM, and the
        // change capture when webhooks are delivered. The engine listens on a port of its own.
        let engine_url = match &options.external_dynamodb {
            Some(url) => url.clone(),
            None => {
                let (listener, addr) = engines::bind(options.host, 0, "DynamoDB engine").await?;
                let db_file =
                    (!options.in_memory).then(|| storage.data_dir.join("dynamodb.sqlite"));
                tasks.push(
                    engines::start_dynamodb(listener, db_file.as_deref(), shutdown.clone()).await?,
                );
                format!("http://{addr}")
            }
        };
        let (captured_tx, captured) = tokio::sync::mpsc::unbounded_channel();
        let (listener, addr) =
            engines::bind(options.host, options.dynamodb_port, "DynamoDB endpoint").await?;
        let capture = if options.deliver_webhooks {
            let (engine, _) = local_sdk(&engine_url, "http://127.0.0.1:1");
            let filter = stream_filter::StreamFilter::of(template, "webhook-fanout")?;
            Some(webhooks::ChangeCapture::new(engine, captured_tx, filter))
        } else {
            None
        };
        tasks.push(webhooks::start_front(
            listener,
            engine_url,
            iam.clone(),
            capture,
            shutdown.clone(),
        ));
        let dynamodb_url = format!("http://{addr}");

        let (s3_listener, s3_addr) =
            engines::bind(options.host, options.s3_port, "S3 engine").await?;
        let (created_tx, created) = tokio::sync::mpsc::unbounded_channel();
        let hook = engines::ObjectCreatedHook {
            bucket: options.bucket_name.clone(),
            prefix: "imports/",
            sender: created_tx,
        };
        tasks.push(
            engines::start_s3(
                s3_listener,
                &storage.s3_root,
                shutdown.clone(),
                Some(hook),
                iam.clone(),
            )
            .await?,
        );

        let (sqs_listener, sqs_addr) =
            engines::bind(options.host, options.sqs_port, "SQS engine").await?;
        let (queue, queue_task) = queue::start(sqs_listener, iam.clone(), shutdown.clone())?;
        tasks.push(queue_task);
        Ok(Self {
            dynamodb_url,
            s3_url: format!("http://{s3_addr}"),
            sqs_url: format!("http://{sqs_addr}"),
            queue,
            events: EngineEvents { captured, created },
        })
    }
}

/// The configuration every function of the stack runs with.
fn function_config(
    options: &DevOptions,
    engines: &Engines,
    continuation_secret: Vec<u8>,
) -> Config {
    Config {
        table_name: options.table_name.clone(),
        bucket_name: options.bucket_name.clone(),
        download_url_ttl: options.download_url_ttl,
        continuation_secret: Some(continuation_secret),
        continuation_secret_id: None,
        // Not cached locally: a revoked grant applies at once.
        grant_cache_ttl: Duration::ZERO,
        s3_force_path_style: true,
        upload_url_ttl: options.upload_url_ttl,
        import_upload_grace: options.import_upload_grace,
        import_processing_deadline: options.import_processing_deadline,
        import_lease: options.import_lease,
        feed_settle: options.feed_settle,
        // The router verifies tokens itself, as the authorizer does in AWS.
        token_keys: None,
        dynamodb_endpoint: Some(engines.dynamodb_url.clone()),
        s3_endpoint: Some(engines.s3_url.clone()),
        webhook_urls: options.webhook_urls,
        webhook_queue_url: Some(engines.queue.url.clone()),
        sqs_endpoint: Some(engines.sqs_url.clone()),
    }
}

/// What plays Lambda's triggers for the event functions: S3's notification for the import
/// worker, the schedules of both sweeps, and (with webhooks delivered) the stream's and the
/// queue's event-source mappings; each runs its function with that function's own state.
struct EventSources {
    delivering_imports: Arc<AtomicBool>,
    stream_records: Arc<std::sync::atomic::AtomicUsize>,
    fan_out_invocations: Arc<std::sync::atomic::AtomicUsize>,
}

impl EventSources {
    fn start(
        options: &DevOptions,
        functions: &functions::Functions,
        events: EngineEvents,
        queue: Arc<queue::LocalQueue>,
        shutdown: &watch::Receiver<bool>,
        tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> Self {
        let delivering_imports = Arc::new(AtomicBool::new(options.process_imports));
        tasks.push(imports::dispatch_object_events(
            functions.of("process-import-job"),
            events.created,
            delivering_imports.clone(),
            shutdown.clone(),
        ));
        tasks.push(imports::sweep_periodically(
            functions.of("sweep-import-jobs"),
            options.sweep_interval,
            shutdown.clone(),
        ));
        let stream_records = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let fan_out_invocations = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        if options.deliver_webhooks {
            tasks.push(webhooks::fan_out_captured(
                functions.of("webhook-fanout"),
                events.captured,
                stream_records.clone(),
                fan_out_invocations.clone(),
                shutdown.clone(),
            ));
            tasks.push(webhooks::dispatch_periodically(
                functions.of("dispatch-webhooks"),
                options.webhook_dispatch_interval,
                shutdown.clone(),
            ));
            tasks.push(queue::consume(
                functions.of("deliver-webhooks"),
                queue,
                shutdown.clone(),
            ));
        }
        Self {
            delivering_imports,
            stream_records,
            fan_out_invocations,
        }
    }
}

/// Serves the API (the router) on `listener` until `shutdown` flips.
fn serve_api(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "API server stopped");
        }
    })
}

impl DevStack {
    /// Starts the stack, step by step: its storage, the template's IAM, the engines behind
    /// it, the table and bucket, the functions' state, the event sources that run the event
    /// functions, the API, the demo data, and the file `sam local` reads.
    pub async fn start(options: DevOptions) -> anyhow::Result<Self> {
        let say = |line: String| {
            if options.verbose {
                eprintln!("{line}");
            }
        };
        let storage = Storage::prepare(&options)?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let template = options
            .template
            .as_deref()
            .unwrap_or(stream_filter::TEMPLATE);
        let iam = Arc::new(read_iam(template, &options)?);

        let (api_listener, api_addr) = engines::bind(options.host, options.port, "API").await?;
        let api_url = format!("http://{api_addr}");
        let engines =
            Engines::start(&options, template, &storage, &iam, &shutdown_rx, &mut tasks).await?;
        say(format!(
            "engines up: DynamoDB {}, S3 {}",
            engines.dynamodb_url, engines.s3_url
        ));
        let (dynamodb, s3) = local_sdk(&engines.dynamodb_url, &engines.s3_url);
        crate::bootstrap::ensure_table(&dynamodb, &options.table_name).await?;
        crate::bootstrap::ensure_bucket(&s3, &options.bucket_name).await?;

        let (continuation_secret, issuer) = load_or_create_keys(
            (!options.in_memory).then_some(storage.data_dir.as_path()),
            &api_url,
        )?;
        let config = function_config(&options, &engines, continuation_secret);
        let functions = Arc::new(functions::Functions::new(
            &iam,
            &config,
            &engines.dynamodb_url,
            &engines.s3_url,
            &engines.sqs_url,
        ));
        let sqs = local_sqs(&engines.sqs_url);
        let app = Arc::new(AppState::with_sdk(
            config,
            dynamodb.clone(),
            s3.clone(),
            sqs.clone(),
        ));
        let clients = ClientRegistry::new(dynamodb.clone(), &options.table_name);
        let token_url = format!("{api_url}/oauth2/token");
        let api = Arc::new(DevApi {
            functions: functions.clone(),
            issuer,
            clients: clients.clone(),
            openapi: openapi::document(&api_url, &token_url)?,
        });

        let sources = EventSources::start(
            &options,
            &functions,
            engines.events,
            engines.queue.clone(),
            &shutdown_rx,
            &mut tasks,
        );
        tasks.push(serve_api(
            api_listener,
            router::router(api.clone()),
            shutdown_rx.clone(),
        ));

        let demo = if options.seed_demo {
            say("seeding demo data…".into());
            let companies = crate::dev::seed::seed_demo(&app, &clients, &|line| say(line)).await?;
            let info = DemoInfo {
                api_url: api_url.clone(),
                token_url: token_url.clone(),
                s3_url: engines.s3_url.clone(),
                dynamodb_url: engines.dynamodb_url.clone(),
                companies,
            };
            let path = storage.data_dir.join("demo.json");
            write_private(&path, &serde_json::to_vec_pretty(&info)?)
                .with_context(|| format!("writing {}", path.display()))?;
            Some(info)
        } else {
            None
        };

        let stack = Self {
            api_url,
            token_url,
            s3_url: engines.s3_url,
            dynamodb_url: engines.dynamodb_url,
            app,
            dynamodb,
            s3,
            sqs,
            queue: engines.queue,
            api,
            demo,
            data_dir: storage.data_dir,
            delivering_imports: sources.delivering_imports,
            functions,
            iam,
            stream_records: sources.stream_records,
            fan_out_invocations: sources.fan_out_invocations,
            shutdown,
            tasks,
            _scratch: storage.scratch,
        };
        let sam_env = stack.data_dir.join(SAM_ENV_FILE);
        let parameters = serde_json::json!({ "Parameters": stack.function_environment() });
        write_private(&sam_env, &serde_json::to_vec_pretty(&parameters)?)
            .with_context(|| format!("writing {}", sam_env.display()))?;
        Ok(stack)
    }

    /// The environment that points a function binary at this stack, as template.yaml names
    /// it: its table, bucket and engines, the same continuation secret (so continuation keys
    /// are interchangeable with the dev API's), and its JWKS, against which a function
    /// verifies bearer tokens itself when no authorizer ran (`sam local`). Written to
    /// `<data-dir>/sam-env.json` for `sam local … --env-vars`, and used by the tests that run
    /// the binaries under AWS's runtime interface emulator. AWS credentials and region are not
    /// here: Lambda reserves those names (see docs/operations.md, "sam local").
    pub fn function_environment(&self) -> BTreeMap<&'static str, String> {
        use ledgerdock_shared::edge::config as env;
        let config = &self.app.config;
        let seconds = |d: Duration| d.as_secs().to_string();
        BTreeMap::from([
            (env::ENV_TABLE, config.table_name.clone()),
            (env::ENV_BUCKET, config.bucket_name.clone()),
            (
                env::ENV_CONTINUATION_SECRET,
                String::from_utf8_lossy(config.continuation_secret.as_deref().unwrap_or_default())
                    .into_owned(),
            ),
            // Declared (for the functions that page) as the Secrets Manager secret in AWS.
            (env::ENV_CONTINUATION_SECRET_ARN, String::new()),
            (env::ENV_DOWNLOAD_URL_TTL, seconds(config.download_url_ttl)),
            (env::ENV_UPLOAD_URL_TTL, seconds(config.upload_url_ttl)),
            (env::ENV_GRANT_CACHE_TTL, seconds(config.grant_cache_ttl)),
            (
                env::ENV_IMPORT_UPLOAD_GRACE,
                seconds(config.import_upload_grace),
            ),
            (
                env::ENV_IMPORT_PROCESSING_DEADLINE,
                seconds(config.import_processing_deadline),
            ),
            (env::ENV_IMPORT_LEASE, seconds(config.import_lease)),
            (env::ENV_DYNAMODB_ENDPOINT, self.dynamodb_url.clone()),
            (env::ENV_S3_ENDPOINT, self.s3_url.clone()),
            (env::ENV_S3_FORCE_PATH_STYLE, "true".into()),
            (
                env::ENV_WEBHOOK_QUEUE_URL,
                config.webhook_queue_url.clone().unwrap_or_default(),
            ),
            (
                env::ENV_SQS_ENDPOINT,
                config.sqs_endpoint.clone().unwrap_or_default(),
            ),
            (
                env::ENV_JWKS_URL,
                format!("{}/.well-known/jwks.json", self.api_url),
            ),
            (env::ENV_TOKEN_ISSUER, self.api_url.clone()),
            (
                env::ENV_WEBHOOK_ALLOW_LOOPBACK,
                (config.webhook_urls == UrlPolicy::AllowLoopback).to_string(),
            ),
        ])
    }

    /// Stops every server and waits for them to finish.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}
