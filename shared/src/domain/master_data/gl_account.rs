//! GL accounts (`GL_ACCOUNTS`): the ERP's chart of accounts, which invoice lines are coded
//! with (`accountCode`). Keyed by `code`.

use serde::{Deserialize, Serialize};

use super::fields::{Fields, RawValue, MAX_NAME_CHARS};
use super::{MasterKind, Reference};
use crate::domain::ImportType;
use crate::foundation::error::FieldError;

crate::choices! {
    /// What an account holds, as a chart of accounts groups them.
    pub enum AccountType {
        Asset = "ASSET",
        Liability = "LIABILITY",
        Equity = "EQUITY",
        Revenue = "REVENUE",
        Expense = "EXPENSE",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlAccount {
    pub code: String,
    pub name: String,
    #[serde(rename = "type")]
    pub account_type: AccountType,
    /// The tax code lines on this account get unless they say otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_tax_code: Option<String>,
    pub active: bool,
}

pub struct GlAccounts;

impl MasterKind for GlAccounts {
    type Record = GlAccount;
    const IMPORT_TYPE: ImportType = ImportType::GlAccounts;
    const NOUN: &'static str = "GL account";
    const FIELDS: &'static [&'static str] = &["code", "name", "type", "defaultTaxCode", "active"];
    const REQUIRED_COLUMNS: &'static [&'static str] = &["code", "name", "type"];
    const KEY_FIELDS: &'static [&'static str] = &["code"];
    const PARTITION: &'static str = "GL_ACCOUNTS";
    const ITEM_PREFIX: &'static str = "GL_ACCOUNT#";

    fn from_pairs(pairs: &[(&str, RawValue<'_>)]) -> Result<GlAccount, Vec<FieldError>> {
        let mut f = Fields::collect(Self::FIELDS, Self::NOUN, pairs.iter().copied());
        let code = f.code("code", true);
        let name = f.text("name", MAX_NAME_CHARS, true);
        let account_type = f.choice("type", true);
        let default_tax_code = f.code("defaultTaxCode", false);
        let active = f.flag("active", true);
        f.finish(|| {
            Some(GlAccount {
                code: code?,
                name: name?,
                account_type: account_type?,
                default_tax_code,
                active,
            })
        })
    }

    fn key_parts(record: &GlAccount) -> Vec<&str> {
        vec![&record.code]
    }

    fn is_active(record: &GlAccount) -> bool {
        record.active
    }

    fn deactivate(record: &mut GlAccount) {
        record.active = false;
    }

    fn view(record: &GlAccount) -> serde_json::Value {
        super::with_nulls(
            serde_json::to_value(record).unwrap_or_default(),
            Self::FIELDS,
        )
    }

    fn references(record: &GlAccount) -> Vec<Reference> {
        record
            .default_tax_code
            .iter()
            .map(|code| Reference {
                field: "defaultTaxCode".into(),
                kind: ImportType::TaxCodes,
                key: vec![code.clone()],
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_account_is_read_from_json_with_its_type_normalised() {
        let account = GlAccounts::from_json(&json!({
            "code": " 4000 ", "name": "Office supplies", "type": "expense", "defaultTaxCode": "S20"
        }))
        .unwrap();
        assert_eq!(account.code, "4000");
        assert_eq!(account.account_type, AccountType::Expense);
        assert!(account.active);
        assert_eq!(GlAccounts::references(&account)[0].key, ["S20"]);
    }

    #[test]
    fn every_problem_of_an_account_is_named() {
        let errors = GlAccounts::from_json(&json!({
            "name": "", "type": "COST", "active": 1, "colour": "red"
        }))
        .unwrap_err();
        let mut fields: Vec<_> = errors.into_iter().map(|e| e.field).collect();
        fields.sort();
        assert_eq!(fields, ["active", "code", "colour", "name", "type"]);
    }
}
