//! Reading one record's fields, the same way for every kind of master data: a JSON object's
//! members or a CSV row's cells, by name. Every problem of a record is collected (not only the
//! first), each naming its field, so one pass over a file reports everything to fix.
//!
//! The rules every kind shares: text is trimmed, and an empty cell or a JSON `null` is absent;
//! codes and names are single-line text of bounded length; decimals are exact strings (never
//! JSON numbers, which a sender may already have rounded); choices are upper-cased with spaces
//! and hyphens read as underscores (`reverse charge` is `REVERSE_CHARGE`); `active` is
//! `true`/`false` and absent means active; dates are `YYYY-MM-DD`.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::domain::money::Decimal2;
use crate::domain::text::{check, Lines};
use crate::foundation::error::FieldError;

/// Longest code (an account, tax, tracking or PO code): ERPs' codes are short.
pub const MAX_CODE_CHARS: usize = 50;
/// Longest name.
pub const MAX_NAME_CHARS: usize = 200;

/// One field's value as it arrived.
#[derive(Debug, Clone, Copy)]
pub enum RawValue<'a> {
    /// A CSV cell: always text; an empty cell is absent.
    Cell(&'a str),
    /// A JSON value; `null` is absent.
    Json(&'a serde_json::Value),
}

impl<'a> RawValue<'a> {
    /// The trimmed text, `None` when absent or empty, `Err` when JSON of another type.
    pub fn text(self) -> Result<Option<&'a str>, &'static str> {
        match self {
            Self::Cell(s) => Ok(Some(s.trim()).filter(|s| !s.is_empty())),
            Self::Json(serde_json::Value::Null) => Ok(None),
            Self::Json(serde_json::Value::String(s)) => {
                Ok(Some(s.trim()).filter(|s| !s.is_empty()))
            }
            Self::Json(_) => Err("must be a string"),
        }
    }

    pub fn is_absent(self) -> bool {
        match self {
            Self::Cell(s) => s.trim().is_empty(),
            Self::Json(v) => v.is_null(),
        }
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// A code (an account, tax, tracking category or purchase-order code) as a URL path carries
/// it: one line of 1 to [`MAX_CODE_CHARS`] characters, no surrounding white space, as imports
/// store codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeKey(String);

impl CodeKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for CodeKey {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, String> {
        check("code", raw, MAX_CODE_CHARS, Lines::Single).map_err(|e| e.message)?;
        if raw.trim() != raw {
            return Err("must not start or end with white space".into());
        }
        Ok(Self(raw.to_string()))
    }
}

/// A closed set of values a field may take, written in SCREAMING_SNAKE_CASE.
pub trait Choice: Sized + Copy + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
}

/// Declares a [`Choice`] enum: its variants and the text each is written as.
#[macro_export]
macro_rules! choices {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $crate::domain::master_data::fields::Choice for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];
            fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }
    };
}

