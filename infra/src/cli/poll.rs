//! `ledgerdock poll`: the reference connector (see `connector::poll` for how it never exports
//! an invoice twice).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ledgerdock_shared::domain::claims::{
    DEFAULT_CLAIM, DEFAULT_LEASE_SECS, MAX_CLAIM, MAX_LEASE_SECS, MIN_LEASE_SECS,
};

use super::connection::ConnectionArgs;
use crate::connector::api::Api;
use crate::connector::poll::{PollOptions, Poller};

#[derive(Args)]
pub struct PollArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// The directory invoices are exported into: `<id>.json` and its soft copies.
    #[arg(long)]
    out: PathBuf,
    /// Invoices per claim.
    #[arg(long, default_value_t = DEFAULT_CLAIM,
          value_parser = clap::value_parser!(u64).range(1..=MAX_CLAIM))]
    batch: u64,
    /// How long a claim lasts, in seconds: longer than exporting a batch takes.
    #[arg(long, default_value_t = DEFAULT_LEASE_SECS,
          value_parser = clap::value_parser!(u64).range(MIN_LEASE_SECS..=MAX_LEASE_SECS))]
    lease: u64,
    /// Invoices exported side by side.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    workers: u16,
    /// Keep running: follow the event feed for new invoices instead of ending when the queue
    /// is empty.
    #[arg(long)]
    follow: bool,
    /// How often `--follow` reads the feed, in seconds.
    #[arg(long, default_value_t = 2)]
    feed_interval: u64,
    /// No progress bar or notes on stderr (skipped invoices and the summary are still told).
    #[arg(long)]
    quiet: bool,
}

pub async fn run(args: PollArgs) -> anyhow::Result<()> {
    let api = Api::new(args.connection.target()?)?;
    let poller = Poller::start(
        api,
        PollOptions {
            out: args.out.clone(),
            batch: args.batch,
            lease: Duration::from_secs(args.lease),
            workers: args.workers.into(),
            follow: args.follow,
            feed_interval: Duration::from_secs(args.feed_interval.max(1)),
            quiet: args.quiet,
        },
    )
    .await?;
    let summary = poller.run().await?;
    println!(
        "{}",
        serde_json::json!({
            "exported": summary.exported,
            "skipped": summary.skipped,
            "out": args.out,
        })
    );
    Ok(())
}
