//! Supplier cards: the master data an AP/ERP system pushes through import jobs.
//!
//! A card is flat, with the same field names in JSON records and as CSV columns. Each record
//! replaces the card with its `externalId` as a whole (absent optional fields are cleared).
//! Text is trimmed; country and currency codes are upper-cased before they are checked.

use serde::{Deserialize, Serialize};

use super::iso;
use super::text::{check, Lines};
use crate::foundation::error::FieldError;

/// Every field a card has, in the order the API documents them.
pub const SUPPLIER_FIELDS: [&str; 16] = [
    "externalId",
    "name",
    "taxNumber",
    "email",
    "phone",
    "addressLine1",
    "addressLine2",
    "city",
    "region",
    "postalCode",
    "country",
    "currency",
    "defaultAccountCode",
    "defaultTaxCode",
    "paymentTermsDays",
    "active",
];
/// Fields every record must carry.
pub const REQUIRED_SUPPLIER_FIELDS: [&str; 2] = ["externalId", "name"];
pub const MAX_EXTERNAL_ID_CHARS: usize = 64;
pub const MAX_PAYMENT_TERMS_DAYS: u64 = 365;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupplierCard {
    pub external_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_account_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_tax_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_terms_days: Option<u16>,
    /// Absent means active.
    pub active: bool,
}

pub use super::master_data::fields::{truncate, RawValue};

/// Longest value of each bounded text field.
fn max_chars(field: &str) -> usize {
    match field {
        "externalId" => MAX_EXTERNAL_ID_CHARS,
        "name" | "addressLine1" | "addressLine2" => 200,
        "email" => 254,
        "city" | "region" => 100,
        "phone" => 40,
        "postalCode" => 20,
        _ => 50,
    }
}

/// Builds a card from `(field, value)` pairs, reporting every problem of the record at once.
/// Unknown field names are errors; a field given twice keeps the last value.
pub fn card_from_fields<'a>(
    fields: impl IntoIterator<Item = (&'a str, RawValue<'a>)>,
) -> Result<SupplierCard, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut values: [Option<RawValue<'a>>; SUPPLIER_FIELDS.len()] = [None; SUPPLIER_FIELDS.len()];
    for (name, value) in fields {
        match SUPPLIER_FIELDS.iter().position(|f| *f == name) {
            Some(i) => values[i] = Some(value),
            None => errors.push(FieldError::new(
                truncate(name, 64),
                "is not a supplier card field",
            )),
        }
    }
    let get = |field: &str| -> Option<RawValue<'a>> {
        let i = SUPPLIER_FIELDS.iter().position(|f| *f == field)?;
        values[i].filter(|v| !v.is_absent())
    };

    let text = |field: &str, required: bool, errors: &mut Vec<FieldError>| -> Option<String> {
        let raw = match get(field) {
            Some(raw) => raw,
            None if required => {
                errors.push(FieldError::new(field, "is required"));
                return None;
            }
            None => return None,
        };
        match raw.text() {
            Ok(Some(s)) => match check(field, s, max_chars(field), Lines::Single) {
                Ok(()) => Some(s.to_string()),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
            Ok(None) if required => {
                errors.push(FieldError::new(field, "must not be blank"));
                None
            }
            Ok(None) => None,
            Err(message) => {
                errors.push(FieldError::new(field, message));
                None
            }
        }
    };

    let external_id = text("externalId", true, &mut errors);
    let name = text("name", true, &mut errors);
    let tax_number = text("taxNumber", false, &mut errors);
    let email = text("email", false, &mut errors);
    if let Some(e) = &email {
        if !looks_like_email(e) {
            errors.push(FieldError::new(
                "email",
                "must be an email address like ap@example.com",
            ));
        }
    }
    let phone = text("phone", false, &mut errors);
    if let Some(p) = &phone {
        if !p
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
            || !p.chars().any(|c| c.is_ascii_digit())
        {
            errors.push(FieldError::new(
                "phone",
                "may contain only digits, spaces and + - ( ) .",
            ));
        }
    }
    let address_line1 = text("addressLine1", false, &mut errors);
    let address_line2 = text("addressLine2", false, &mut errors);
    let city = text("city", false, &mut errors);
    let region = text("region", false, &mut errors);
    let postal_code = text("postalCode", false, &mut errors);
    let country = text("country", false, &mut errors).map(|c| c.to_ascii_uppercase());
    if let Some(c) = &country {
        if !iso::is_country(c) {
            errors.push(FieldError::new(
                "country",
                format!("{c:?} is not an ISO 3166-1 alpha-2 country code, like \"DE\""),
            ));
        }
    }
    let currency = text("currency", false, &mut errors).map(|c| c.to_ascii_uppercase());
    if let Some(c) = &currency {
        if !iso::is_currency(c) {
            errors.push(FieldError::new(
                "currency",
                format!("{c:?} is not an ISO 4217 currency code, like \"EUR\""),
            ));
        }
    }
    let default_account_code = text("defaultAccountCode", false, &mut errors);
    let default_tax_code = text("defaultTaxCode", false, &mut errors);
    let payment_terms_days = get("paymentTermsDays").and_then(|raw| {
        let days = match raw {
            RawValue::Cell(s) => s.trim().parse::<u64>().ok(),
            RawValue::Json(v) => super::whole_number(v),
        };
        match days {
            Some(d) if d <= MAX_PAYMENT_TERMS_DAYS => u16::try_from(d).ok(),
            _ => {
                errors.push(FieldError::new(
                    "paymentTermsDays",
                    format!("must be a whole number of days from 0 to {MAX_PAYMENT_TERMS_DAYS}"),
                ));
                None
            }
        }
    });
    let active = match get("active") {
        None => true,
        Some(RawValue::Json(serde_json::Value::Bool(b))) => *b,
        Some(RawValue::Cell(s)) if s.trim().eq_ignore_ascii_case("true") => true,
        Some(RawValue::Cell(s)) if s.trim().eq_ignore_ascii_case("false") => false,
        Some(_) => {
            errors.push(FieldError::new("active", "must be true or false"));
            true
        }
    };

    match (external_id, name) {
        (Some(external_id), Some(name)) if errors.is_empty() => Ok(SupplierCard {
            external_id,
            name,
            tax_number,
            email,
            phone,
            address_line1,
            address_line2,
            city,
            region,
            postal_code,
            country,
            currency,
            default_account_code,
            default_tax_code,
            payment_terms_days,
            active,
        }),
        _ => Err(errors),
    }
}

