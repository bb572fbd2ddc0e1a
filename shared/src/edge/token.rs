//! Verifying OAuth2 access tokens: RS256 JWTs shaped like Cognito's client_credentials access
//! tokens, checked against the issuer's JWKS. In AWS the REST API's Cognito authorizer does
//! this before a function runs; this is the one verifier for everywhere it must be done in
//! code: the dev stack's stand-in authorizer, and a function that receives an event without
//! authorizer claims (`sam local`, which runs no authorizer).

use std::collections::HashMap;

use aws_lc_rs::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Clock skew tolerated on `exp` and `iat`.
pub const LEEWAY_SECS: i64 = 30;

/// The claims of an access token, as Cognito issues them for client_credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(default)]
    pub sub: String,
    pub client_id: String,
    pub token_use: String,
    #[serde(default)]
    pub scope: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default)]
    pub jti: String,
    #[serde(default)]
    pub version: u8,
}

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature is invalid")]
    BadSignature,
    /// Signed with a key the JWKS does not (yet) list: a rotated key may warrant a refetch.
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued in the future")]
    NotYetValid,
    #[error("the token was not issued here")]
    WrongIssuer,
}

/// The public keys of a JWKS document (`{"keys": [{"kty": "RSA", "kid", "n", "e"}, …]}`), by
/// key id. Keys of other types are skipped.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: HashMap<String, (Vec<u8>, Vec<u8>)>,
}

impl Jwks {
    pub fn parse(document: &serde_json::Value) -> Result<Self, TokenError> {
        let listed = document["keys"].as_array().ok_or(TokenError::Malformed)?;
        let mut keys = HashMap::new();
        for key in listed {
            if key["kty"] != "RSA" || key.get("alg").is_some_and(|alg| alg != "RS256") {
                continue;
            }
            let field = |name: &str| {
                key[name]
                    .as_str()
                    .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                    .ok_or(TokenError::Malformed)
            };
            let kid = key["kid"].as_str().ok_or(TokenError::Malformed)?;
            keys.insert(kid.to_string(), (field("n")?, field("e")?));
        }
        Ok(Self { keys })
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }
}

/// Checks tokens of one issuer against its keys.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    issuer: String,
    keys: Jwks,
}

