//! The dev stack's stand-in for Cognito: RS256 access tokens with a `kid` and a JWKS document.
//! Claims are shaped like Cognito's client_credentials access tokens. Verifying them (the role
//! API Gateway's Cognito authorizer plays in AWS) is `ledgerdock_shared::edge::token`'s job, the
//! verifier the functions themselves use where no authorizer runs.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ledgerdock_shared::domain::Scope;
pub use ledgerdock_shared::edge::token::{Claims, TokenError};
use ledgerdock_shared::edge::token::{Jwks, TokenVerifier};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Access tokens live an hour, as Cognito's do by default.
pub const TOKEN_TTL_SECS: i64 = 3600;

pub struct TokenIssuer {
    key: KeyPair,
    kid: String,
    issuer: String,
    /// The shared verifier, holding this issuer's JWKS.
    verifier: TokenVerifier,
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
        let jwks = jwks_of(&key, &kid);
        let keys = Jwks::parse(&jwks).unwrap_or_default();
        Self {
            key,
            kid,
            issuer: issuer.to_string(),
            verifier: TokenVerifier::new(issuer, keys),
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

    /// Checks a token the way the Cognito authorizer does, with the shared verifier.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verifier.verify(token, chrono::Utc::now().timestamp())
    }

    pub fn jwks(&self) -> serde_json::Value {
        jwks_of(&self.key, &self.kid)
    }
}

/// The JWKS document publishing `key` under `kid`.
fn jwks_of(key: &KeyPair, kid: &str) -> serde_json::Value {
    let public = key.public_key();
    json!({"keys": [{
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    }]})
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

        // Expiry and issue time, with the verifier's leeway for clock skew.
        let now = chrono::Utc::now().timestamp();
        let mut skewed = claims.clone();
        skewed.exp = now - 10;
        assert!(issuer.verify(&issuer.sign(&skewed).unwrap()).is_ok());
        let mut expired = claims.clone();
        expired.exp = now - 60;
        assert_eq!(
            issuer.verify(&issuer.sign(&expired).unwrap()).unwrap_err(),
            TokenError::Expired
        );
        let mut future = claims.clone();
        future.iat = now + 600;
        assert_eq!(
            issuer.verify(&issuer.sign(&future).unwrap()).unwrap_err(),
            TokenError::NotYetValid
        );
        // Another key's token names a kid this JWKS does not list.
        let (other, _) = TokenIssuer::generate("http://127.0.0.1:3000").unwrap();
        assert_eq!(
            issuer
                .verify(&other.issue("client-1", &[]).unwrap())
                .unwrap_err(),
            TokenError::UnknownKey
        );
        // An identity token, or another issuer's, is not an access token of ours.
        let mut id_token = claims.clone();
        id_token.token_use = "id".into();
        assert_eq!(
            issuer.verify(&issuer.sign(&id_token).unwrap()).unwrap_err(),
            TokenError::WrongIssuer
        );
        let mut foreign = claims;
        foreign.iss = "https://cognito-idp.eu-west-1.amazonaws.com/other".into();
        assert_eq!(
            issuer.verify(&issuer.sign(&foreign).unwrap()).unwrap_err(),
            TokenError::WrongIssuer
        );
    }
}
