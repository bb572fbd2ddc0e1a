//! The one body of both bulk calls (`POST /v1/invoices/complete` and `/reject`): each item is
//! what its single call would do (one conditional UpdateItem, issued concurrently) and is
//! answered as it would be, in its own result, in request order, by the deadline that leaves
//! room inside API Gateway's. A malformed body is one 400 naming every bad item, and changes
//! nothing.

use lambda_http::{Body, Request, Response};
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::domain::{BulkRequest, ExportState, InvoiceId, Timestamp, Transition};
use crate::edge;
use crate::foundation::error::{ApiError, FieldError};
use crate::gate::Tenant;
use crate::store::invoices::BULK_DEADLINE;

/// How a bulk body's items become their invoices' records (`BulkRequest::records`).
pub(crate) type Records<I, R> =
    fn(BulkRequest<I>, Timestamp) -> Result<Vec<(InvoiceId, R)>, Vec<FieldError>>;

pub(crate) async fn settle_each<I, R>(
    state: &AppState,
    tenant: Tenant,
    req: Request,
    records: Records<I, R>,
) -> Result<Response<Body>, ApiError>
where
    BulkRequest<I>: DeserializeOwned,
    R: Into<Transition>,
{
    let body: BulkRequest<I> = edge::json_body_up_to(&req, false, MAX_BULK_BODY_BYTES, "")?;
    let transitions = records(body, Timestamp::now())
        .map_err(ApiError::fields)?
        .into_iter()
        .map(|(invoice, record)| (invoice, record.into()))
        .collect();
    let deadline = tokio::time::Instant::now() + BULK_DEADLINE;
    let results = state
        .invoices
        .transition_each(
            tenant.company,
            transitions,
            &tenant.acting_in(&req),
            deadline,
        )
        .await;
    item_results(results)
}

/// Largest body a bulk complete or reject call takes: its 100 items at their longest, written
/// plainly, fit (about 0.95 MB with 2,048 four-byte characters in every URL), and it is a third
/// of Lambda's 6 MB.
const MAX_BULK_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The answer of a bulk complete or reject call: 200 with one result per item in request
/// order. Each `status` is what the single call would have answered for that invoice (200,
/// 404, 409, or 503 and 500 for a failure of ours worth retrying), with the invoice's export
/// state on success and the single call's error object otherwise; `succeeded` and `failed`
/// count them.
fn item_results(
    results: Vec<(InvoiceId, Result<ExportState, ApiError>)>,
) -> Result<Response<Body>, ApiError> {
    let succeeded = results.iter().filter(|(_, r)| r.is_ok()).count();
    let failed = results.len() - succeeded;
    let items: Vec<serde_json::Value> = results
        .into_iter()
        .map(|(invoice_id, result)| match result {
            Ok(state) => serde_json::json!({
                "invoiceId": invoice_id,
                "status": 200,
                "invoice": state,
            }),
            Err(e) => {
                e.log();
                serde_json::json!({
                    "invoiceId": invoice_id,
                    "status": e.status().as_u16(),
                    "error": e.error_object(),
                })
            }
        })
        .collect();
    edge::ok(&serde_json::json!({
        "results": items,
        "succeeded": succeeded,
        "failed": failed,
    }))
}
