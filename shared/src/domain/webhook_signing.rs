//! Signing webhook deliveries as the Standard Webhooks convention does, so that receivers can
//! verify them with the libraries that already exist for it:
//!
//! - `webhook-id`: the event's id, the same on every attempt (receivers de-duplicate on it);
//! - `webhook-timestamp`: when this attempt was signed, in Unix seconds;
//! - `webhook-signature`: `v1,<base64 of HMAC-SHA256 over "<id>.<timestamp>.<body>">`, one per
//!   secret in use, separated by spaces: while a rotated secret is still honoured, each
//!   delivery carries a signature by the new secret and one by the old.
//!
//! A secret is shown to its owner as `whsec_` and the base64 of its 32 key bytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix every secret is shown with.
const SECRET_PREFIX: &str = "whsec_";
/// Key bytes of a secret we generate (Standard Webhooks allows 24 to 64).
const SECRET_BYTES: usize = 32;
/// How far a delivery's timestamp may be from the receiver's clock before [`verify`] refuses
/// it as a possible replay.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// A signing secret: its key bytes. Never printed: `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

impl SigningSecret {
    /// A new secret of 32 random bytes from the operating system's generator.
    pub fn generate() -> Result<Self, String> {
        use aws_lc_rs::rand::SecureRandom;
        let mut key = vec![0u8; SECRET_BYTES];
        aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| "the system random generator failed".to_string())?;
        Ok(Self(key))
    }

    /// A secret as shown (`whsec_<base64>`), as stored or as a receiver configures it.
    pub fn parse(shown: &str) -> Result<Self, String> {
        let encoded = shown
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| format!("a signing secret starts with {SECRET_PREFIX}"))?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| "a signing secret is base64 after its prefix".to_string())?;
        if !(24..=64).contains(&key.len()) {
            return Err("a signing secret holds 24 to 64 bytes".into());
        }
        Ok(Self(key))
    }

    /// The secret as its owner sees it: `whsec_<base64>`.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; the error is unreachable.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    /// `v1,<base64 signature>` of one delivery.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac();
        signed_content(&mut mac, id, timestamp, body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

fn signed_content(mac: &mut Hmac<Sha256>, id: &str, timestamp: i64, body: &[u8]) {
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
}

/// The `webhook-signature` header of one delivery: a signature by each secret in use.
pub fn signature_header(
    secrets: &[&SigningSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a delivery did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The timestamp is not a number, or further than [`TOLERANCE_SECS`] from now.
    Timestamp,
    /// No `v1` signature in the header matches one by the secret.
    Signature,
}

/// What a receiver does with a delivery: checks its timestamp against its own clock (`now`,
/// Unix seconds) and that one of the header's `v1` signatures is the secret's, in constant
/// time.
pub fn verify(
    secret: &SigningSecret,
    id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    let timestamp: i64 = timestamp.trim().parse().map_err(|_| Refusal::Timestamp)?;
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(Refusal::Timestamp);
    }
    let matches = signature_header
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|candidate| {
            let mut mac = secret.mac();
            signed_content(&mut mac, id, timestamp, body);
            mac.verify_slice(&candidate).is_ok()
        });
    if matches {
        Ok(())
    } else {
        Err(Refusal::Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's own example.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn a_signature_is_the_one_the_standard_webhooks_specification_gives() {
        let secret = SigningSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(
            secret.sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY.as_bytes()),
            SPEC_SIGNATURE
        );
        assert_eq!(secret.reveal(), SPEC_SECRET);
    }

    #[test]
    fn a_receiver_accepts_a_fresh_signed_delivery_and_nothing_altered_or_stale() {
        let secret = SigningSecret::generate().unwrap();
        let (id, at, body) = ("evt_1", 1_800_000_000, br#"{"type":"invoice.exported"}"#);
        let header = signature_header(&[&secret], id, at, body);
        let ts = at.to_string();
        assert_eq!(verify(&secret, id, &ts, &header, body, at + 60), Ok(()));
        // Another body, id or timestamp, another secret, or a replay past the window.
        let other = SigningSecret::generate().unwrap();
        for (secret, id, ts, body) in [
            (
                &secret,
                id,
                ts.as_str(),
                &br#"{"type":"invoice.rejected"}"#[..],
            ),
            (&secret, "evt_2", ts.as_str(), &body[..]),
            (&other, id, ts.as_str(), &body[..]),
        ] {
            assert_eq!(
                verify(secret, id, ts, &header, body, at),
                Err(Refusal::Signature)
            );
        }
        let later = (at + 1).to_string();
        assert_eq!(
            verify(&secret, id, &later, &header, body, at),
            Err(Refusal::Signature)
        );
        assert_eq!(
            verify(&secret, id, &ts, &header, body, at + TOLERANCE_SECS + 1),
            Err(Refusal::Timestamp)
        );
        assert_eq!(
            verify(&secret, id, "soon", &header, body, at),
            Err(Refusal::Timestamp)
        );
    }

    #[test]
    fn while_a_secret_rotates_each_delivery_verifies_with_the_old_secret_and_the_new() {
        let (old, new) = (
            SigningSecret::generate().unwrap(),
            SigningSecret::generate().unwrap(),
        );
        let header = signature_header(&[&new, &old], "evt_1", 100, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        for secret in [&old, &new] {
            assert_eq!(verify(secret, "evt_1", "100", &header, b"{}", 100), Ok(()));
        }
    }

    #[test]
    fn a_secret_is_never_printed_and_malformed_ones_are_refused() {
        let secret = SigningSecret::generate().unwrap();
        assert_eq!(format!("{secret:?}"), "SigningSecret(…)");
        assert_eq!(SigningSecret::parse(&secret.reveal()).unwrap(), secret);
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_***",
            "whsec_c2hvcnQ=",
        ] {
            assert!(SigningSecret::parse(bad).is_err(), "{bad}");
        }
    }
}
