//! Each invoice's history, derived from the table's change stream: a header write that changed
//! the invoice's state (published, republished, claimed, completed, rejected) becomes one entry,
//! with the client and request the write itself recorded (`changedBy`, `changeRequestId` on the
//! header). Written by the stream's consumer, never by the request that made the change, so
//! the history holds exactly the changes that committed: a refused complete leaves none, and
//! one that landed cannot go untold.

use crate::app::AppState;
use crate::domain::history::HistoryEntry;
use crate::domain::InvoiceHeader;
use crate::features::changes::{Change, Image};
use crate::foundation::error::ApiError;
use crate::store::history::InvoiceHistory;
use crate::store::schema::company_of_partition;

pub struct Historian {
    history: InvoiceHistory,
}

impl From<&AppState> for Historian {
    fn from(state: &AppState) -> Self {
        Self {
            history: state.history.clone(),
        }
    }
}

impl Historian {
    /// Writes the history entry of each change that has one: how many.
    pub async fn record(&self, changes: &[Change]) -> Result<usize, ApiError> {
        let entries: Vec<_> = changes
            .iter()
            .filter_map(|change| {
                let new = header(change.new.as_ref()?)?;
                let old = change.old.as_ref().and_then(header);
                let entry = HistoryEntry::of_write(old.as_ref(), &new)?;
                Some((new.company_id, change.record_id.clone(), entry))
            })
            .collect();
        if !entries.is_empty() {
            self.history.record(&entries).await?;
        }
        Ok(entries.len())
    }
}

/// The invoice header an image holds, if it holds one (not a line item, a job, a counter).
fn header(image: &Image) -> Option<InvoiceHeader> {
    let sk = image.get("SK")?.as_s().ok()?;
    // The company's own partition: a history entry's key starts the same, in another one.
    let pk = image.get("PK")?.as_s().ok()?;
    if pk.matches('#').count() != 1 {
        return None;
    }
    company_of_partition(pk)?;
    let id = sk.strip_prefix("INVOICE#")?;
    if id.contains('#') {
        return None;
    }
    serde_dynamo::from_item(image.clone()).ok()
}
