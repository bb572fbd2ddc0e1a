//! Continuation keys: opaque, bound to the company that received them, and tamper-evident.
//!
//! A key is `base64url(payload) "." base64url(HMAC-SHA256(secret, domain || payload))` where the
//! payload is `{"v":1,"c":"<companyId>","p":"<position>"}`. The position is the sort key of the
//! last item returned (not an offset), so items that leave the queue between pages shift nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::domain::CompanyId;
use crate::error::ApiError;

const DOMAIN: &[u8] = b"ledgerdock/continuation-key/v1\0";
/// Longest key we even try to decode: real keys are ~200 bytes.
const MAX_KEY_LEN: usize = 1024;

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    c: String,
    p: String,
}

#[derive(Clone)]
pub struct ContinuationKeys {
    secret: Vec<u8>,
}

impl ContinuationKeys {
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; this cannot fail.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!());
        mac.update(DOMAIN);
        mac.update(payload);
        mac
    }

    /// Seals a position for `company`.
    pub fn seal(&self, company: CompanyId, position: &str) -> String {
        let payload = serde_json::to_vec(&Payload {
            v: 1,
            c: company.to_string(),
            p: position.to_string(),
        })
        .unwrap_or_default();
        let tag = self.mac(&payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Opens a key that `company` sent back, returning the position it carries.
    /// Any forged, garbled or foreign key is `INVALID_CONTINUATION_KEY`.
    pub fn open(&self, company: CompanyId, key: &str) -> Result<String, ApiError> {
        let invalid = || {
            ApiError::InvalidContinuationKey(
                "continuationKey is not a key this API issued to this company; start again without one".into(),
            )
        };
        if key.len() > MAX_KEY_LEN {
            return Err(invalid());
        }
        let (payload_b64, tag_b64) = key.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag_b64).map_err(|_| invalid())?;
        self.mac(&payload)
            .verify_slice(&tag)
            .map_err(|_| invalid())?;
        let payload: Payload = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if payload.v != 1 || payload.c != company.to_string() {
            return Err(invalid());
        }
        Ok(payload.p)
    }
}

impl ContinuationKeys {
    /// The position in the request's `continuationKey`, if any. A correctly signed key always
    /// carries a valid position; `valid` checks it anyway before it reaches a query (and keeps
    /// one list's key from being used on another).
    pub fn from_query(
        &self,
        req: &lambda_http::Request,
        company: CompanyId,
        valid: impl Fn(&str) -> bool,
    ) -> Result<Option<String>, ApiError> {
        let Some(key) = crate::http::query(req, "continuationKey").filter(|k| !k.is_empty()) else {
            return Ok(None);
        };
        let position = self.open(company, &key)?;
        if !valid(&position) {
            return Err(ApiError::InvalidContinuationKey(
                "continuationKey does not belong to this list; start again without one".into(),
            ));
        }
        Ok(Some(position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> ContinuationKeys {
        ContinuationKeys::new(b"0123456789abcdef0123456789abcdef".to_vec())
    }

    #[test]
    fn round_trips_for_the_same_company() {
        let company = CompanyId::new_random();
        let key = keys().seal(company, "2026-01-01T00:00:00.000Z#abc");
        assert_eq!(
            keys().open(company, &key).unwrap(),
            "2026-01-01T00:00:00.000Z#abc"
        );
    }

    #[test]
    fn refuses_foreign_forged_and_garbled_keys() {
        let (a, b) = (CompanyId::new_random(), CompanyId::new_random());
        let key = keys().seal(a, "pos");
        assert!(keys().open(b, &key).is_err(), "another company's key");
        let other_secret = ContinuationKeys::new(b"another-secret-another-secret-123".to_vec());
        assert!(
            other_secret.open(a, &key).is_err(),
            "signed with another secret"
        );
        // Flip one character of the payload: the tag no longer matches.
        let mut forged = key.clone().into_bytes();
        forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
        assert!(keys().open(a, &String::from_utf8(forged).unwrap()).is_err());
        for garbage in ["", ".", "abc", "a.b", "%%%.###", &"x".repeat(5000)] {
            assert!(keys().open(a, garbage).is_err(), "{garbage}");
        }
    }
}
