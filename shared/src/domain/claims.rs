//! Claims: a connector that runs several workers takes invoices out of the export queue for a
//! while, so no two workers export the same one.

use std::time::Duration;

use serde::Deserialize;

use crate::domain::whole_number;
use crate::foundation::error::FieldError;

/// Most invoices one claim takes.
pub const MAX_CLAIM: u64 = 100;
pub const DEFAULT_CLAIM: u64 = 10;
/// A lease from half a minute to an hour: long enough for one export, short enough that a
/// worker that died gives its invoices back soon.
pub const MIN_LEASE_SECS: u64 = 30;
pub const MAX_LEASE_SECS: u64 = 3600;
pub const DEFAULT_LEASE_SECS: u64 = 300;

/// The body of `POST /v1/invoices/claims`, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimRequest {
    #[serde(default, deserialize_with = "present")]
    pub limit: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "present")]
    pub lease_seconds: Option<serde_json::Value>,
}

/// A field that is there, `null` included (which is no number: refused, not taken as absent).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}

/// A claim to make: how many invoices at most, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub limit: usize,
    pub lease: Duration,
}

impl TryFrom<ClaimRequest> for Claim {
    type Error = Vec<FieldError>;

    /// Every field checked, every bad one reported.
    fn try_from(request: ClaimRequest) -> Result<Self, Vec<FieldError>> {
        let mut refused = Vec::new();
        let mut within = |field: &str, value: Option<serde_json::Value>, default, min, max| {
            let Some(value) = value else {
                return default;
            };
            match whole_number(&value).filter(|n| (min..=max).contains(n)) {
                Some(n) => n,
                None => {
                    refused.push(FieldError::new(
                        field,
                        format!("must be a whole number from {min} to {max}"),
                    ));
                    default
                }
            }
        };
        let limit = within("limit", request.limit, DEFAULT_CLAIM, 1, MAX_CLAIM);
        let lease = within(
            "leaseSeconds",
            request.lease_seconds,
            DEFAULT_LEASE_SECS,
            MIN_LEASE_SECS,
            MAX_LEASE_SECS,
        );
        if !refused.is_empty() {
            return Err(refused);
        }
        Ok(Self {
            limit: limit as usize,
            lease: Duration::from_secs(lease),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claim(body: serde_json::Value) -> Result<Claim, Vec<String>> {
        let request: ClaimRequest = serde_json::from_value(body).unwrap();
        Claim::try_from(request).map_err(|e| e.into_iter().map(|f| f.field).collect())
    }

    #[test]
    fn a_claim_takes_ten_for_five_minutes_unless_told_and_names_each_bad_field() {
        assert_eq!(
            claim(json!({})).unwrap(),
            Claim {
                limit: 10,
                lease: Duration::from_secs(300)
            }
        );
        assert_eq!(
            claim(json!({"limit": 100, "leaseSeconds": 30.0})).unwrap(),
            Claim {
                limit: 100,
                lease: Duration::from_secs(30)
            }
        );
        assert_eq!(
            claim(json!({"limit": 0, "leaseSeconds": 3601})).unwrap_err(),
            ["limit", "leaseSeconds"]
        );
        for bad in [json!(101), json!(-1), json!(1.5), json!("5"), json!(null)] {
            assert_eq!(claim(json!({ "limit": bad })).unwrap_err(), ["limit"]);
        }
    }
}
