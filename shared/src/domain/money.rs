//! Exact decimal amounts. Money and quantities travel as decimal strings ("1100.00"), never floats.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Most decimal places accepted: enough for unit prices and quantities, small enough that
/// sums of thousands of lines stay exact.
pub const MAX_SCALE: u32 = 6;
/// Most digits before the decimal point (amounts below a quadrillion). With at most 5,000 lines
/// an invoice's sums stay below 10^19, far inside the 96-bit range of the exact decimal type,
/// so adding amounts can never overflow; the arithmetic is checked all the same.
pub const MAX_INTEGER_DIGITS: usize = 15;

/// An exact decimal value (an amount of money or a quantity), serialised as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Decimal2(Decimal);

/// Money amounts. Kept as a distinct name so signatures say what a value means.
pub type Money = Decimal2;
/// Line quantities.
pub type Quantity = Decimal2;

impl Decimal2 {
    pub const ZERO: Self = Self(Decimal::ZERO);

    pub fn value(&self) -> Decimal {
        self.0
    }

    /// `self + other`, or `None` if the exact result would not fit.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// The exact sum of `values`, or `None` if it would not fit. There is deliberately no `+`
    /// or `Sum`: an overflowing `+` panics, and a panic aborts the whole Lambda process.
    pub fn checked_sum(values: impl IntoIterator<Item = Self>) -> Option<Self> {
        values
            .into_iter()
            .try_fold(Self::ZERO, |total, value| total.checked_add(value))
    }
}

impl FromStr for Decimal2 {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let well_formed = !s.is_empty()
            && s.len() <= 32
            && s.trim() == s
            && s.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
            && !s.starts_with('.')
            && !s.ends_with('.');
        if !well_formed {
            return Err("must be a decimal string like \"1100.00\"".into());
        }
        let value = Decimal::from_str_exact(s)
            .map_err(|_| "must be a decimal string like \"1100.00\"".to_string())?;
        if value.scale() > MAX_SCALE {
            return Err(format!("must have at most {MAX_SCALE} decimal places"));
        }
        let integer_digits = s
            .trim_start_matches('-')
            .split('.')
            .next()
            .unwrap_or_default()
            .trim_start_matches('0')
            .len();
        if integer_digits > MAX_INTEGER_DIGITS {
            return Err(format!(
                "must have at most {MAX_INTEGER_DIGITS} digits before the decimal point"
            ));
        }
        Ok(Self(value))
    }
}

impl fmt::Display for Decimal2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Decimal2 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Decimal2 {
    /// Only strings are accepted: a JSON number may already have lost precision in the client.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An ISO 4217 currency code: three upper-case letters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CurrencyCode(String);

impl CurrencyCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CurrencyCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if super::iso::is_currency(&s) {
            Ok(Self(s))
        } else {
            Err(format!(
                "{s:?} is not an ISO 4217 currency code; use three upper-case letters, like \"EUR\""
            ))
        }
    }
}

impl From<CurrencyCode> for String {
    fn from(c: CurrencyCode) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_scale_and_sums_exactly() {
        let a: Money = "0.10".parse().unwrap();
        let b: Money = "0.20".parse().unwrap();
        assert_eq!(a.checked_add(b).unwrap().to_string(), "0.30");
        let total =
            Money::checked_sum(["1000.00", "100.00"].iter().map(|s| s.parse().unwrap())).unwrap();
        assert_eq!(total.to_string(), "1100.00");
    }

    #[test]
    fn amounts_are_bounded_in_digits_and_sums_never_panic() {
        assert!("999999999999999.999999".parse::<Money>().is_ok());
        assert!("-000999999999999999.50".parse::<Money>().is_ok());
        let e = "1000000000000000".parse::<Money>().unwrap_err();
        assert!(e.contains("15 digits"), "{e}");
        assert!("79228162514264337593543950335".parse::<Money>().is_err());
        // The largest values the type holds overflow when added: checked, not a panic.
        let max = Decimal2(Decimal::MAX);
        assert_eq!(max.checked_add(max), None);
        assert_eq!(Money::checked_sum([max, max]), None);
    }

    #[test]
    fn rejects_numbers_floats_and_garbage() {
        assert!(serde_json::from_str::<Money>("12.5").is_err());
        for bad in [
            "",
            "1e5",
            "1,00",
            " 1.00",
            "NaN",
            ".5",
            "5.",
            "1.1234567",
            "--1",
        ] {
            assert!(bad.parse::<Money>().is_err(), "{bad}");
        }
        assert_eq!("-12.50".parse::<Money>().unwrap().to_string(), "-12.50");
    }

    #[test]
    fn currency_is_three_upper_case_letters() {
        assert!(CurrencyCode::try_from("EUR".to_string()).is_ok());
        assert!(CurrencyCode::try_from("eur".to_string()).is_err());
        assert!(CurrencyCode::try_from("EURO".to_string()).is_err());
    }
}
