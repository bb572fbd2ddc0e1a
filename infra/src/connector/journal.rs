//! The poll's claim journal: what it claimed and what it finished, so that a run after a crash
//! finishes the previous run's claims at once instead of waiting for their leases to end.
//!
//! One line per fact, appended and flushed to disk before the poll acts on it:
//!
//! | line | written | means |
//! |---|---|---|
//! | `claiming <n> <sentAtMs> <leaseSeconds>` | before a claim is sent | claim `n` may hold invoices from now until its lease ends |
//! | `claimed <n> <id> <id> …` | when its answer came | these invoices are ours to export |
//! | `done <id>` | when the invoice is completed (or turned out not to be ours) | nothing left to do for it |
//!
//! A `claiming` without its `claimed` is a claim whose answer was lost (killed while it was
//! on the way): its invoices are hidden from every claim until `sentAt + lease +`
//! [`COMMIT_DELAY`] (the lease runs from when the claim commits, which may be a while after it
//! was sent), and the journal says until when, so a run that finds the queue empty knows to wait that long
//! rather than end with invoices it cannot see. A line cut short by a crash is ignored: a cut
//! `claiming` was never sent, a cut `claimed` is a lost answer, a cut `done` is done again
//! (completing is idempotent with the same `externalId`). When nothing is open the journal is
//! emptied, so it never grows past the claims in flight.

use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use ledgerdock_shared::domain::InvoiceId;

/// How long after it is sent a claim may still commit. A claim commits while its function
/// runs: Lambda ends it at the function's timeout (10 s for `claim-invoice-exports`) and API
/// Gateway gives up on the request after 29 s, so a claim sent at `t` starts its lease by
/// `t + 30 s`. (A kill test on a loaded DynamoDB Local found a run that waited only `sentAt +
/// lease`: the claim had committed seconds after it was sent, and its invoice stayed hidden
/// after the run ended.)
pub const COMMIT_DELAY: Duration = Duration::from_secs(30);

pub struct Journal {
    path: PathBuf,
    file: File,
    /// Claimed, not done.
    open: BTreeSet<InvoiceId>,
    /// Claims sent whose answers are not recorded: their number and until when they may hide
    /// invoices.
    unanswered: HashMap<u64, DateTime<Utc>>,
    next_claim: u64,
}

