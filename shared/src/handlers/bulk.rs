//! The one body of both bulk calls (`POST /v1/invoices/complete` and `/reject`): each item is
//! what its single call would do (one conditional UpdateItem, issued concurrently) and is
//! answered as it would be, in its own result, in request order, by the deadline that leaves
//! room inside API Gateway's. A malformed body is one 400 naming every bad item, and changes
//! nothing.

use lambda_http::{Body, Request, Response};
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::domain::{BulkRequest, InvoiceId, Timestamp, Transition};
use crate::edge;
use crate::error::{ApiError, FieldError};
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
    let body: BulkRequest<I> = edge::json_body_up_to(&req, false, edge::MAX_BULK_BODY_BYTES, "")?;
    let transitions = records(body, Timestamp::now())
        .map_err(ApiError::fields)?
        .into_iter()
        .map(|(invoice, record)| (invoice, record.into()))
        .collect();
    let deadline = tokio::time::Instant::now() + BULK_DEADLINE;
    let results = state
        .invoices
        .transition_each(tenant.company, transitions, deadline)
        .await;
    edge::item_results(results)
}
