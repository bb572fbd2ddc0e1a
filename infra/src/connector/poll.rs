//! `ledgerdock poll`: the reference connector. It claims invoices, writes each into a
//! directory as its ERP would receive it, completes it there, and never exports one twice,
//! however often it is killed:
//!
//! 1. Every claim is written to the [`Journal`] before it is sent and again when its answer
//!    comes; every finished invoice after it is completed.
//! 2. An invoice is exported by writing its soft copies, then its JSON (each whole or not at
//!    all, see [`OutDir`]), then completing it with `externalId` = its JSON's file name: the
//!    same on every run, and completing an exported invoice again with the same `externalId`
//!    is answered as a success without changing anything.
//! 3. On start, the invoices an earlier run claimed and did not finish are finished first: an
//!    invoice whose JSON is there is only completed; one whose files are not is exported.
//! 4. An invoice the poll cannot complete (its lease ended and another client holds it now,
//!    or another client already decided it) has its files removed again: the directory holds
//!    exactly the invoices this connector exported.
//!
//! With `--follow` it does not end when the queue is empty: it reads the event feed for
//! `invoice.ready_for_export` and claims when something arrives (and every minute anyway, for
//! claims of other workers whose leases ended, which make no event).

use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use http::Method;
use ledgerdock_shared::domain::events::{FeedCursor, SETTLE};
use ledgerdock_shared::domain::{DocumentFormat, InvoiceId, Timestamp};
use serde::Deserialize;
use serde_json::json;

use super::api::{Api, Refused};
use super::journal::Journal;
use super::out_dir::OutDir;
use super::progress::Progress;

pub struct PollOptions {
    pub out: std::path::PathBuf,
    /// Invoices per claim (1–100).
    pub batch: u64,
    pub lease: Duration,
    /// Invoices exported side by side.
    pub workers: usize,
    pub follow: bool,
    /// How often `--follow` reads the feed when it is at its end.
    pub feed_interval: Duration,
    pub quiet: bool,
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub exported: u64,
    pub skipped: u64,
}

