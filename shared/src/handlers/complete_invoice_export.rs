//! `POST /v1/invoices/{invoiceId}/complete`: mark exported. One conditional UpdateItem;
//! repeating the same call is a 200, a conflicting one a 409 with the current status.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use super::check_text;
use crate::app::AppState;
use crate::domain::text::Lines;
use crate::domain::Scope;
use crate::domain::{ExportRecord, InvoiceId, Timestamp};
use crate::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::http;
use crate::store::invoices::Transition;

/// Longest `externalUrl` stored: links into ERPs are far shorter, and the invoice item must
/// stay well within DynamoDB's 400 KB.
pub const MAX_EXTERNAL_URL_CHARS: usize = 2048;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CompleteRequest {
    /// The invoice's id in the receiving ERP.
    #[serde(default)]
    external_id: Option<String>,
    /// A link to the invoice in the receiving ERP.
    #[serde(default)]
    external_url: Option<String>,
}

pub const ROUTE: Route = Route {
    function: "complete-invoice-export",
    method: "POST",
    path: "/v1/invoices/{invoiceId}/complete",
    scope: Scope::InvoicesWrite,
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

fn validate(body: &CompleteRequest) -> Result<(), ApiError> {
    if let Some(id) = &body.external_id {
        check_text("externalId", id, 255, Lines::Single)?;
    }
    if let Some(url) = &body.external_url {
        let lower = url.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"));
        let well_formed = rest.is_some_and(|rest| !rest.is_empty())
            && url.chars().count() <= MAX_EXTERNAL_URL_CHARS
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !well_formed {
            return Err(ApiError::field(
                "externalUrl",
                format!("must be an absolute http(s) URL of at most {MAX_EXTERNAL_URL_CHARS} characters"),
            ));
        }
        if url.len() > 2048 {
            return Err(ApiError::field(
                "externalUrl",
                "must be at most 2048 characters",
            ));
        }
    }
    Ok(())
}

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let invoice_id: InvoiceId = http::path_param(&req, "invoiceId")?;
    let body: CompleteRequest = http::json_body(&req, true)?;
    validate(&body)?;
    let transition = Transition::Complete(ExportRecord {
        exported_at: Timestamp::now(),
        external_id: body.external_id,
        external_url: body.external_url,
    });
    let state = state
        .invoices
        .transition(tenant.company, invoice_id, &transition)
        .await?;
    http::ok(&state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_url_must_be_http() {
        let ok = CompleteRequest {
            external_id: Some("E-1".into()),
            external_url: Some("https://erp.example/i/1".into()),
        };
        assert!(validate(&ok).is_ok());
        let bad = CompleteRequest {
            external_id: None,
            external_url: Some("javascript:alert(1)".into()),
        };
        assert!(validate(&bad).is_err());
        for bad_id in ["  ", "E-1\nE-2", "E-1\t", "E\u{0}"] {
            let bad = CompleteRequest {
                external_id: Some(bad_id.into()),
                external_url: None,
            };
            assert!(validate(&bad).is_err(), "{bad_id:?}");
        }
    }
}
