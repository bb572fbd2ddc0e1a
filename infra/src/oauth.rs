//! The dev stack's stand-in for Cognito: RS256 access tokens with a `kid`, a JWKS document,
//! and verification of those tokens (the role API Gateway's Cognito authorizer plays in AWS).
//! Claims are shaped like Cognito's client_credentials access tokens.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ledgerdock_shared::auth::Scope;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Access tokens live an hour, as Cognito's do by default.
pub const TOKEN_TTL_SECS: i64 = 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub client_id: String,
    pub token_use: String,
    pub scope: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub version: u8,
}

pub struct TokenIssuer {
    key: KeyPair,
    kid: String,
    issuer: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token was not issued here")]
    WrongIssuer,
}

impl TokenIssuer {
    /// A fresh 2048-bit key; returns it with its PKCS#8 encoding for persisting.
    pub fn generate(issuer: &str) -> anyhow::Result<(Self, Vec<u8>)> {
        let key = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
        let pkcs8 = key
            .as_der()
            .map_err(|_| anyhow::anyhow!("RSA key encoding failed"))?
            .as_ref()
            .to_vec();
        Ok((Self::from_key(key, issuer), pkcs8))
    }

    pub fn from_pkcs8(pkcs8: &[u8], issuer: &str) -> anyhow::Result<Self> {
        let key = KeyPair::from_pkcs8(pkcs8)
            .map_err(|e| anyhow::anyhow!("stored signing key is invalid: {e}"))?;
        Ok(Self::from_key(key, issuer))
    }

    fn from_key(key: KeyPair, issuer: &str) -> Self {
        let digest = Sha256::digest(key.public_key().as_ref());
        let kid = URL_SAFE_NO_PAD.encode(&digest[..12]);
        Self {
            key,
            kid,
            issuer: issuer.to_string(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn issue(&self, client_id: &str, scopes: &[Scope]) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: client_id.to_string(),
            client_id: client_id.to_string(),
            token_use: "access".into(),
            scope: scopes
                .iter()
                .map(Scope::oauth_name)
                .collect::<Vec<_>>()
                .join(" "),
            iss: self.issuer.clone(),
            iat: now,
            exp: now + TOKEN_TTL_SECS,
            jti: uuid::Uuid::new_v4().to_string(),
            version: 2,
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims (tests use it to mint expired tokens).
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let header = json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
        );
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("signing failed"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// Checks algorithm, key id, signature, issuer, token use and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if header["alg"] != "RS256" || header["kid"] != self.kid.as_str() {
            return Err(TokenError::BadSignature);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| TokenError::Malformed)?;
        let signed = &token[..header_payload_len(token)];
        UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            self.key.public_key().as_ref(),
        )
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.iss != self.issuer || claims.token_use != "access" {
            return Err(TokenError::WrongIssuer);
        }
        if claims.exp <= chrono::Utc::now().timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    pub fn jwks(&self) -> serde_json::Value {
        let public = self.key.public_key();
        json!({"keys": [{
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        }]})
    }
}

/// Length of `header.payload`, the part a JWT signature covers.
fn header_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_and_verifies_and_refuses_tampering() {
        let (issuer, pkcs8) = TokenIssuer::generate("http://127.0.0.1:3000").unwrap();
        let token = issuer.issue("client-1", &[Scope::InvoicesRead]).unwrap();
        let claims = issuer.verify(&token).unwrap();
        assert_eq!(claims.client_id, "client-1");
        assert_eq!(claims.scope, "ledgerdock/invoices.read");

        // The same key reloaded verifies the same token.
        let reloaded = TokenIssuer::from_pkcs8(&pkcs8, "http://127.0.0.1:3000").unwrap();
        assert!(reloaded.verify(&token).is_ok());

        // Swap in a payload granting more scopes: the signature no longer matches.
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged_claims = claims.clone();
        forged_claims.scope = "ledgerdock/invoices.write".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged_claims).unwrap()),
            parts[2]
        );
        assert_eq!(
            issuer.verify(&forged).unwrap_err(),
            TokenError::BadSignature
        );

        // A token from another key is refused.
        let (other, _) = TokenIssuer::generate("http://127.0.0.1:3000").unwrap();
        assert!(issuer
            .verify(&other.issue("client-1", &[]).unwrap())
            .is_err());
        assert_eq!(issuer.verify("garbage").unwrap_err(), TokenError::Malformed);

        let mut expired = claims;
        expired.exp = expired.iat - 10;
        assert_eq!(
            issuer.verify(&issuer.sign(&expired).unwrap()).unwrap_err(),
            TokenError::Expired
        );
    }
}
