//! Master data: what a connector imports from its ERP so that invoices can be coded and
//! matched: supplier cards, the chart of accounts, tax codes, tracking categories and open
//! purchase orders. Each kind is one module here implementing [`MasterKind`]: its record, its
//! field rules, its key, and the other master data it names. Import jobs, storage and the read
//! routes are generic over the kind, so adding a kind is its module plus one line in
//! [`registry`] (docs/adding-an-import-type.md walks through it). Supplier cards, the first
//! kind, live in `domain::supplier`.

pub mod fields;
pub mod gl_account;
pub mod purchase_order;
pub mod registry;
pub mod tax_code;
pub mod tracking;

pub use registry::{kind_info, with_kind, KindInfo, KindVisitor};

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

use serde::Deserialize;

use self::fields::{json_object, RawValue};
use super::{ImportType, JobId, Timestamp};
use crate::foundation::error::FieldError;

/// One kind of master data.
pub trait MasterKind: Send + Sync + 'static {
    /// A record as imported, stored and shown (with bookkeeping beside it).
    type Record: Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static;

    const IMPORT_TYPE: ImportType;
    /// What one record is called in messages: "GL account".
    const NOUN: &'static str;
    /// Every field, as JSON members and CSV columns, in the order the API documents them.
    const FIELDS: &'static [&'static str];
    /// The columns a CSV file must have.
    const REQUIRED_COLUMNS: &'static [&'static str];
    /// The fields whose values together name a record (its key), outermost first.
    const KEY_FIELDS: &'static [&'static str];
    /// CSV only: adjacent rows with the same value in this column are one record (a purchase
    /// order's lines). `None`: each row is a record.
    const GROUP_BY: Option<&'static str> = None;
    /// The storage partition of a company's records of this kind (`COMPANY#<id>#<PARTITION>`)
    /// and the prefix of each record's sort key.
    const PARTITION: &'static str;
    const ITEM_PREFIX: &'static str;

    /// A record from its fields (one CSV row, or a JSON object's members), every problem named.
    fn from_pairs(pairs: &[(&str, RawValue<'_>)]) -> Result<Self::Record, Vec<FieldError>>;

    /// A record from one JSON array element.
    fn from_json(value: &serde_json::Value) -> Result<Self::Record, Vec<FieldError>> {
        let pairs: Vec<_> = json_object(value, Self::NOUN)?.collect();
        Self::from_pairs(&pairs)
    }

    /// Grouped kinds: the record the rows of one group make, each problem with its row.
    fn from_rows(rows: &[Row]) -> Result<Self::Record, Vec<(u64, FieldError)>> {
        let first = rows.first().map_or(0, |r| r.number);
        Err(vec![(
            first,
            FieldError::new("row", format!("a {} is one row", Self::NOUN)),
        )])
    }

    /// The record's values of [`Self::KEY_FIELDS`], in order.
    fn key_parts(record: &Self::Record) -> Vec<&str>;

    fn is_active(record: &Self::Record) -> bool;
    fn deactivate(record: &mut Self::Record);

    /// The other master data the record names, for the import's cross-checks.
    fn references(_record: &Self::Record) -> Vec<Reference> {
        Vec::new()
    }

    /// The record as the API shows it (every field present).
    fn view(record: &Self::Record) -> serde_json::Value {
        serde_json::to_value(record).unwrap_or_default()
    }
}

/// How the import that last wrote a record changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WriteOutcome {
    Created,
    Updated,
    /// A full sync (`REPLACE`) found it absent from the file and marked it inactive.
    Deactivated,
}

/// Bookkeeping stored beside each record. The job and outcome of the last write make a rerun
/// of the same job count each record as the first run did, instead of as `unchanged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordMeta {
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_import_job_id: JobId,
    pub last_import_outcome: WriteOutcome,
}

/// A record as stored: the record and its bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<R> {
    pub record: R,
    pub meta: RecordMeta,
}

impl<R> Stored<R> {
    /// The record as the API shows it: its fields, then `createdAt`, `updatedAt` and
    /// `lastImportJobId`.
    pub fn view<K: MasterKind<Record = R>>(&self) -> serde_json::Value {
        let mut value = K::view(&self.record);
        if let Some(map) = value.as_object_mut() {
            map.insert("createdAt".into(), serde_json::json!(self.meta.created_at));
            map.insert("updatedAt".into(), serde_json::json!(self.meta.updated_at));
            map.insert(
                "lastImportJobId".into(),
                serde_json::json!(self.meta.last_import_job_id),
            );
        }
        value
    }
}

/// A CSV row of a grouped kind: its 1-based data row number and its cells by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub number: u64,
    pub cells: Vec<(&'static str, String)>,
}

impl Row {
    pub fn pairs(&self) -> Vec<(&str, RawValue<'_>)> {
        self.cells
            .iter()
            .map(|(field, cell)| (*field, RawValue::Cell(cell)))
            .collect()
    }

    pub fn cell(&self, field: &str) -> Option<&str> {
        self.cells
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// Another record a record names: checked, and a warning when it is not there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The field naming it (`lines[2].accountCode`).
    pub field: String,
    pub kind: ImportType,
    /// Its key parts.
    pub key: Vec<String>,
}

/// `value` (an object) with each of `fields` it lacks present as null: the API shows every
/// field, while storage leaves absent ones out.
pub fn with_nulls(mut value: serde_json::Value, fields: &[&str]) -> serde_json::Value {
    if let Some(map) = value.as_object_mut() {
        for field in fields {
            map.entry(*field).or_insert(serde_json::Value::Null);
        }
    }
    value
}

/// A record's key as its sort key ends: the parts joined by `#`, each but the last with `%`
/// and `#` escaped, so `("A#B", "1")` and `("A", "B#1")` never meet.
pub fn storage_key<S: AsRef<str>>(parts: &[S]) -> String {
    let mut key = String::new();
    for (i, part) in parts.iter().enumerate() {
        let part = part.as_ref();
        if i + 1 < parts.len() {
            key.push_str(&part.replace('%', "%25").replace('#', "%23"));
            key.push('#');
        } else {
            key.push_str(part);
        }
    }
    key
}

/// A record's key as errors and warnings show it: the parts joined by `/`.
pub fn key_label<S: AsRef<str>>(parts: &[S]) -> String {
    parts
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join("/")
}

/// The key a record that failed names, as far as its fields can be read (for the error report
/// and so a full sync never deactivates a record the file meant to keep).
pub fn key_hint<K: MasterKind>(pairs: &[(&str, RawValue<'_>)]) -> Option<Vec<String>> {
    K::KEY_FIELDS
        .iter()
        .map(|field| {
            pairs
                .iter()
                .rev()
                .find(|(name, _)| name == field)
                .and_then(|(_, raw)| raw.text().ok().flatten())
                .map(|s| fields::truncate(s, 64))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_of_different_parts_never_meet() {
        assert_eq!(storage_key(&["A#B", "1"]), "A%23B#1");
        assert_eq!(storage_key(&["A", "B#1"]), "A#B#1");
        assert_ne!(storage_key(&["A%23B", "1"]), storage_key(&["A#B", "1"]));
        assert_eq!(storage_key(&["4000"]), "4000");
        assert_eq!(key_label(&["Department", "SALES"]), "Department/SALES");
    }
}