impl TokenVerifier {
    pub fn new(issuer: impl Into<String>, keys: Jwks) -> Self {
        Self {
            issuer: issuer.into(),
            keys,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// RS256 only, a `kid` the JWKS lists, the signature, then the claims: this issuer, an
    /// access token (`token_use`), a `client_id`, not expired and not issued in the future
    /// (both within [`LEEWAY_SECS`]). `now` is Unix seconds.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: serde_json::Value = decode_json(header)?;
        if header["alg"] != "RS256" {
            return Err(TokenError::BadSignature);
        }
        let kid = header["kid"].as_str().ok_or(TokenError::Malformed)?;
        let (n, e) = self.keys.keys.get(kid).ok_or(TokenError::UnknownKey)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        // The signature covers `header.payload`.
        let signed = &token[..token.rfind('.').unwrap_or(0)];
        RsaPublicKeyComponents { n, e }
            .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = decode_json(payload)?;
        if claims.iss != self.issuer || claims.token_use != "access" || claims.client_id.is_empty()
        {
            return Err(TokenError::WrongIssuer);
        }
        if claims.exp + LEEWAY_SECS <= now {
            return Err(TokenError::Expired);
        }
        if claims.iat - LEEWAY_SECS > now {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Malformed)
}

/// A verifier whose keys come from a JWKS URL: fetched at the first token, fetched again once
/// when a token names a key it does not know (a rotated key), at most every
/// [`REFETCH_EVERY`] so unknown `kid`s cannot make it hammer the JWKS.
pub struct RemoteVerifier {
    keys: crate::edge::config::TokenKeys,
    cached: tokio::sync::RwLock<Option<(TokenVerifier, std::time::Instant)>>,
}

/// Least time between two JWKS fetches of one container.
pub const REFETCH_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl RemoteVerifier {
    pub fn new(keys: crate::edge::config::TokenKeys) -> Self {
        Self {
            keys,
            cached: tokio::sync::RwLock::new(None),
        }
    }

    /// Verifies `token`; a JWKS that cannot be fetched is a 503, a bad token a 401.
    pub async fn verify(&self, token: &str) -> Result<Claims, crate::foundation::error::ApiError> {
        let now = chrono::Utc::now().timestamp();
        let first = self
            .cached
            .read()
            .await
            .as_ref()
            .map(|(verifier, _)| verifier.verify(token, now));
        match first {
            Some(Err(TokenError::UnknownKey)) | None => {}
            Some(result) => return result.map_err(unauthenticated),
        }
        let mut cached = self.cached.write().await;
        let stale = cached
            .as_ref()
            .is_none_or(|(_, fetched)| fetched.elapsed() >= REFETCH_EVERY);
        if stale {
            let keys = self.fetch().await?;
            *cached = Some((
                TokenVerifier::new(&self.keys.issuer, keys),
                std::time::Instant::now(),
            ));
        }
        match cached.as_ref() {
            Some((verifier, _)) => verifier.verify(token, now).map_err(unauthenticated),
            None => Err(unauthenticated(TokenError::UnknownKey)),
        }
    }

    async fn fetch(&self) -> Result<Jwks, crate::foundation::error::ApiError> {
        let unavailable = |cause: String| crate::foundation::error::ApiError::Unavailable {
            retry_after_secs: 1,
            cause,
        };
        let url = &self.keys.jwks_url;
        let (authority, path) = crate::foundation::plain_http::split_url(url)
            .ok_or_else(|| unavailable(format!("JWKS URL {url} is not http://host/path")))?;
        let (status, body) = crate::foundation::plain_http::send(authority, "GET", path, &[], &[])
            .await
            .map_err(|e| unavailable(format!("fetching the JWKS at {url} failed: {e}")))?;
        if status != 200 {
            return Err(unavailable(format!("the JWKS at {url} answered {status}")));
        }
        let document: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| unavailable(format!("the JWKS at {url} is not JSON: {e}")))?;
        Jwks::parse(&document).map_err(|e| unavailable(format!("the JWKS at {url}: {e}")))
    }
}

fn unauthenticated(e: TokenError) -> crate::foundation::error::ApiError {
    crate::foundation::error::ApiError::Unauthenticated(format!("{e}; request a new access token"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_jwks_keeps_rsa_keys_by_kid_and_refuses_garbage() {
        let jwks = Jwks::parse(&json!({"keys": [
            {"kty": "RSA", "alg": "RS256", "kid": "k1", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "k2", "crv": "P-256"},
        ]}))
        .unwrap();
        assert!(jwks.contains("k1") && !jwks.contains("k2"));
        assert!(Jwks::parse(&json!({"nokeys": []})).is_err());
        assert!(Jwks::parse(
            &json!({"keys": [{"kty": "RSA", "kid": "k", "n": "!!", "e": "AQAB"}]})
        )
        .is_err());
    }

    #[test]
    fn malformed_tokens_and_other_algorithms_are_refused_before_any_key_is_used() {
        let verifier = TokenVerifier::new("iss", Jwks::default());
        assert_eq!(verifier.verify("a.b", 0), Err(TokenError::Malformed));
        assert_eq!(verifier.verify("a.b.c.d", 0), Err(TokenError::Malformed));
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k"}"#);
        assert_eq!(
            verifier.verify(&format!("{none}.e30."), 0),
            Err(TokenError::BadSignature)
        );
        let hs = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"k"}"#);
        assert_eq!(
            verifier.verify(&format!("{hs}.e30.c2ln"), 0),
            Err(TokenError::BadSignature)
        );
        let rs = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k"}"#);
        assert_eq!(
            verifier.verify(&format!("{rs}.e30.c2ln"), 0),
            Err(TokenError::UnknownKey)
        );
    }
}
