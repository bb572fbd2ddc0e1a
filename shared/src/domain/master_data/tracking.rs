//! Tracking categories (`TRACKING_CATEGORIES`): the ERP's dimensions (department, project,
//! cost centre…) and their options. A record is one option of one category, keyed by both, so
//! a category's options are imported, changed and deactivated row by row.

use serde::{Deserialize, Serialize};

use super::fields::{Fields, RawValue, MAX_NAME_CHARS};
use super::MasterKind;
use crate::domain::ImportType;
use crate::foundation::error::FieldError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackingOption {
    /// The category (dimension) the option belongs to: "Department".
    pub category: String,
    /// The option's code within its category: "SALES".
    pub option_code: String,
    pub name: String,
    pub active: bool,
}

pub struct TrackingCategories;

impl MasterKind for TrackingCategories {
    type Record = TrackingOption;
    const IMPORT_TYPE: ImportType = ImportType::TrackingCategories;
    const NOUN: &'static str = "tracking option";
    const FIELDS: &'static [&'static str] = &["category", "optionCode", "name", "active"];
    const REQUIRED_COLUMNS: &'static [&'static str] = &["category", "optionCode", "name"];
    const KEY_FIELDS: &'static [&'static str] = &["category", "optionCode"];
    const PARTITION: &'static str = "TRACKING";
    const ITEM_PREFIX: &'static str = "OPTION#";

    fn from_pairs(pairs: &[(&str, RawValue<'_>)]) -> Result<TrackingOption, Vec<FieldError>> {
        let mut f = Fields::collect(Self::FIELDS, Self::NOUN, pairs.iter().copied());
        let category = f.code("category", true);
        let option_code = f.code("optionCode", true);
        let name = f.text("name", MAX_NAME_CHARS, true);
        let active = f.flag("active", true);
        f.finish(|| {
            Some(TrackingOption {
                category: category?,
                option_code: option_code?,
                name: name?,
                active,
            })
        })
    }

    fn key_parts(record: &TrackingOption) -> Vec<&str> {
        vec![&record.category, &record.option_code]
    }

    fn is_active(record: &TrackingOption) -> bool {
        record.active
    }

    fn deactivate(record: &mut TrackingOption) {
        record.active = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::master_data::storage_key;
    use serde_json::json;

    #[test]
    fn an_option_is_keyed_by_its_category_and_code() {
        let option = TrackingCategories::from_json(&json!({
            "category": "Department", "optionCode": "SALES", "name": "Sales", "active": false
        }))
        .unwrap();
        assert!(!option.active);
        assert_eq!(
            storage_key(&TrackingCategories::key_parts(&option)),
            "Department#SALES"
        );
        let errors = TrackingCategories::from_json(&json!({"category": "Department"})).unwrap_err();
        let fields: Vec<_> = errors.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["optionCode", "name"]);
    }
}
