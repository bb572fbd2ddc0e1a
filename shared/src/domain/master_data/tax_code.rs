//! Tax codes (`TAX_CODES`): the ERP's VAT/GST/sales-tax codes, which invoice lines carry
//! (`taxCode`). Keyed by `code`; the rate is an exact decimal percent.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::fields::{Fields, RawValue, MAX_NAME_CHARS};
use super::MasterKind;
use crate::domain::{Decimal2, ImportType};
use crate::foundation::error::FieldError;

crate::choices! {
    /// How the tax applies.
    pub enum TaxType {
        /// Tax paid on purchases (reclaimable).
        Input = "INPUT",
        /// Tax charged on sales.
        Output = "OUTPUT",
        /// The buyer accounts for the tax.
        ReverseCharge = "REVERSE_CHARGE",
        Exempt = "EXEMPT",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxCode {
    pub code: String,
    pub name: String,
    /// Percent, exact: "25.5" is 25.5 %.
    pub rate: Decimal2,
    #[serde(rename = "type")]
    pub tax_type: TaxType,
    pub active: bool,
}

pub struct TaxCodes;

impl MasterKind for TaxCodes {
    type Record = TaxCode;
    const IMPORT_TYPE: ImportType = ImportType::TaxCodes;
    const NOUN: &'static str = "tax code";
    const FIELDS: &'static [&'static str] = &["code", "name", "rate", "type", "active"];
    const REQUIRED_COLUMNS: &'static [&'static str] = &["code", "name", "rate", "type"];
    const KEY_FIELDS: &'static [&'static str] = &["code"];
    const PARTITION: &'static str = "TAX_CODES";
    const ITEM_PREFIX: &'static str = "TAX_CODE#";

    fn from_pairs(pairs: &[(&str, RawValue<'_>)]) -> Result<TaxCode, Vec<FieldError>> {
        let mut f = Fields::collect(Self::FIELDS, Self::NOUN, pairs.iter().copied());
        let code = f.code("code", true);
        let name = f.text("name", MAX_NAME_CHARS, true);
        let rate = f.decimal(
            "rate",
            true,
            Some(Decimal::ZERO),
            Some(Decimal::ONE_HUNDRED),
        );
        let tax_type = f.choice("type", true);
        let active = f.flag("active", true);
        f.finish(|| {
            Some(TaxCode {
                code: code?,
                name: name?,
                rate: rate?,
                tax_type: tax_type?,
                active,
            })
        })
    }

    fn key_parts(record: &TaxCode) -> Vec<&str> {
        vec![&record.code]
    }

    fn is_active(record: &TaxCode) -> bool {
        record.active
    }

    fn deactivate(record: &mut TaxCode) {
        record.active = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_rate_is_an_exact_percent_from_0_to_100() {
        let code = TaxCodes::from_json(&json!({
            "code": "RC", "name": "Reverse charge", "rate": "0", "type": "reverse charge"
        }))
        .unwrap();
        assert_eq!(code.tax_type, TaxType::ReverseCharge);
        let exact = TaxCodes::from_json(&json!({
            "code": "S", "name": "Standard", "rate": "25.500", "type": "OUTPUT"
        }))
        .unwrap();
        assert_eq!(serde_json::to_value(&exact).unwrap()["rate"], "25.500");
        for (rate, says) in [
            (json!(25.5), "not a JSON number"),
            (json!("-1"), "at least 0"),
            (json!("100.5"), "at most 100"),
            (json!("12,5"), "decimal string"),
            (json!("1.1234567"), "decimal places"),
        ] {
            let errors = TaxCodes::from_json(&json!({
                "code": "X", "name": "X", "rate": rate, "type": "INPUT"
            }))
            .unwrap_err();
            assert_eq!(errors[0].field, "rate");
            assert!(errors[0].message.contains(says), "{rate}: {errors:?}");
        }
    }
}
