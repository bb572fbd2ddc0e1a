//! `ledgerdock listen --forward-to URL`: a company's events, forwarded to a local receiver as
//! signed webhook deliveries (see `connector::listen`).

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ledgerdock_shared::domain::webhook::EventType;
use ledgerdock_shared::domain::webhook_signing::SigningSecret;
use ledgerdock_shared::domain::Timestamp;

use super::connection::ConnectionArgs;
use crate::connector::api::Api;
use crate::connector::listen::{listen, ListenOptions};

#[derive(Args)]
pub struct ListenArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Where to send the deliveries, e.g. http://localhost:8080/hooks.
    #[arg(long)]
    forward_to: String,
    /// Forward the events this subscription receives, signed with its secret (`--secret`).
    #[arg(long, conflicts_with = "events")]
    subscription: Option<String>,
    /// Only these event types, comma-separated (default: every type the client may read).
    #[arg(long, value_delimiter = ',')]
    events: Vec<String>,
    /// The signing secret (`whsec_…`): the subscription's, so the receiver verifies as it will
    /// in production. Default: a new one for this session, printed at start.
    #[arg(long, env = "LEDGERDOCK_WEBHOOK_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Forward the events from this time on (RFC 3339), not only the ones from now.
    #[arg(long)]
    since: Option<String>,
    /// How often the feed is read at its end, in seconds.
    #[arg(long, default_value_t = 1)]
    interval: u64,
}

#[derive(serde::Deserialize)]
struct Subscription {
    events: Vec<String>,
}

pub async fn run(args: ListenArgs) -> anyhow::Result<()> {
    let api = Api::new(args.connection.target()?)?;
    for name in &args.events {
        EventType::parse_list("--events", std::slice::from_ref(name))
            .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
    }
    let types = match &args.subscription {
        Some(id) => {
            let subscription: Subscription = api
                .get(&format!("/v1/webhook-subscriptions/{id}"))
                .await
                .with_context(|| format!("reading subscription {id}"))?;
            subscription.events
        }
        None => args.events,
    };
    let secret = match args.secret {
        Some(shown) => SigningSecret::parse(&shown).map_err(|e| anyhow::anyhow!("--secret {e}"))?,
        None => {
            let secret = SigningSecret::generate().map_err(|e| anyhow::anyhow!(e))?;
            eprintln!(
                "signing with a secret made for this session: {}",
                secret.reveal()
            );
            secret
        }
    };
    let since = match args.since {
        Some(raw) => Some(Timestamp::parse(&raw).map_err(|e| anyhow::anyhow!("--since {e}"))?),
        None => None,
    };
    listen(
        &api,
        ListenOptions {
            forward_to: args.forward_to,
            types,
            secret,
            since,
            interval: Duration::from_secs(args.interval.max(1)),
        },
    )
    .await
}
