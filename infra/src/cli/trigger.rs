//! `ledgerdock trigger <event>`: makes the change behind an event happen in the dev stack, so
//! the event is real: written through the same store code a function runs, captured as the
//! table's stream would carry it, fanned out to webhooks, the feed and the history.
//!
//! - `invoice.ready_for_export`: a new sample invoice is published (with its soft copies);
//! - `invoice.exported` / `invoice.rejected`: one is published, then completed or rejected
//!   (so its `ready_for_export` comes first, as it would);
//!
//! acting as client `ledgerdock-trigger`, so the history says who did it.

use anyhow::Context;
use clap::{Args, ValueEnum};
use ledgerdock_shared::domain::{
    Actor, CompanyId, CompleteRequest, RejectRequest, Timestamp, Transition,
};
use ledgerdock_shared::edge::config::{DEFAULT_DOWNLOAD_URL_TTL, ENV_BUCKET, ENV_TABLE};
use ledgerdock_shared::features::publish::Publisher;
use ledgerdock_shared::store::documents::DocumentStore;
use ledgerdock_shared::store::invoices::InvoiceStore;

use crate::dev::seed::{sample_invoice, DEMO_COMPANIES};
use crate::dev::{local_sdk, DEFAULT_BUCKET, DEFAULT_TABLE};

#[derive(Clone, Copy, ValueEnum)]
pub enum TriggeredEvent {
    #[value(name = "invoice.ready_for_export")]
    InvoiceReadyForExport,
    #[value(name = "invoice.exported")]
    InvoiceExported,
    #[value(name = "invoice.rejected")]
    InvoiceRejected,
}

#[derive(Args)]
pub struct TriggerArgs {
    /// The event to cause.
    event: TriggeredEvent,
    /// The company it happens in (default: the first demo company).
    #[arg(long)]
    company: Option<CompanyId>,
    /// DynamoDB endpoint of the dev stack.
    #[arg(long, default_value = "http://127.0.0.1:3002")]
    dynamodb_endpoint: String,
    /// S3 endpoint of the dev stack.
    #[arg(long, default_value = "http://127.0.0.1:3001")]
    s3_endpoint: String,
    #[arg(long, env = ENV_TABLE, default_value = DEFAULT_TABLE)]
    table: String,
    #[arg(long, env = ENV_BUCKET, default_value = DEFAULT_BUCKET)]
    bucket: String,
}

/// The client the history names for what `trigger` did.
const TRIGGER_CLIENT: &str = "ledgerdock-trigger";

pub async fn run(args: TriggerArgs) -> anyhow::Result<()> {
    let company = args.company.unwrap_or(DEMO_COMPANIES[0].company_id);
    let (dynamodb, s3) = local_sdk(&args.dynamodb_endpoint, &args.s3_endpoint);
    let invoices = InvoiceStore::new(dynamodb, &args.table);
    let documents = DocumentStore::new(s3, &args.bucket, DEFAULT_DOWNLOAD_URL_TTL);
    // A number no earlier trigger used this day.
    let n = u32::try_from(Timestamp::now().as_datetime().timestamp_millis() % 100_000_000)
        .unwrap_or_default();
    let (invoice, files) = sample_invoice(n);
    let number = invoice.invoice_number.clone();
    let (id, _) = Publisher {
        invoices: &invoices,
        documents: &documents,
    }
    .publish(company, invoice, files)
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
    .with_context(|| {
        format!(
            "publishing a sample invoice into the dev stack at {} (is `ledgerdock dev` running?)",
            args.dynamodb_endpoint
        )
    })?;
    let by = Actor {
        client_id: TRIGGER_CLIENT.into(),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let decided = match args.event {
        TriggeredEvent::InvoiceReadyForExport => None,
        TriggeredEvent::InvoiceExported => {
            let request: CompleteRequest =
                serde_json::from_value(serde_json::json!({ "externalId": format!("TRG-{n}") }))?;
            Some(Transition::Complete(request.record(Timestamp::now())))
        }
        TriggeredEvent::InvoiceRejected => {
            let request: RejectRequest = serde_json::from_value(serde_json::json!({
                "reason": "Rejected by `ledgerdock trigger invoice.rejected`",
                "code": "TRIGGERED",
            }))?;
            let record = request
                .record(Timestamp::now())
                .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
            Some(Transition::Reject(record))
        }
    };
    if let Some(transition) = &decided {
        invoices
            .transition(company, id, transition, &by)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!(
        "{}",
        serde_json::json!({
            "event": args.event.to_possible_value().map(|v| v.get_name().to_string()),
            "companyId": company,
            "invoiceId": id,
            "invoiceNumber": number,
        })
    );
    Ok(())
}
