//! Where a reader stands in its company's event feed.
//!
//! A cursor is a feed position, `<µs since the epoch, 16 digits>.<eventId>`: the event last
//! read, ordered by time, then by id. Two other forms mark a moment rather than an event:
//! `<µs>.~` is past every event of that microsecond (where a page that reached the settled
//! horizon leaves its reader) and `<µs>.` is before every event of it (where reading "since"
//! a time starts). Every character is URL-safe, so a cursor goes into a query string as is.
//!
//! Positions are no secret (a reader is shown each of its events' own), so a cursor is not
//! sealed as a continuation key is: it stays valid for the feed's whole retention, across
//! secret rotations, which a connector that stores it for days relies on.

use std::fmt;
use std::time::Duration;

use crate::domain::Timestamp;
use crate::foundation::error::FieldError;

/// How long the feed keeps an event.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How old an event must be before the feed serves it: longer than an append can take to
/// commit (see `store::events`), so no event lands behind a cursor already handed out.
pub const SETTLE: Duration = Duration::from_secs(10);

const DIGITS: usize = 16;
/// Sorts after every event id character.
const PAST_EVERY_ID: &str = "~";
const MAX_ID_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedCursor(String);

impl FeedCursor {
    /// The position of event `event_id` written at `at`.
    pub fn of_event(at: Timestamp, event_id: &str) -> Self {
        Self(format!("{}.{event_id}", micros(at)))
    }

    /// Past every event written up to and including `at`'s microsecond.
    pub fn past(at: Timestamp) -> Self {
        Self(format!("{}.{PAST_EVERY_ID}", micros(at)))
    }

    /// Before every event written at or after `at`.
    pub fn before(at: Timestamp) -> Self {
        Self(format!("{}.", micros(at)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A position as the store keeps it (the same text; see [`Self::try_from`] for what is
    /// accepted from a client).
    pub fn from_stored(position: &str) -> Option<Self> {
        Self::try_from(position.to_string()).ok()
    }
}

fn micros(at: Timestamp) -> String {
    format!("{:0DIGITS$}", at.as_datetime().timestamp_micros().max(0))
}

impl TryFrom<String> for FeedCursor {
    type Error = FieldError;

    /// A cursor this feed handed out: 16 digits, a dot, then an event id (letters, digits,
    /// `_`, `-`; at most 64) or `~`.
    fn try_from(raw: String) -> Result<Self, FieldError> {
        let well_formed = raw.split_once('.').is_some_and(|(micros, rest)| {
            micros.len() == DIGITS
                && micros.bytes().all(|b| b.is_ascii_digit())
                && (rest == PAST_EVERY_ID
                    || (!rest.is_empty()
                        && rest.len() <= MAX_ID_CHARS
                        && rest
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')))
        });
        if well_formed {
            Ok(Self(raw))
        } else {
            Err(FieldError::new(
                "after",
                "is not a cursor this feed handed out (use an item's cursor or a page's \
                 nextCursor, or leave it out to read from the start)",
            ))
        }
    }
}

/// An event's id as the API shows it (`webhook-id`, the feed's `id`): `evt_` and 32 lowercase
/// hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(String);

impl EventId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for EventId {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let hex = raw.strip_prefix("evt_").unwrap_or_default();
        if hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(raw.to_string()))
        } else {
            Err("must be an event id: evt_ and 32 lowercase hex digits".into())
        }
    }
}

/// The body of `POST /v1/webhook-subscriptions/{id}/recover`: where to start, by time or
/// (to go on where an earlier recovery stopped) by the cursor it answered.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoverRequest {
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
}

impl RecoverRequest {
    /// The feed position to read on after: before every event from `since` on (no further
    /// back than the feed keeps them, [`RETENTION`]), or the cursor given. Exactly one of the
    /// two; `since` not after `now`.
    pub fn start(self, now: Timestamp) -> Result<FeedCursor, FieldError> {
        match (self.since, self.after) {
            (Some(since), None) => {
                let since = Timestamp::parse(&since).map_err(|_| {
                    FieldError::new(
                        "since",
                        "must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z",
                    )
                })?;
                if since > now {
                    return Err(FieldError::new("since", "is in the future"));
                }
                Ok(FeedCursor::before(since.max(now.minus(RETENTION))))
            }
            (None, Some(after)) => FeedCursor::try_from(after),
            (Some(_), Some(_)) => Err(FieldError::new(
                "after",
                "give since or after, not both (after goes on where a recovery stopped)",
            )),
            (None, None) => Err(FieldError::new(
                "since",
                "is required: the time to send events again from",
            )),
        }
    }
}

impl fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for FeedCursor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn cursors_sort_by_time_then_id_and_moments_bracket_their_events() {
        let (t1, t2) = (
            at("2026-12-07T10:00:00.001Z"),
            at("2026-12-07T10:00:00.002Z"),
        );
        let (a, b, c) = (
            FeedCursor::of_event(t1, "evt_b"),
            FeedCursor::of_event(t2, "evt_a"),
            FeedCursor::of_event(t2, "evt_b"),
        );
        assert!(a < b && b < c);
        assert!(FeedCursor::before(t2) < b && c < FeedCursor::past(t2));
        assert!(FeedCursor::past(t1) < FeedCursor::before(t2));
        assert_eq!(a.as_str(), "1796637600001000.evt_b");
    }

    #[test]
    fn only_cursors_the_feed_hands_out_are_accepted() {
        for good in ["1796637600001000.evt_b", "1796637600001000.~"] {
            assert_eq!(
                FeedCursor::try_from(good.to_string()).unwrap().as_str(),
                good
            );
        }
        let long = format!("1796637600001000.{}", "a".repeat(65));
        for bad in [
            "",
            "123.evt",
            "x796637600001000.evt",
            "1796637600001000.",
            "1796637600001000#evt_b",
            "1796637600001000.evt b",
            "1796637600001000.~~",
            long.as_str(),
        ] {
            let refused = FeedCursor::try_from(bad.to_string()).unwrap_err();
            assert_eq!(refused.field, "after", "{bad:?}");
        }
    }
}
