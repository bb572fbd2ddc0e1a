//! What an integrating system says when it finishes with an invoice: where the invoice now
//! lives in its ERP (complete), or why it refused it (reject). Each value is parsed once, at
//! the edge, into a type that cannot hold anything else; the store and the responses only ever
//! see values that passed.

use serde::{Deserialize, Serialize};

use super::text::{check, Lines};
use super::{InvoiceId, Timestamp};
use crate::foundation::error::FieldError;

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

/// Most invoices one bulk complete or reject call settles. A full call's body stays within
/// about 1 MB and its answer within about 1.5 MB, far inside Lambda's 6 MB each way.
pub const MAX_BULK_ITEMS: usize = 100;

/// One item of `POST /v1/invoices/complete`: an invoice and what a single complete call's
/// body would say of it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkCompleteItem {
    /// Required; optional here only so that its absence is reported by name.
    #[serde(default)]
    invoice_id: Option<InvoiceId>,
    #[serde(default)]
    external_id: Option<ExternalId>,
    #[serde(default)]
    external_url: Option<ExternalUrl>,
}

/// One item of `POST /v1/invoices/reject`: an invoice and what a single reject call's body
/// would say of it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkRejectItem {
    #[serde(default)]
    invoice_id: Option<InvoiceId>,
    #[serde(default)]
    reason: Option<RejectionReason>,
    #[serde(default)]
    code: Option<RejectionCode>,
}

/// The body of a bulk call: `{"items": [...]}`, 1 to [`MAX_BULK_ITEMS`] items, each invoice
/// once. [`BulkRequest::records`] turns it into what each item asks for, or every field
/// error at once (`items[3].invoiceId`), so a client fixes the whole call in one round.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest<Item> {
    #[serde(default = "Option::default")]
    items: Option<Vec<Item>>,
}

impl BulkRequest<BulkCompleteItem> {
    /// Each invoice with its export record, in request order.
    pub fn records(self, at: Timestamp) -> Result<Vec<(InvoiceId, ExportRecord)>, Vec<FieldError>> {
        settle_items(self.items, |item, _| {
            Ok((
                item.invoice_id,
                ExportRecord {
                    exported_at: at,
                    external_id: item.external_id,
                    external_url: item.external_url,
                },
            ))
        })
    }
}

impl BulkRequest<BulkRejectItem> {
    /// Each invoice with its rejection record, in request order.
    pub fn records(
        self,
        at: Timestamp,
    ) -> Result<Vec<(InvoiceId, RejectionRecord)>, Vec<FieldError>> {
        settle_items(self.items, |item, n| {
            let reason = item.reason.ok_or_else(|| {
                FieldError::new(
                    format!("items[{n}].{}", RejectionReason::FIELD),
                    "is required",
                )
            })?;
            Ok((
                item.invoice_id,
                RejectionRecord {
                    rejected_at: at,
                    reason,
                    code: item.code,
                },
            ))
        })
    }
}

/// The checks every bulk body shares: items present, 1 to [`MAX_BULK_ITEMS`], each with an
/// `invoiceId`, no invoice twice; `record` builds (or refuses) the rest of item `n`.
fn settle_items<Item: HasInvoiceId, Record>(
    items: Option<Vec<Item>>,
    record: impl Fn(Item, usize) -> Result<(Option<InvoiceId>, Record), FieldError>,
) -> Result<Vec<(InvoiceId, Record)>, Vec<FieldError>> {
    let items = items.ok_or_else(|| vec![FieldError::new("items", "is required")])?;
    if items.is_empty() || items.len() > MAX_BULK_ITEMS {
        return Err(vec![FieldError::new(
            "items",
            format!("must hold 1 to {MAX_BULK_ITEMS} items, not {}", items.len()),
        )]);
    }
    let mut errors = Vec::new();
    let mut first_index = std::collections::HashMap::new();
    let mut settled = Vec::with_capacity(items.len());
    for (n, item) in items.into_iter().enumerate() {
        if let Some(id) = item.invoice_id() {
            let first = *first_index.entry(id).or_insert(n);
            if first != n {
                errors.push(FieldError::new(
                    format!("items[{n}].invoiceId"),
                    format!("repeats items[{first}].invoiceId: each invoice may appear once"),
                ));
            }
        }
        match record(item, n) {
            Ok((Some(id), record)) => settled.push((id, record)),
            Ok((None, _)) => errors.push(FieldError::new(
                format!("items[{n}].invoiceId"),
                "is required",
            )),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(settled)
    } else {
        Err(errors)
    }
}

trait HasInvoiceId {
    fn invoice_id(&self) -> Option<InvoiceId>;
}

impl HasInvoiceId for BulkCompleteItem {
    fn invoice_id(&self) -> Option<InvoiceId> {
        self.invoice_id
    }
}

impl HasInvoiceId for BulkRejectItem {
    fn invoice_id(&self) -> Option<InvoiceId> {
        self.invoice_id
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

    #[test]
    fn a_bulk_complete_keeps_request_order_and_names_every_bad_item_at_once() {
        let (a, b) = (InvoiceId::new_random(), InvoiceId::new_random());
        let body: BulkRequest<BulkCompleteItem> = parse(&format!(
            r#"{{"items":[{{"invoiceId":"{b}","externalId":"E-2"}},{{"invoiceId":"{a}"}}]}}"#
        ))
        .unwrap();
        let records = body.records(Timestamp::now()).unwrap();
        assert_eq!(records.iter().map(|r| r.0).collect::<Vec<_>>(), [b, a]);
        assert_eq!(records[0].1.external_id.as_deref(), Some("E-2"));

        // The same id in upper case is the same invoice.
        let upper = a.to_string().to_uppercase();
        let body: BulkRequest<BulkRejectItem> = parse(&format!(
            r#"{{"items":[{{"invoiceId":"{a}","reason":"r"}},{{"reason":"r"}},{{"invoiceId":"{upper}"}}]}}"#
        ))
        .unwrap();
        let fields: Vec<String> = body
            .records(Timestamp::now())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "items[1].invoiceId",
                "items[2].invoiceId",
                "items[2].reason"
            ]
        );
    }

    #[test]
    fn a_bulk_call_holds_one_to_a_hundred_items() {
        let item = |_| format!(r#"{{"invoiceId":"{}"}}"#, InvoiceId::new_random());
        for (count, ok) in [
            (0, false),
            (1, true),
            (MAX_BULK_ITEMS, true),
            (MAX_BULK_ITEMS + 1, false),
        ] {
            let items: Vec<String> = (0..count).map(item).collect();
            let body: BulkRequest<BulkCompleteItem> =
                parse(&format!(r#"{{"items":[{}]}}"#, items.join(","))).unwrap();
            assert_eq!(body.records(Timestamp::now()).is_ok(), ok, "{count} items");
        }
        let missing: BulkRequest<BulkCompleteItem> = parse("{}").unwrap();
        assert_eq!(
            missing.records(Timestamp::now()).unwrap_err()[0].field,
            "items"
        );
    }
}