/// A record's fields by name, and the problems found so far.
pub struct Fields<'a> {
    names: &'static [&'static str],
    values: Vec<Option<RawValue<'a>>>,
    /// Prepended to every field an error names (`lines[3].` for a purchase-order line).
    prefix: String,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    /// Takes `pairs` as fields of a `noun` record whose fields are `names`: a name that is not
    /// one of them is an error; a name given twice keeps the last value.
    pub fn collect(
        names: &'static [&'static str],
        noun: &str,
        pairs: impl IntoIterator<Item = (&'a str, RawValue<'a>)>,
    ) -> Self {
        let mut fields = Self {
            names,
            values: vec![None; names.len()],
            prefix: String::new(),
            errors: Vec::new(),
        };
        for (name, value) in pairs {
            match names.iter().position(|f| *f == name) {
                Some(i) => fields.values[i] = Some(value),
                None => fields.errors.push(FieldError::new(
                    truncate(name, 64),
                    format!("is not a {noun} field"),
                )),
            }
        }
        fields
    }

    /// Names errors as fields of `prefix` (`lines[3]`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.prefix = format!("{prefix}.");
        for e in &mut self.errors {
            e.field = format!("{}{}", self.prefix, e.field);
        }
        self
    }

    /// The value of `field` unless absent.
    pub fn raw(&self, field: &str) -> Option<RawValue<'a>> {
        let i = self.names.iter().position(|f| *f == field)?;
        self.values[i].filter(|v| !v.is_absent())
    }

    /// Records a problem with `field`.
    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        let field = format!("{}{field}", self.prefix);
        self.errors.push(FieldError::new(field, message));
    }

    /// Whether no problem was found yet.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// Single-line text of at most `max_chars` characters; `required` makes absence an error.
    pub fn text(&mut self, field: &str, max_chars: usize, required: bool) -> Option<String> {
        let Some(raw) = self.raw(field) else {
            if required {
                self.error(field, "is required");
            }
            return None;
        };
        match raw.text() {
            Ok(Some(s)) => match check(field, s, max_chars, Lines::Single) {
                Ok(()) => Some(s.to_string()),
                Err(e) => {
                    self.error(field, e.message);
                    None
                }
            },
            Ok(None) if required => {
                self.error(field, "must not be blank");
                None
            }
            Ok(None) => None,
            Err(message) => {
                self.error(field, message);
                None
            }
        }
    }

    /// A code: single-line text of at most [`MAX_CODE_CHARS`] characters.
    pub fn code(&mut self, field: &str, required: bool) -> Option<String> {
        self.text(field, MAX_CODE_CHARS, required)
    }

    /// An exact decimal written as a string, from `min` to `max` inclusive where given.
    pub fn decimal(
        &mut self,
        field: &str,
        required: bool,
        min: Option<Decimal>,
        max: Option<Decimal>,
    ) -> Option<Decimal2> {
        let raw = match self.raw(field) {
            Some(RawValue::Json(serde_json::Value::Number(n))) => {
                let message = format!(
                    "must be a decimal string like \"{n}\", not a JSON number (a number may already have been rounded)"
                );
                self.error(field, message);
                return None;
            }
            Some(raw) => raw,
            None => {
                if required {
                    self.error(field, "is required");
                }
                return None;
            }
        };
        let text = match raw.text() {
            Ok(Some(text)) => text,
            Ok(None) => return None,
            Err(_) => {
                self.error(field, "must be a decimal string like \"25.5\"");
                return None;
            }
        };
        let value: Decimal2 = match text.parse() {
            Ok(value) => value,
            Err(message) => {
                self.error(field, message);
                return None;
            }
        };
        match (min, max) {
            (Some(min), _) if value.value() < min => {
                self.error(field, format!("must be at least {min}"));
                None
            }
            (_, Some(max)) if value.value() > max => {
                self.error(field, format!("must be at most {max}"));
                None
            }
            _ => Some(value),
        }
    }

    /// One of `T`'s values.
    pub fn choice<T: Choice>(&mut self, field: &str, required: bool) -> Option<T> {
        let text = self.text(field, MAX_CODE_CHARS, required)?;
        let normal = text.to_ascii_uppercase().replace([' ', '-'], "_");
        let found = T::ALL.iter().copied().find(|c| c.as_str() == normal);
        if found.is_none() {
            let names: Vec<&str> = T::ALL.iter().map(|c| c.as_str()).collect();
            let message = format!(
                "{:?} is not one of {}",
                truncate(&text, 40),
                names.join(", ")
            );
            self.error(field, message);
        }
        found
    }

    /// `true` or `false` (a JSON boolean, or the text in any case); absent is `default`.
    pub fn flag(&mut self, field: &str, default: bool) -> bool {
        match self.raw(field) {
            None => default,
            Some(RawValue::Json(serde_json::Value::Bool(b))) => *b,
            Some(RawValue::Cell(s)) if s.trim().eq_ignore_ascii_case("true") => true,
            Some(RawValue::Cell(s)) if s.trim().eq_ignore_ascii_case("false") => false,
            Some(_) => {
                self.error(field, "must be true or false");
                default
            }
        }
    }

    /// A calendar date, `YYYY-MM-DD`.
    pub fn date(&mut self, field: &str, required: bool) -> Option<NaiveDate> {
        let text = self.text(field, 10, required)?;
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) if text.len() == 10 => Some(date),
            _ => {
                self.error(field, "must be a date written YYYY-MM-DD, like 2026-12-31");
                None
            }
        }
    }

    /// A whole number from 1 to `max` (a JSON number, or digits in a CSV cell).
    pub fn positive(&mut self, field: &str, required: bool, max: u64) -> Option<u64> {
        let raw = match self.raw(field) {
            Some(raw) => raw,
            None => {
                if required {
                    self.error(field, "is required");
                }
                return None;
            }
        };
        let number = match raw {
            RawValue::Cell(s) => s.trim().parse::<u64>().ok(),
            RawValue::Json(v) => crate::domain::whole_number(v),
        };
        match number {
            Some(n) if (1..=max).contains(&n) => Some(n),
            _ => {
                self.error(field, format!("must be a whole number from 1 to {max}"));
                None
            }
        }
    }

    /// The record built by `build` if no problem was found, else every problem.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, Vec<FieldError>> {
        if self.errors.is_empty() {
            if let Some(record) = build() {
                return Ok(record);
            }
        }
        Err(self.errors)
    }

    /// The problems found, for a record assembled from several parts.
    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }
}