/// How often `--follow` claims with no news from the feed.
const CLAIM_AT_LEAST_EVERY: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claimed {
    invoice_ids: Vec<InvoiceId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdPage {
    items: Vec<InvoiceId>,
    continuation_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DownloadUrl {
    url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventPage {
    items: Vec<serde_json::Value>,
    next_cursor: String,
    has_more: bool,
}

/// What became of one invoice.
enum Outcome {
    Exported,
    Skipped(String),
}

pub struct Poller {
    api: Api,
    out: OutDir,
    journal: Mutex<Journal>,
    progress: Mutex<Progress>,
    options: PollOptions,
}

impl Poller {
    pub async fn start(api: Api, options: PollOptions) -> anyhow::Result<Self> {
        let out = OutDir::open(&options.out)?;
        let journal = Journal::open(&out.state_file("journal"))?;
        let waiting = count_ready(&api).await?;
        Ok(Self {
            progress: Mutex::new(Progress::new(waiting, options.quiet)),
            journal: Mutex::new(journal),
            api,
            out,
            options,
        })
    }

    pub async fn run(self) -> anyhow::Result<Summary> {
        let left_over = self.journal().open_claims();
        if !left_over.is_empty() {
            self.say(&format!(
                "finishing {} invoices an earlier run claimed",
                left_over.len()
            ));
            self.export_all(left_over).await?;
        }
        loop {
            let claimed = self.claim().await?;
            if !claimed.is_empty() {
                let handled = {
                    let progress = self.progress.lock().unwrap();
                    let (exported, skipped) = progress.counts();
                    exported + skipped
                };
                self.progress
                    .lock()
                    .unwrap()
                    .at_least(handled + claimed.len() as u64);
                self.export_all(claimed).await?;
                continue;
            }
            let hidden_until = self.journal().hidden_until();
            if let Some(until) = hidden_until {
                // A claim of a killed run hides invoices nobody can claim until it ends.
                let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
                self.say(&format!(
                    "waiting {}s for the lease of a claim whose answer a killed run lost",
                    wait.as_secs() + 1
                ));
                tokio::time::sleep(wait + Duration::from_secs(1)).await;
                continue;
            }
            if !self.options.follow {
                break;
            }
            self.wait_for_news().await?;
        }
        let mut progress = self.progress.lock().unwrap();
        progress.finish();
        let (exported, skipped) = progress.counts();
        Ok(Summary { exported, skipped })
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap()
    }

    fn say(&self, line: &str) {
        self.progress.lock().unwrap().note(line);
    }

    /// One claim, journaled before it is sent and when it is answered.
    async fn claim(&self) -> anyhow::Result<Vec<InvoiceId>> {
        let n = self.journal().claiming(self.options.lease)?;
        let body = json!({
            "limit": self.options.batch,
            "leaseSeconds": self.options.lease.as_secs(),
        });
        match self.api.post::<Claimed>("/v1/invoices/claims", &body).await {
            Ok(claimed) => {
                self.journal().claimed(n, &claimed.invoice_ids)?;
                Ok(claimed.invoice_ids)
            }
            Err(e) => {
                // A refusal claimed nothing; with no answer at all, the claim may have been
                // made: it stays unanswered in the journal, and the next run waits out its
                // lease.
                if e.downcast_ref::<Refused>().is_some() {
                    self.journal().refused(n)?;
                }
                Err(e.context("claiming invoices"))
            }
        }
    }

    async fn export_all(&self, ids: Vec<InvoiceId>) -> anyhow::Result<()> {
        let mut results = futures_util::stream::iter(ids)
            .map(|id| async move { (id, self.export(id).await) })
            .buffer_unordered(self.options.workers.max(1));
        while let Some((id, result)) = results.next().await {
            match result.with_context(|| format!("exporting invoice {id}"))? {
                Outcome::Exported => self.progress.lock().unwrap().exported(),
                Outcome::Skipped(why) => {
                    let mut progress = self.progress.lock().unwrap();
                    progress.warn(&format!("skipped invoice {id}: {why}"));
                    progress.skipped();
                }
            }
            self.journal().done(id)?;
        }
        Ok(())
    }

    /// Exports one invoice (see the module docs); safe to run again for the same invoice.
    async fn export(&self, id: InvoiceId) -> anyhow::Result<Outcome> {
        if !self.out.holds(id) {
            let reply = self
                .api
                .send(Method::GET, &format!("/v1/invoices/{id}"), None)
                .await?;
            if reply.status == 404 {
                return Ok(Outcome::Skipped("it no longer exists".into()));
            }
            let detail: serde_json::Value = if reply.status == 200 {
                serde_json::from_slice(&reply.body).context("reading the invoice's detail")?
            } else {
                return Err(anyhow::anyhow!("reading it: {}", reply.status));
            };
            let status = detail["status"].as_str().unwrap_or_default();
            if status != "READY_FOR_EXPORT" {
                return Ok(Outcome::Skipped(format!(
                    "it is {status}: another client decided it"
                )));
            }
            for document in detail["documents"].as_array().into_iter().flatten() {
                let format: DocumentFormat = serde_json::from_value(document["format"].clone())
                    .context("a document of an unknown format")?;
                self.download(id, format).await?;
            }
            let pretty = serde_json::to_vec_pretty(&detail)?;
            self.out
                .write_atomically(&OutDir::invoice_file_name(id), &pretty)?;
        }
        let body = json!({ "externalId": OutDir::invoice_file_name(id) });
        let reply = self
            .api
            .send(
                Method::POST,
                &format!("/v1/invoices/{id}/complete"),
                Some(&body),
            )
            .await?;
        match reply.status {
            200 => Ok(Outcome::Exported),
            404 | 409 => {
                let refused = Refused::from_reply(&reply);
                self.remove_files(id)?;
                Ok(Outcome::Skipped(format!(
                    "completing it was refused ({}: {}); its files were removed",
                    refused.code, refused.message
                )))
            }
            status => Err(anyhow::anyhow!(
                "completing it answered {status}: {}",
                String::from_utf8_lossy(&reply.body)
            )),
        }
    }

    async fn download(&self, id: InvoiceId, format: DocumentFormat) -> anyhow::Result<()> {
        let signed: DownloadUrl = self
            .api
            .get(&format!(
                "/v1/invoices/{id}/download-url?format={}",
                format.as_str()
            ))
            .await?;
        let reply = self
            .api
            .http()
            .send(Method::GET, &signed.url, &[], Vec::new())
            .await?;
        if reply.status != 200 {
            anyhow::bail!(
                "downloading its {} answered {}",
                format.as_str(),
                reply.status
            );
        }
        self.out
            .write_atomically(&format!("{id}.{}", format.extension()), &reply.body)
    }

    /// Removes an invoice's files: it was not exported by this connector after all.
    fn remove_files(&self, id: InvoiceId) -> anyhow::Result<()> {
        // The JSON first: without it the invoice is not in the directory.
        let mut names = vec![OutDir::invoice_file_name(id)];
        names.extend(
            DocumentFormat::ALL
                .iter()
                .map(|f| format!("{id}.{}", f.extension())),
        );
        for name in names {
            let path = self.out.root().join(name);
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            }
        }
        Ok(())
    }

    /// Reads the event feed until an invoice is ready (or [`CLAIM_AT_LEAST_EVERY`] passes).
    async fn wait_for_news(&self) -> anyhow::Result<()> {
        let cursor_file = self.out.state_file("feed-cursor");
        let mut cursor = std::fs::read_to_string(&cursor_file)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                // From a little before now: an invoice that arrived while the queue was being
                // drained has an event no older than the feed's settle window.
                FeedCursor::past(Timestamp::now().minus(SETTLE * 2))
                    .as_str()
                    .to_string()
            });
        let started = std::time::Instant::now();
        self.progress.lock().unwrap().draw(true);
        loop {
            let page: EventPage = self
                .api
                .get(&format!(
                    "/v1/events?types=invoice.ready_for_export&limit=500&after={cursor}"
                ))
                .await
                .context("reading the event feed")?;
            cursor = page.next_cursor;
            super::out_dir::write_atomically(
                cursor_file.parent().unwrap_or(self.out.root()),
                "feed-cursor",
                cursor.as_bytes(),
            )?;
            if !page.items.is_empty() || started.elapsed() >= CLAIM_AT_LEAST_EVERY {
                return Ok(());
            }
            if !page.has_more {
                tokio::time::sleep(self.options.feed_interval).await;
            }
        }
    }
}

/// How many invoices wait in the company's queue (for the progress bar).
async fn count_ready(api: &Api) -> anyhow::Result<u64> {
    let mut count = 0;
    let mut key: Option<String> = None;
    loop {
        let mut path = "/v1/invoices/exportable?limit=200".to_string();
        if let Some(key) = &key {
            path.push_str("&continuationKey=");
            path.extend(form_urlencoded::byte_serialize(key.as_bytes()));
        }
        let page: IdPage = api.get(&path).await.context("counting the queue")?;
        count += page.items.len() as u64;
        match page.continuation_key {
            Some(next) => key = Some(next),
            None => return Ok(count),
        }
    }
}
