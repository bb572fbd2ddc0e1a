//! The `ledgerdock` CLI: parses the command line and hands each command to its module in
//! `cli/`. Run `ledgerdock --help`.

use clap::{Parser, Subcommand};
use ledgerdock_infra::cli;

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
    Dev(cli::dev::DevArgs),
    /// Onboard and manage machine clients: credentials, company grants, scopes, rate limits.
    Clients(cli::clients::ClientsArgs),
    /// Manage invoices (the platform's internal publish path).
    Invoices {
        #[command(subcommand)]
        command: cli::invoices::InvoicesCommand,
    },
    /// The reference connector: claim invoices, write each into a directory, complete it;
    /// crash-safe (never exports one twice), with `--follow` to keep going.
    Poll(cli::poll::PollArgs),
    /// Forward a company's events to a local URL as signed webhook deliveries.
    Listen(cli::listen::ListenArgs),
    /// Cause a real event in the dev stack (publish, export or reject a sample invoice).
    Trigger(cli::trigger::TriggerArgs),
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
        Command::Dev(args) => cli::dev::run(args).await,
        Command::Clients(args) => cli::clients::run(args).await,
        Command::Invoices { command } => cli::invoices::run(command).await,
        Command::Poll(args) => cli::poll::run(args).await,
        Command::Listen(args) => cli::listen::run(args).await,
        Command::Trigger(args) => cli::trigger::run(args).await,
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
