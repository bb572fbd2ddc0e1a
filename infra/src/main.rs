//! The `ledgerdock` CLI: the local dev stack and operator commands. Run `ledgerdock --help`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use ledgerdock_infra::dev::{local_clients, DevOptions, DevStack, DEFAULT_BUCKET, DEFAULT_TABLE};
use ledgerdock_shared::config::{
    DEFAULT_DOWNLOAD_URL_TTL, DEFAULT_IMPORT_UPLOAD_GRACE, DEFAULT_UPLOAD_URL_TTL, ENV_BUCKET,
    ENV_TABLE,
};
use ledgerdock_shared::domain::{CompanyId, NewInvoice};
use ledgerdock_shared::publish::{Publisher, SoftCopy};
use ledgerdock_shared::store::documents::DocumentStore;
use ledgerdock_shared::store::invoices::{InvoiceStore, PublishOutcome};
use ledgerdock_shared::ApiError;

#[derive(Parser)]
#[command(
    name = "ledgerdock",
    version,
    about = "ledgerdock: the AP export/import integration API, locally and in AWS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole API locally: embedded DynamoDB and S3 engines, local OAuth2, every route.
    Dev(DevArgs),
    /// Onboard and manage machine clients: credentials, company grants, scopes, rate limits.
    Clients(ledgerdock_infra::cli::clients::ClientsArgs),
    /// Manage invoices (the platform's internal publish path).
    Invoices {
        #[command(subcommand)]
        command: InvoicesCommand,
    },
}

#[derive(Args)]
struct DevArgs {
    /// Address to listen on (all three ports).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// API port (also serves /oauth2/token and /.well-known/jwks.json).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Embedded S3 engine port (pre-signed URLs point here).
    #[arg(long, default_value_t = 3001)]
    s3_port: u16,
    /// Embedded DynamoDB engine port.
    #[arg(long, default_value_t = 3002)]
    dynamodb_port: u16,
    /// Where data, keys and demo.json live.
    #[arg(long, default_value = ".ledgerdock")]
    data_dir: PathBuf,
    /// Keep all data in memory; nothing survives a restart (demo.json is still written).
    #[arg(long)]
    in_memory: bool,
    /// Create two demo companies with clients and invoices (idempotent).
    #[arg(long)]
    seed_demo: bool,
    /// Use an external DynamoDB endpoint (e.g. DynamoDB Local) instead of the embedded engine.
    #[arg(long, env = "LEDGERDOCK_DYNAMODB_ENDPOINT")]
    dynamodb_endpoint: Option<String>,
    /// Lifetime of pre-signed download URLs, in seconds.
    #[arg(long, default_value_t = DEFAULT_DOWNLOAD_URL_TTL.as_secs())]
    download_url_ttl: u64,
    /// Lifetime of import upload URLs, in seconds.
    #[arg(long, default_value_t = DEFAULT_UPLOAD_URL_TTL.as_secs())]
    upload_url_ttl: u64,
    /// Grace after an upload URL expires before its job is failed, in seconds.
    #[arg(long, default_value_t = DEFAULT_IMPORT_UPLOAD_GRACE.as_secs())]
    import_upload_grace: u64,
}

#[derive(Subcommand)]
enum InvoicesCommand {
    /// Publish one invoice (JSON) with its soft copies into a company's export queue.
    Publish(PublishArgs),
}

