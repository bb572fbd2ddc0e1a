//! `GET /v1/invoices/exportable?limit&continuationKey`: a page of invoice IDs ready for export.

use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::HandlerFuture;
use crate::app::AppState;
use crate::auth::Scope;
use crate::domain::InvoiceId;
use crate::error::ApiError;
use crate::http;
use crate::store::invoices::parse_queue_position;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 200;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    items: Vec<InvoiceId>,
    /// Null exactly when nothing is left.
    continuation_key: Option<String>,
}

pub fn boxed(state: &AppState, req: Request) -> HandlerFuture<'_> {
    Box::pin(handle(state, req))
}

pub async fn handle(state: &AppState, req: Request) -> Response<Body> {
    http::serve(req, |req| run(state, req)).await
}

fn parse_limit(raw: Option<String>) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::field(
            "limit",
            format!("must be a whole number from 1 to {MAX_LIMIT}, got {raw:?}"),
        )),
    }
}

async fn run(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    let tenant = state.authorize(&req, Scope::InvoicesRead).await?;
    let limit = parse_limit(http::query(&req, "limit"))?;
    let after = match http::query(&req, "continuationKey").filter(|k| !k.is_empty()) {
        None => None,
        Some(key) => {
            let position = state.continuation.open(tenant.company, &key)?;
            // A correctly signed key always carries a valid position; check anyway before
            // anything from a client reaches a query.
            if parse_queue_position(&position).is_none() {
                return Err(ApiError::InvalidContinuationKey(
                    "continuationKey is not valid".into(),
                ));
            }
            Some(position)
        }
    };
    let page = state
        .invoices
        .list_exportable(tenant.company, after.as_deref(), limit)
        .await?;
    let continuation_key = page
        .next_position
        .map(|p| state.continuation.seal(tenant.company, &p));
    http::ok(&Page {
        items: page.invoice_ids,
        continuation_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds() {
        assert_eq!(parse_limit(None).unwrap(), 100);
        assert_eq!(parse_limit(Some("1".into())).unwrap(), 1);
        assert_eq!(parse_limit(Some("200".into())).unwrap(), 200);
        for bad in ["0", "201", "-1", "abc", "", "1.5"] {
            assert!(parse_limit(Some(bad.into())).is_err(), "{bad}");
        }
    }
}
