//! `ledgerdock invoices publish`: the platform's internal publish path, from the command line
//! (into the local stack, or into AWS with `--aws`).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use ledgerdock_shared::domain::{CompanyId, NewInvoice};
use ledgerdock_shared::edge::config::{DEFAULT_DOWNLOAD_URL_TTL, ENV_BUCKET, ENV_TABLE};
use ledgerdock_shared::features::publish::{Publisher, SoftCopy};
use ledgerdock_shared::store::documents::DocumentStore;
use ledgerdock_shared::store::invoices::{InvoiceStore, PublishOutcome};
use ledgerdock_shared::ApiError;

use crate::dev::{local_sdk, DEFAULT_BUCKET, DEFAULT_TABLE};

#[derive(Subcommand)]
pub enum InvoicesCommand {
    /// Publish one invoice (JSON) with its soft copies into a company's export queue.
    Publish(PublishArgs),
}

#[derive(Args)]
pub struct PublishArgs {
    /// The company (UUID) whose queue receives the invoice.
    #[arg(long)]
    company: CompanyId,
    /// The invoice JSON (see docs/operations.md, "Publishing invoices").
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

pub async fn run(command: InvoicesCommand) -> anyhow::Result<()> {
    match command {
        InvoicesCommand::Publish(args) => publish(args).await,
    }
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
            ledgerdock_shared::edge::describe_json_error(e.inner())
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
        local_sdk(&args.dynamodb_endpoint, &args.s3_endpoint)
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