impl Journal {
    /// Opens the journal at `path` (creating it) and reads what an earlier run left.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read(path).unwrap_or_default();
        let mut journal = Self {
            path: path.to_path_buf(),
            file: OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
            open: BTreeSet::new(),
            unanswered: HashMap::new(),
            next_claim: 1,
        };
        // Only whole lines: the last may have been cut by a crash.
        let whole = match text.iter().rposition(|b| *b == b'\n') {
            Some(end) => &text[..=end],
            None => &[][..],
        };
        for line in String::from_utf8_lossy(whole).lines() {
            journal.replay(line);
        }
        Ok(journal)
    }

    fn replay(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        match (
            words.next(),
            words.next().and_then(|n| n.parse::<u64>().ok()),
        ) {
            (Some("claiming"), Some(n)) => {
                let sent = words.next().and_then(|w| w.parse::<i64>().ok());
                let lease = words.next().and_then(|w| w.parse::<u64>().ok());
                if let (Some(sent), Some(lease)) = (sent, lease) {
                    if let Some(sent) = DateTime::from_timestamp_millis(sent) {
                        self.unanswered
                            .insert(n, sent + Duration::from_secs(lease) + COMMIT_DELAY);
                    }
                }
                self.next_claim = self.next_claim.max(n + 1);
            }
            (Some("claimed"), Some(n)) => {
                self.unanswered.remove(&n);
                self.open
                    .extend(words.filter_map(|w| w.parse::<InvoiceId>().ok()));
            }
            _ => {
                if let Some(id) = line
                    .strip_prefix("done ")
                    .and_then(|w| w.trim().parse().ok())
                {
                    self.open.remove(&id);
                }
            }
        }
    }

    fn append(&mut self, line: &str) -> anyhow::Result<()> {
        self.file.write_all(format!("{line}\n").as_bytes())?;
        self.file.sync_data()?;
        self.replay(line);
        Ok(())
    }

    /// Records a claim about to be sent with `lease`; its number, for [`Self::claimed`].
    pub fn claiming(&mut self, lease: Duration) -> anyhow::Result<u64> {
        let n = self.next_claim;
        let line = format!(
            "claiming {n} {} {}",
            Utc::now().timestamp_millis(),
            lease.as_secs()
        );
        self.append(&line)?;
        Ok(n)
    }

    /// Records claim `n`'s answer.
    pub fn claimed(&mut self, n: u64, ids: &[InvoiceId]) -> anyhow::Result<()> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        self.append(&format!("claimed {n} {}", ids.join(" ")))?;
        self.compact_if_settled()
    }

    /// Records claim `n` as refused (nothing held by it).
    pub fn refused(&mut self, n: u64) -> anyhow::Result<()> {
        self.claimed(n, &[])
    }

    pub fn done(&mut self, id: InvoiceId) -> anyhow::Result<()> {
        self.append(&format!("done {id}"))?;
        self.compact_if_settled()
    }

    /// Invoices claimed and not yet done (an earlier run's, on opening).
    pub fn open_claims(&self) -> Vec<InvoiceId> {
        self.open.iter().copied().collect()
    }

    /// Until when a claim whose answer was lost may still hide invoices (the latest, if any
    /// has not ended).
    pub fn hidden_until(&self) -> Option<DateTime<Utc>> {
        self.unanswered
            .values()
            .copied()
            .max()
            .filter(|t| *t > Utc::now())
    }

    /// Empties the journal once nothing in it is open (lost answers whose leases ended count as
    /// settled).
    fn compact_if_settled(&mut self) -> anyhow::Result<()> {
        let now = Utc::now();
        if !self.open.is_empty() || self.unanswered.values().any(|t| *t > now) {
            return Ok(());
        }
        self.unanswered.clear();
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        super::out_dir::write_atomically(dir, &name, b"")?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn id(n: u8) -> InvoiceId {
        InvoiceId::from_str(&format!("00000000-0000-4000-8000-0000000000{n:02}")).unwrap()
    }

    #[test]
    fn a_reopened_journal_holds_the_claims_not_yet_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut journal = Journal::open(&path).unwrap();
        let n = journal.claiming(Duration::from_secs(300)).unwrap();
        journal.claimed(n, &[id(1), id(2), id(3)]).unwrap();
        journal.done(id(2)).unwrap();
        drop(journal);
        let reopened = Journal::open(&path).unwrap();
        assert_eq!(reopened.open_claims(), [id(1), id(3)]);
        assert_eq!(reopened.hidden_until(), None);
    }

    #[test]
    fn a_claim_whose_answer_was_lost_hides_invoices_until_its_lease_has_surely_ended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut journal = Journal::open(&path).unwrap();
        let before = Utc::now();
        journal.claiming(Duration::from_secs(60)).unwrap();
        // Killed while the answer was on the way, and while writing it down.
        journal
            .file
            .write_all(b"claimed 1 00000000-0000-40")
            .unwrap();
        drop(journal);
        let reopened = Journal::open(&path).unwrap();
        let until = reopened.hidden_until().expect("a lost claim");
        // Kept to the millisecond, from the latest moment the claim could have committed.
        let lease = Duration::from_secs(60) + COMMIT_DELAY;
        assert!(until + Duration::from_millis(1) >= before + lease);
        assert!(until <= Utc::now() + lease);
        assert!(reopened.open_claims().is_empty());
    }

    #[test]
    fn the_journal_is_emptied_when_every_claim_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut journal = Journal::open(&path).unwrap();
        let n = journal.claiming(Duration::from_secs(60)).unwrap();
        journal.claimed(n, &[id(1)]).unwrap();
        journal.done(id(1)).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        let n = journal.claiming(Duration::from_secs(60)).unwrap();
        journal.claimed(n, &[id(4)]).unwrap();
        drop(journal);
        assert_eq!(Journal::open(&path).unwrap().open_claims(), [id(4)]);
    }
}
