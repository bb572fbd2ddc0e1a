//! `POST /v1/invoices/{invoiceId}/reject`: reject with a reason. One conditional UpdateItem;
//! repeating the same call is a 200, a conflicting one a 409 with the current status.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use super::check_text;
use crate::app::AppState;
use crate::domain::text::Lines;
use crate::domain::Scope;
use crate::domain::{InvoiceId, RejectionRecord, Timestamp};
use crate::error::ApiError;
use crate::gate::{Route, Tenant};
use crate::http;
use crate::store::invoices::Transition;

pub const MAX_REASON_CHARS: usize = 1000;
pub const MAX_CODE_CHARS: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RejectRequest {
    /// Required; optional here only so that its absence is reported by name.
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

pub const ROUTE: Route = Route {
    function: "reject-invoice-export",
    method: "POST",
    path: "/v1/invoices/{invoiceId}/reject",
    scope: Scope::InvoicesWrite,
    pages: false,
    query: &[],
    run: |state, tenant, req| Box::pin(run(state, tenant, req)),
};

fn validate(body: RejectRequest) -> Result<(String, Option<String>), ApiError> {
    let reason = body
        .reason
        .ok_or_else(|| ApiError::field("reason", "is required"))?;
    check_text("reason", &reason, MAX_REASON_CHARS, Lines::Multi)?;
    if let Some(code) = &body.code {
        let well_formed = !code.is_empty()
            && code.len() <= MAX_CODE_CHARS
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !well_formed {
            return Err(ApiError::field(
                "code",
                format!("must be 1 to {MAX_CODE_CHARS} letters, digits, '_', '-' or '.'"),
            ));
        }
    }
    Ok((reason.trim().to_string(), body.code))
}

async fn run(state: &AppState, tenant: Tenant, req: Request) -> Result<Response<Body>, ApiError> {
    let invoice_id: InvoiceId = http::path_param(&req, "invoiceId")?;
    let (reason, code) = validate(http::json_body(&req, false)?)?;
    let transition = Transition::Reject(RejectionRecord {
        rejected_at: Timestamp::now(),
        reason,
        code,
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

    fn req(reason: Option<&str>, code: Option<&str>) -> RejectRequest {
        RejectRequest {
            reason: reason.map(str::to_string),
            code: code.map(str::to_string),
        }
    }

    #[test]
    fn reason_is_required_bounded_and_not_blank() {
        assert!(validate(req(Some("Duplicate of INV-7"), Some("DUPLICATE"))).is_ok());
        for bad in [
            req(None, None),
            req(Some(""), None),
            req(Some("   "), None),
            req(Some(&"x".repeat(1001)), None),
        ] {
            let e = validate(bad).unwrap_err();
            assert!(
                matches!(&e, ApiError::Validation { details, .. } if details[0].field == "reason"),
                "{e:?}"
            );
        }
        assert!(validate(req(Some(&"x".repeat(1000)), None)).is_ok());
        assert!(validate(req(Some("r"), Some("has space"))).is_err());
    }
}