#[derive(Args)]
struct PublishArgs {
    /// The company (UUID) whose queue receives the invoice.
    #[arg(long)]
    company: CompanyId,
    /// The invoice JSON (see README: "Publishing invoices").
    #[arg(long)]
    file: PathBuf,
    /// A soft copy (PDF, JPEG, PNG or TIFF); repeat for several formats.
    #[arg(long = "document")]
    documents: Vec<PathBuf>,
    /// Publish into AWS (default credential chain) instead of the local dev stack.
    #[arg(long)]
    aws: bool,
    /// DynamoDB endpoint of the local stack.
    #[arg(long, default_value = "http://127.0.0.1:3002")]
    dynamodb_endpoint: String,
    /// S3 endpoint of the local stack.
    #[arg(long, default_value = "http://127.0.0.1:3001")]
    s3_endpoint: String,
    /// Table name (in AWS: the stack's TableName output).
    #[arg(long, env = ENV_TABLE, default_value = DEFAULT_TABLE)]
    table: String,
    /// Bucket name (in AWS: the stack's BucketName output).
    #[arg(long, env = ENV_BUCKET, default_value = DEFAULT_BUCKET)]
    bucket: String,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            // The embedded DynamoDB logs every 4xx it answers (a missing table at first start,
            // each lost conditional write) as a warning; those are expected, not news.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,dynoxide::server=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Dev(args) => dev(args).await,
        Command::Clients(args) => ledgerdock_infra::cli::clients::run(args).await,
        Command::Invoices {
            command: InvoicesCommand::Publish(args),
        } => publish(args).await,
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn dev(args: DevArgs) -> anyhow::Result<()> {
    if args.download_url_ttl == 0 || args.download_url_ttl > 3600 {
        anyhow::bail!("--download-url-ttl must be between 1 and 3600 seconds");
    }
    let stack = DevStack::start(DevOptions {
        host: args.host,
        port: args.port,
        s3_port: args.s3_port,
        dynamodb_port: args.dynamodb_port,
        data_dir: args.data_dir,
        in_memory: args.in_memory,
        seed_demo: args.seed_demo,
        external_dynamodb: args.dynamodb_endpoint,
        download_url_ttl: Duration::from_secs(args.download_url_ttl),
        upload_url_ttl: Duration::from_secs(args.upload_url_ttl),
        import_upload_grace: Duration::from_secs(args.import_upload_grace),
        verbose: true,
        ..DevOptions::default()
    })
    .await?;
    println!("\nledgerdock dev is running");
    println!("  API        {}   (GET /health)", stack.api_url);
    println!("  Token URL  {}", stack.token_url);
    println!("  S3         {}", stack.s3_url);
    println!("  DynamoDB   {}", stack.dynamodb_url);
    println!(
        "  Data       {} ({})",
        stack.data_dir.display(),
        if args.in_memory {
            "in memory: nothing is kept"
        } else {
            "persisted across restarts"
        }
    );
    if let Some(demo) = &stack.demo {
        println!(
            "\nDemo companies (also in {}):",
            stack.data_dir.join("demo.json").display()
        );
        println!("{}", serde_json::to_string_pretty(demo)?);
        let first = &demo.companies[0];
        let api = &stack.api_url;
        // A real id in the printed lines, so they can be pasted as they are.
        let invoice = stack
            .app
            .invoices
            .list_exportable(first.company_id, None, 1)
            .await
            .ok()
            .and_then(|page| page.invoice_ids.first().map(|id| id.to_string()))
            .unwrap_or_else(|| "<invoiceId>".to_string());
        println!("\nStart here (token, then list, detail, download URL, complete):");
        println!(
            "  TOKEN=$(curl -s -u {}:{} -d grant_type=client_credentials {} | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
            first.client_id, first.client_secret, stack.token_url
        );
        println!(
            "  H=(-H \"Authorization: Bearer $TOKEN\" -H \"Lightyear-Company-ID: {}\")",
            first.company_id
        );
        println!("  curl -s \"${{H[@]}}\" '{api}/v1/invoices/exportable?limit=5'");
        println!("  curl -s \"${{H[@]}}\" {api}/v1/invoices/{invoice}");
        println!("  curl -s \"${{H[@]}}\" '{api}/v1/invoices/{invoice}/download-url?format=PDF'");
        println!(
            "  curl -s \"${{H[@]}}\" -X POST -H 'Content-Type: application/json' -d '{{\"externalId\":\"ERP-1\"}}' {api}/v1/invoices/{invoice}/complete"
        );
        println!("\nImport supplier cards (then GET {api}/v1/import-jobs/<jobId> until FINISHED):");
        println!(
            "  curl -s \"${{H[@]}}\" -X POST -H 'Content-Type: text/csv' --data-binary $'externalId,name,country\\nACME-1,Acme Oy,FI' '{api}/v1/import-jobs?type=SUPPLIER_CARDS'"
        );
    }
    println!("\nPress Ctrl-C to stop.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!("stopping…");
    stack.stop().await;
    Ok(())
}

async fn publish(args: PublishArgs) -> anyhow::Result<()> {
    let raw =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let invoice: NewInvoice = serde_path_to_error::deserialize(
        &mut serde_json::Deserializer::from_slice(&raw),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{} is not a valid invoice:\n  {}: {}",
            args.file.display(),
            e.path(),
            ledgerdock_shared::http::describe_json_error(e.inner())
        )
    })?;
    let mut files = Vec::new();
    for path in &args.documents {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        eprintln!("  {} ({} KB)", file_name, bytes.len().div_ceil(1024));
        files.push(SoftCopy::Upload { file_name, bytes });
    }
    let (dynamodb, s3) = if args.aws {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        (
            aws_sdk_dynamodb::Client::new(&sdk),
            aws_sdk_s3::Client::new(&sdk),
        )
    } else {
        local_clients(&args.dynamodb_endpoint, &args.s3_endpoint)
    };
    let invoices = InvoiceStore::new(dynamodb, &args.table);
    // Publishing signs no download URLs: the store's URL lifetime is never used here.
    let documents = DocumentStore::new(s3, &args.bucket, DEFAULT_DOWNLOAD_URL_TTL);
    let publisher = Publisher {
        invoices: &invoices,
        documents: &documents,
    };
    eprintln!(
        "publishing {} ({} lines, {} documents) to {}…",
        invoice.invoice_number,
        invoice.line_items.len(),
        files.len(),
        if args.aws {
            format!("table {} in AWS", args.table)
        } else {
            format!("the local stack at {}", args.dynamodb_endpoint)
        }
    );
    match publisher.publish(args.company, invoice, files).await {
        Ok((id, outcome)) => {
            let verb = if outcome == PublishOutcome::Created {
                "published"
            } else {
                "republished"
            };
            println!("{}", serde_json::json!({"invoiceId": id, "outcome": verb}));
            Ok(())
        }
        Err(ApiError::Validation { details, .. }) => {
            let lines: Vec<String> = details
                .iter()
                .map(|d| format!("  {}: {}", d.field, d.message))
                .collect();
            anyhow::bail!("the invoice is invalid:\n{}", lines.join("\n"))
        }
        Err(e) => anyhow::bail!("{e}: {e:?}"),
    }
}