/// A JSON record: must be an object whose members are card fields.
pub fn card_from_json(record: &serde_json::Value) -> Result<SupplierCard, Vec<FieldError>> {
    match record {
        serde_json::Value::Object(map) => {
            card_from_fields(map.iter().map(|(k, v)| (k.as_str(), RawValue::Json(v))))
        }
        _ => Err(vec![FieldError::new(
            "record",
            "must be a JSON object of supplier card fields",
        )]),
    }
}

/// Supplier cards as a kind of master data (`SUPPLIER_CARDS`), keyed by `externalId`.
pub struct SupplierCards;

impl super::master_data::MasterKind for SupplierCards {
    type Record = SupplierCard;
    const IMPORT_TYPE: super::ImportType = super::ImportType::SupplierCards;
    const NOUN: &'static str = "supplier card";
    const FIELDS: &'static [&'static str] = &SUPPLIER_FIELDS;
    const REQUIRED_COLUMNS: &'static [&'static str] = &REQUIRED_SUPPLIER_FIELDS;
    const KEY_FIELDS: &'static [&'static str] = &["externalId"];
    const PARTITION: &'static str = "SUPPLIERS";
    const ITEM_PREFIX: &'static str = "SUPPLIER#";

    fn from_pairs(pairs: &[(&str, RawValue<'_>)]) -> Result<SupplierCard, Vec<FieldError>> {
        card_from_fields(pairs.iter().copied())
    }

    fn from_json(value: &serde_json::Value) -> Result<SupplierCard, Vec<FieldError>> {
        card_from_json(value)
    }

    fn key_parts(record: &SupplierCard) -> Vec<&str> {
        vec![&record.external_id]
    }

    fn is_active(record: &SupplierCard) -> bool {
        record.active
    }

    fn deactivate(record: &mut SupplierCard) {
        record.active = false;
    }

    fn view(record: &SupplierCard) -> serde_json::Value {
        card_view(record)
    }

    fn references(record: &SupplierCard) -> Vec<super::master_data::Reference> {
        use super::master_data::Reference;
        let account = record.default_account_code.iter().map(|code| Reference {
            field: "defaultAccountCode".into(),
            kind: super::ImportType::GlAccounts,
            key: vec![code.clone()],
        });
        let tax = record.default_tax_code.iter().map(|code| Reference {
            field: "defaultTaxCode".into(),
            kind: super::ImportType::TaxCodes,
            key: vec![code.clone()],
        });
        account.chain(tax).collect()
    }
}

/// The record's externalId as far as it can be read, for error reports.
pub fn external_id_hint(raw: Option<RawValue<'_>>) -> Option<String> {
    raw.and_then(|r| r.text().ok().flatten())
        .map(|s| truncate(s, MAX_EXTERNAL_ID_CHARS))
}

/// A supplier card's key as a URL path or a continuation key carries it, checked by the rule
/// imports apply to `externalId`: one line of 1 to 64 characters, no surrounding white space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplierKey(String);

impl SupplierKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for SupplierKey {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, String> {
        let checked =
            check("externalId", raw, MAX_EXTERNAL_ID_CHARS, Lines::Single).and_then(|()| {
                if raw.trim() == raw {
                    Ok(())
                } else {
                    Err(FieldError::new(
                        "externalId",
                        "must not start or end with whitespace",
                    ))
                }
            });
        checked
            .map(|()| Self(raw.to_string()))
            .map_err(|e| e.message)
    }
}

impl std::fmt::Display for SupplierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

fn looks_like_email(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && domain.contains('.')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

pub use super::master_data::{RecordMeta as SupplierMeta, WriteOutcome};

/// A stored supplier card and its bookkeeping.
pub type StoredSupplier = super::master_data::Stored<SupplierCard>;

/// The card as the API shows it: every field present (null when empty).
fn card_view(card: &SupplierCard) -> serde_json::Value {
    let mut value = serde_json::to_value(card).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        for field in SUPPLIER_FIELDS {
            map.entry(field).or_insert(serde_json::Value::Null);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields_of(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn full_json_card_is_normalised() {
        let card = card_from_json(&json!({
            "externalId": " S-1 ", "name": "Acme Oy", "country": "fi", "currency": "eur",
            "paymentTermsDays": 30, "active": false, "email": "ap@acme.fi", "phone": "+358 (0)9 123",
            "taxNumber": null
        }))
        .unwrap();
        assert_eq!(card.external_id, "S-1");
        assert_eq!(card.country.as_deref(), Some("FI"));
        assert_eq!(card.currency.as_deref(), Some("EUR"));
        assert_eq!(card.payment_terms_days, Some(30));
        assert!(!card.active);
        assert_eq!(card.tax_number, None);
    }

    #[test]
    fn every_problem_of_a_record_is_named() {
        let errors = card_from_json(&json!({
            "name": 5, "country": "XX", "currency": "EURO", "paymentTermsDays": 366,
            "active": "yes", "email": "nope", "colour": "red"
        }))
        .unwrap_err();
        let mut fields = fields_of(errors);
        fields.sort();
        assert_eq!(
            fields,
            [
                "active",
                "colour",
                "country",
                "currency",
                "email",
                "externalId",
                "name",
                "paymentTermsDays"
            ]
        );
    }

    #[test]
    fn csv_cells_parse_numbers_and_booleans() {
        let card = card_from_fields([
            ("externalId", RawValue::Cell("S-2")),
            ("name", RawValue::Cell("Beta")),
            ("paymentTermsDays", RawValue::Cell(" 14 ")),
            ("active", RawValue::Cell("FALSE")),
            ("city", RawValue::Cell("")),
        ])
        .unwrap();
        assert_eq!(card.payment_terms_days, Some(14));
        assert!(!card.active);
        assert_eq!(card.city, None);
        let errors = card_from_fields([
            ("externalId", RawValue::Cell("x".repeat(65).as_str())),
            ("name", RawValue::Cell(" ")),
            ("paymentTermsDays", RawValue::Cell("-1")),
        ])
        .unwrap_err();
        assert_eq!(
            fields_of(errors),
            ["externalId", "name", "paymentTermsDays"]
        );
        assert!(card_from_json(&json!([1])).is_err());
        assert!(
            card_from_json(&json!({"externalId": "a", "name": "b", "paymentTermsDays": "30"}))
                .is_err()
        );
    }
}
