//! What an integrating system says when it finishes with an invoice: where the invoice now
//! lives in its ERP (complete), or why it refused it (reject). Each value is parsed once, at
//! the edge, into a type that cannot hold anything else; the store and the responses only ever
//! see values that passed.

use serde::{Deserialize, Serialize};

use super::text::{check, Lines};
use super::Timestamp;
use crate::error::FieldError;

/// Longest `externalId` a complete call stores.
pub const MAX_EXTERNAL_ID_CHARS: usize = 255;
/// Longest `externalUrl` stored: links into ERPs are far shorter, and the invoice item must
/// stay well within DynamoDB's 400 KB.
pub const MAX_EXTERNAL_URL_CHARS: usize = 2048;
pub const MAX_REASON_CHARS: usize = 1000;
pub const MAX_CODE_CHARS: usize = 64;

/// Declares a string newtype that is parsed on the way in (from a request body or a stored
/// item alike) and written out as the plain string.
macro_rules! parsed_string {
    ($(#[$doc:meta])* $name:ident, $field:literal, $parse:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The JSON field this value travels in, named in every error about it.
            pub const FIELD: &'static str = $field;

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(raw: String) -> Result<Self, String> {
                let parse: fn(String) -> Result<String, FieldError> = $parse;
                parse(raw).map(Self).map_err(|e| e.message)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

parsed_string!(
    /// The invoice's id in the receiving ERP: one line of 1 to 255 characters.
    ExternalId,
    "externalId",
    |raw| {
        check("externalId", &raw, MAX_EXTERNAL_ID_CHARS, Lines::Single)?;
        Ok(raw)
    }
);

parsed_string!(
    /// A link to the invoice in the receiving ERP: an absolute http(s) URL of at most 2,048
    /// characters, without white space or control characters.
    ExternalUrl,
    "externalUrl",
    |raw| {
        let lower = raw.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"));
        let well_formed = rest.is_some_and(|rest| !rest.is_empty())
            && raw.chars().count() <= MAX_EXTERNAL_URL_CHARS
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
        if well_formed {
            Ok(raw)
        } else {
            Err(FieldError::new(
                "externalUrl",
                format!(
                    "must be an absolute http(s) URL of at most {MAX_EXTERNAL_URL_CHARS} characters"
                ),
            ))
        }
    }
);

parsed_string!(
    /// Why an invoice was rejected: free text of up to 1,000 characters (newlines and tabs
    /// allowed), kept without surrounding white space.
    RejectionReason,
    "reason",
    |raw| {
        check("reason", &raw, MAX_REASON_CHARS, Lines::Multi)?;
        Ok(raw.trim().to_string())
    }
);

parsed_string!(
    /// A machine-readable rejection code: 1 to 64 letters, digits, `_`, `-` or `.`.
    RejectionCode,
    "code",
    |raw| {
        let well_formed = !raw.is_empty()
            && raw.len() <= MAX_CODE_CHARS
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if well_formed {
            Ok(raw)
        } else {
            Err(FieldError::new(
                "code",
                format!("must be 1 to {MAX_CODE_CHARS} letters, digits, '_', '-' or '.'"),
            ))
        }
    }
);

/// How an invoice was exported, as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRecord {
    pub exported_at: Timestamp,
    pub external_id: Option<ExternalId>,
    pub external_url: Option<ExternalUrl>,
}

/// Why an invoice was rejected, as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectionRecord {
    pub rejected_at: Timestamp,
    pub reason: RejectionReason,
    pub code: Option<RejectionCode>,
}

/// The body of `POST /v1/invoices/{invoiceId}/complete`: both fields optional, nothing else.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompleteRequest {
    #[serde(default)]
    pub external_id: Option<ExternalId>,
    #[serde(default)]
    pub external_url: Option<ExternalUrl>,
}

impl CompleteRequest {
    pub fn record(self, exported_at: Timestamp) -> ExportRecord {
        ExportRecord {
            exported_at,
            external_id: self.external_id,
            external_url: self.external_url,
        }
    }
}

/// The body of `POST /v1/invoices/{invoiceId}/reject`: a reason, and optionally a code.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RejectRequest {
    /// Required; optional here only so that its absence is reported by name.
    #[serde(default)]
    reason: Option<RejectionReason>,
    #[serde(default)]
    code: Option<RejectionCode>,
}

impl RejectRequest {
    pub fn record(self, rejected_at: Timestamp) -> Result<RejectionRecord, FieldError> {
        Ok(RejectionRecord {
            rejected_at,
            reason: self
                .reason
                .ok_or_else(|| FieldError::new(RejectionReason::FIELD, "is required"))?,
            code: self.code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn an_external_url_is_an_absolute_http_url_within_its_bound() {
        for good in [
            "https://erp.example/i/1",
            "HTTP://erp.example",
            &format!("https://{}", "a".repeat(MAX_EXTERNAL_URL_CHARS - 8)),
        ] {
            assert!(ExternalUrl::try_from(good.to_string()).is_ok(), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "https://",
            "erp.example/i/1",
            "https://erp.example/a b",
            &format!("https://{}", "a".repeat(MAX_EXTERNAL_URL_CHARS - 7)),
        ] {
            assert!(ExternalUrl::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_external_id_is_one_non_blank_line() {
        assert!(ExternalId::try_from("E-1".to_string()).is_ok());
        for bad in ["  ", "E-1\nE-2", "E-1\t", "E\u{0}", &"x".repeat(256)] {
            assert!(ExternalId::try_from(bad.to_string()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_complete_body_names_the_field_it_refuses() {
        let body: CompleteRequest =
            parse(r#"{"externalId":"E-1","externalUrl":"https://erp.example/1"}"#).unwrap();
        let record = body.record(Timestamp::now());
        assert_eq!(record.external_id.unwrap().as_str(), "E-1");
        let err = parse::<CompleteRequest>(r#"{"externalUrl":"ftp://x"}"#).unwrap_err();
        assert!(err.contains("absolute http(s) URL"), "{err}");
        assert!(parse::<CompleteRequest>(r#"{"other":1}"#).is_err());
    }

    #[test]
    fn a_rejection_needs_a_bounded_reason_and_keeps_it_trimmed() {
        let body: RejectRequest =
            parse(r#"{"reason":"  Duplicate of INV-7\n","code":"DUPLICATE"}"#).unwrap();
        let record = body.record(Timestamp::now()).unwrap();
        assert_eq!(record.reason.as_str(), "Duplicate of INV-7");
        assert_eq!(record.code.unwrap().as_str(), "DUPLICATE");
        let missing: RejectRequest = parse("{}").unwrap();
        assert_eq!(
            missing.record(Timestamp::now()).unwrap_err().field,
            "reason"
        );
        for bad in [r#""""#, r#""   ""#, &format!("{:?}", "x".repeat(1001))] {
            assert!(
                parse::<RejectRequest>(&format!(r#"{{"reason":{bad}}}"#)).is_err(),
                "{bad}"
            );
        }
        assert!(parse::<RejectRequest>(&format!(r#"{{"reason":{:?}}}"#, "x".repeat(1000))).is_ok());
        assert!(parse::<RejectRequest>(r#"{"reason":"r","code":"has space"}"#).is_err());
    }
}
