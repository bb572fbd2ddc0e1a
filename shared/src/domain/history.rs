//! An invoice's history: each change of its state, when, by whom, and in which request.

use serde::{Deserialize, Serialize};

use crate::domain::{
    ExportRecord, InvoiceHeader, InvoiceId, InvoiceStatus, RejectionRecord, Timestamp,
};

/// What happened to an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateChange {
    /// Put into the export queue for the first time.
    Published,
    /// Published again: new content while it waited, or back in the queue after a rejection.
    Republished,
    /// Claimed by a client for a while (`claimedUntil`).
    Claimed,
    /// Marked exported (`externalId`, `externalUrl`).
    Completed,
    /// Rejected (`reason`, `code`).
    Rejected,
}

/// One entry of an invoice's history, as `GET /v1/invoices/{invoiceId}/history` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub invoice_id: InvoiceId,
    pub change: StateChange,
    /// When the change was made (the write's own time).
    pub at: Timestamp,
    /// The status it left the invoice in.
    pub status: InvoiceStatus,
    /// The client that made it; none when the platform published.
    pub client_id: Option<String>,
    /// The request that made it (its `X-Request-Id`).
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_until: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<RejectionRecord>,
}

impl HistoryEntry {
    /// The entry a write that turned `old` into `new` makes, if it changed the invoice's state
    /// (a write that changed nothing a history tells of makes none).
    pub fn of_write(old: Option<&InvoiceHeader>, new: &InvoiceHeader) -> Option<Self> {
        use InvoiceStatus::{Exported, ReadyForExport, Rejected};
        let change = match (old.map(|o| o.status), new.status) {
            (None, ReadyForExport) => StateChange::Published,
            (Some(Rejected | Exported), ReadyForExport) => StateChange::Republished,
            (Some(ReadyForExport), ReadyForExport) => {
                // Every publish writes its lines as a new generation; a claim keeps them.
                let old = old?;
                if old.lines_version != new.lines_version {
                    StateChange::Republished
                } else if new.claimed_until.is_some() && old.claimed_until != new.claimed_until {
                    StateChange::Claimed
                } else {
                    return None;
                }
            }
            (Some(ReadyForExport) | None, Exported) => StateChange::Completed,
            (Some(ReadyForExport) | None, Rejected) => StateChange::Rejected,
            _ => return None,
        };
        Some(Self {
            invoice_id: new.invoice_id,
            change,
            at: new.updated_at,
            status: new.status,
            client_id: new.changed_by.clone(),
            request_id: new.change_request_id.clone(),
            claimed_until: (change == StateChange::Claimed)
                .then_some(new.claimed_until)
                .flatten(),
            export: (change == StateChange::Completed)
                .then(|| new.export.clone())
                .flatten(),
            rejection: (change == StateChange::Rejected)
                .then(|| new.rejection.clone())
                .flatten(),
        })
    }
}
