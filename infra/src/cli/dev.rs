//! `ledgerdock dev`: the whole API on this machine, with a banner that says where and how.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ledgerdock_shared::domain::webhook::UrlPolicy;
use ledgerdock_shared::edge::config::{
    DEFAULT_DOWNLOAD_URL_TTL, DEFAULT_IMPORT_UPLOAD_GRACE, DEFAULT_UPLOAD_URL_TTL,
};

use crate::dev::{DevOptions, DevStack};

#[derive(Args)]
pub struct DevArgs {
    /// Address to listen on (all four ports).
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
    /// Embedded SQS engine port (the webhook attempt queue).
    #[arg(long, default_value_t = 3003)]
    sqs_port: u16,
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
    /// Webhook URLs as AWS takes them: https:// to public addresses only (by default a
    /// receiver on this machine, http://127.0.0.1:…, may be subscribed too).
    #[arg(long)]
    aws_webhook_urls: bool,
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    if args.download_url_ttl == 0 || args.download_url_ttl > 3600 {
        anyhow::bail!("--download-url-ttl must be between 1 and 3600 seconds");
    }
    let stack = DevStack::start(DevOptions {
        host: args.host,
        port: args.port,
        s3_port: args.s3_port,
        dynamodb_port: args.dynamodb_port,
        sqs_port: args.sqs_port,
        data_dir: args.data_dir,
        in_memory: args.in_memory,
        seed_demo: args.seed_demo,
        external_dynamodb: args.dynamodb_endpoint,
        download_url_ttl: Duration::from_secs(args.download_url_ttl),
        upload_url_ttl: Duration::from_secs(args.upload_url_ttl),
        import_upload_grace: Duration::from_secs(args.import_upload_grace),
        webhook_urls: if args.aws_webhook_urls {
            UrlPolicy::Public
        } else {
            UrlPolicy::AllowLoopback
        },
        verbose: true,
        ..DevOptions::default()
    })
    .await?;
    println!("\nledgerdock dev is running");
    println!("  API        {}   (GET /health)", stack.api_url);
    println!("  Token URL  {}", stack.token_url);
    println!("  S3         {}", stack.s3_url);
    println!("  DynamoDB   {}", stack.dynamodb_url);
    println!("  SQS        {}   (webhook attempts)", stack.queue.url);
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
        println!(
            "\nBe told instead of polling (a receiver on this machine; docs/connector-guide.md, \"Webhooks\"):"
        );
        println!(
            "  curl -s \"${{H[@]}}\" -X POST -H 'Content-Type: application/json' -d '{{\"url\":\"http://127.0.0.1:8787/hooks\",\"events\":[\"invoice.exported\"]}}' {api}/v1/webhook-subscriptions"
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
