//! Timestamps: RFC 3339 in UTC with fixed millisecond width, so their text sorts in time order
//! (the export queue's sort key relies on that).

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Self::from(Utc::now())
    }

    /// This time plus `duration` (saturating far in the future).
    pub fn plus(&self, duration: std::time::Duration) -> Self {
        let delta = chrono::TimeDelta::from_std(duration).unwrap_or(chrono::TimeDelta::MAX);
        Self::from(
            self.as_datetime()
                .checked_add_signed(delta)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        )
    }

    /// This time minus `duration` (saturating at the earliest time).
    pub fn minus(&self, duration: std::time::Duration) -> Self {
        let delta = chrono::TimeDelta::from_std(duration).unwrap_or(chrono::TimeDelta::MAX);
        Self::from(
            self.as_datetime()
                .checked_sub_signed(delta)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        )
    }

    /// How long after `earlier` this time is (zero if it is not after it).
    pub fn since(&self, earlier: Timestamp) -> std::time::Duration {
        self.0
            .signed_duration_since(earlier.0)
            .to_std()
            .unwrap_or_default()
    }

    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| Self::from(t.with_timezone(&Utc)))
            .map_err(|_| "must be an RFC 3339 timestamp like 2026-11-21T10:15:00Z".to_string())
    }
}

impl From<DateTime<Utc>> for Timestamp {
    /// Truncates to whole milliseconds, the precision the API shows.
    fn from(t: DateTime<Utc>) -> Self {
        let millis = t.timestamp_millis();
        Self(DateTime::from_timestamp_millis(millis).unwrap_or(t))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_order_is_time_order() {
        let a = Timestamp::parse("2026-01-01T09:59:59.999+00:00").unwrap();
        let b = Timestamp::parse("2026-01-01T10:00:00Z").unwrap();
        assert!(a.to_string() < b.to_string());
        assert_eq!(b.to_string(), "2026-01-01T10:00:00.000Z");
    }

    #[test]
    fn converts_offsets_to_utc() {
        let t = Timestamp::parse("2026-01-01T12:00:00+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-01-01T10:00:00.000Z");
    }
}
