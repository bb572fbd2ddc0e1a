//! `Idempotency-Key`: a client's name for one request, so that sending it again (its answer
//! lost on the way) returns what the first one made instead of making a second. Used by the
//! calls that create something: starting an import job, subscribing a webhook.
//!
//! A key belongs to the client that sent it, within the company: another client sending the
//! same key makes its own. It is kept with a [`Fingerprint`] of what the request asked for,
//! so the same key with a different request is refused (422 `IDEMPOTENCY_KEY_REUSED`), never
//! answered with the first request's result. Keys are kept [`IDEMPOTENCY_TTL_SECS`].

use crate::foundation::error::{ApiError, FieldError};

pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// Longest key taken: room for any UUID or ULID, with a prefix.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;
/// How long a key keeps answering with what it made.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

/// A key as sent: 1 to [`MAX_IDEMPOTENCY_KEY_CHARS`] visible ASCII characters. Stored with
/// the job it made, and read back through the same check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl TryFrom<String> for IdempotencyKey {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        let key = raw.trim();
        if key.is_empty()
            || key.len() > MAX_IDEMPOTENCY_KEY_CHARS
            || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Self::rule());
        }
        Ok(Self(key.to_string()))
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> Self {
        key.0
    }
}

impl IdempotencyKey {
    /// What a key must be, as a 400 says it.
    fn rule() -> String {
        format!("must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters, like a UUID")
    }

    /// The request's key, if it sent one (a 400 naming the header if it is not one).
    pub fn from_headers(headers: &http::HeaderMap) -> Result<Option<Self>, FieldError> {
        let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
            return Ok(None);
        };
        let bad = |message: String| FieldError::new(IDEMPOTENCY_HEADER, message);
        let raw = value.to_str().map_err(|_| bad(Self::rule()))?;
        Self::try_from(raw.to_string()).map(Some).map_err(bad)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a request asked for, as a SHA-256 (hex) of its parts, each ended so that no two
/// different lists of parts hash alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of(parts: &[&[u8]]) -> Self {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for part in parts {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Self(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// One as stored.
    pub fn stored(hex: impl Into<String>) -> Self {
        Self(hex.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An Idempotency-Key as one client sent it with one request.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub client_id: String,
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
}

impl Idempotency {
    /// The first use of the key, if it was this very request; a 422 if it was another.
    pub fn replays<T>(&self, first: T, first_fingerprint: &Fingerprint) -> Result<T, ApiError> {
        if *first_fingerprint == self.fingerprint {
            Ok(first)
        } else {
            Err(ApiError::IdempotencyKeyReused(format!(
                "the Idempotency-Key {:?} was already used for a different request; send a new \
                 key for a new one",
                self.key.as_str()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(IDEMPOTENCY_HEADER, value.parse().unwrap());
        headers
    }

    #[test]
    fn a_key_is_visible_ascii_of_bounded_length() {
        assert_eq!(
            IdempotencyKey::from_headers(&headers(" 4f1c-a ")).unwrap(),
            Some(IdempotencyKey("4f1c-a".into()))
        );
        assert_eq!(
            IdempotencyKey::from_headers(&http::HeaderMap::new()).unwrap(),
            None
        );
        for bad in ["", "   ", "a b", &"k".repeat(MAX_IDEMPOTENCY_KEY_CHARS + 1)] {
            let refused = IdempotencyKey::from_headers(&headers(bad)).unwrap_err();
            assert_eq!(refused.field, IDEMPOTENCY_HEADER, "{bad:?}");
        }
    }

    #[test]
    fn a_fingerprint_tells_apart_parts_that_join_alike() {
        assert_ne!(
            Fingerprint::of(&[b"ab", b"c"]),
            Fingerprint::of(&[b"a", b"bc"])
        );
        assert_eq!(Fingerprint::of(&[b"x"]), Fingerprint::of(&[b"x"]));
        let idempotency = Idempotency {
            client_id: "c".into(),
            key: IdempotencyKey("k".into()),
            fingerprint: Fingerprint::of(&[b"x"]),
        };
        assert_eq!(
            idempotency.replays(7, &Fingerprint::of(&[b"x"])).unwrap(),
            7
        );
        assert!(matches!(
            idempotency.replays(7, &Fingerprint::of(&[b"y"])),
            Err(ApiError::IdempotencyKeyReused(_))
        ));
    }

    #[test]
    fn a_stored_key_reads_back_through_the_same_check() {
        let key = IdempotencyKey::try_from("batch-7".to_string()).unwrap();
        let stored = serde_json::to_value(&key).unwrap();
        assert_eq!(stored, serde_json::json!("batch-7"));
        assert_eq!(
            serde_json::from_value::<IdempotencyKey>(stored).unwrap(),
            key
        );
        assert!(serde_json::from_value::<IdempotencyKey>(serde_json::json!("has space")).is_err());
    }
}