/// A JSON record's members as fields, or the error that it is not an object.
pub fn json_object<'a>(
    record: &'a serde_json::Value,
    noun: &str,
) -> Result<impl Iterator<Item = (&'a str, RawValue<'a>)>, Vec<FieldError>> {
    match record {
        serde_json::Value::Object(map) => {
            Ok(map.iter().map(|(k, v)| (k.as_str(), RawValue::Json(v))))
        }
        _ => Err(vec![FieldError::new(
            "record",
            format!("must be a JSON object of {noun} fields"),
        )]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    crate::choices! {
        pub enum Colour { Red = "RED", DarkBlue = "DARK_BLUE" }
    }

    const NAMES: &[&str] = &["code", "rate", "colour", "active", "on", "n"];

    #[test]
    fn each_problem_names_its_field_and_the_prefix() {
        let value = json!({"code": 5, "rate": 25.5, "colour": "green", "active": "yes",
                           "on": "2026-02-30", "n": 0, "extra": 1});
        let mut fields =
            Fields::collect(NAMES, "test", json_object(&value, "test").unwrap()).within("lines[2]");
        assert_eq!(fields.code("code", true), None);
        assert_eq!(fields.decimal("rate", true, None, None), None);
        assert_eq!(fields.choice::<Colour>("colour", true), None);
        assert!(fields.flag("active", true));
        assert_eq!(fields.date("on", true), None);
        assert_eq!(fields.positive("n", true, 9), None);
        let errors = fields.into_errors();
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            named,
            [
                "lines[2].extra",
                "lines[2].code",
                "lines[2].rate",
                "lines[2].colour",
                "lines[2].active",
                "lines[2].on",
                "lines[2].n"
            ]
        );
        assert!(
            errors[2].message.contains("not a JSON number"),
            "{errors:?}"
        );
        assert!(errors[3].message.contains("RED, DARK_BLUE"), "{errors:?}");
    }

    #[test]
    fn cells_are_trimmed_choices_normalised_and_blank_is_absent() {
        let pairs = [
            ("code", RawValue::Cell(" 4000 ")),
            ("rate", RawValue::Cell("12.50")),
            ("colour", RawValue::Cell("dark blue")),
            ("active", RawValue::Cell("FALSE")),
            ("on", RawValue::Cell("")),
            ("n", RawValue::Cell("3")),
        ];
        let mut fields = Fields::collect(NAMES, "test", pairs);
        assert_eq!(fields.code("code", true).as_deref(), Some("4000"));
        let rate = fields.decimal(
            "rate",
            true,
            Some(Decimal::ZERO),
            Some(Decimal::ONE_HUNDRED),
        );
        assert_eq!(rate.unwrap().to_string(), "12.50");
        assert_eq!(
            fields.choice::<Colour>("colour", true),
            Some(Colour::DarkBlue)
        );
        assert!(!fields.flag("active", true));
        assert_eq!(fields.date("on", false), None);
        assert_eq!(fields.positive("n", true, 9), Some(3));
        assert!(fields.is_clean());
        let mut over = Fields::collect(NAMES, "test", [("rate", RawValue::Cell("100.01"))]);
        assert_eq!(
            over.decimal("rate", true, None, Some(Decimal::ONE_HUNDRED)),
            None
        );
        assert_eq!(over.into_errors()[0].message, "must be at most 100");
    }
}
