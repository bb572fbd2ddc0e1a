//! The dev stack's client registry (Cognito's app clients, locally): the shared client profile
//! (`PK = CLIENT#<clientId>`, `SK = PROFILE`) plus a slow PBKDF2 hash of the secret. Grants live
//! beside it (shared `GrantStore`).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_lc_rs::pbkdf2;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use ledgerdock_shared::domain::Scope;
use ledgerdock_shared::domain::Timestamp;
use ledgerdock_shared::store::clients::{ClientProfile, ClientStore, DEFAULT_RATE_LIMIT};

const PBKDF2_ITERATIONS: u32 = 100_000;

/// Random lower-case alphanumerics, like Cognito's client ids and secrets.
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    // SystemRandom only fails if the OS has no entropy source at all.
    SystemRandom::new()
        .fill(&mut bytes)
        .unwrap_or_else(|_| panic!("no system randomness available"));
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn hash_secret(secret: &str) -> String {
    let salt = random_token(16);
    let mut out = [0u8; 32];
    let iterations = NonZeroU32::new(PBKDF2_ITERATIONS).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt.as_bytes(),
        secret.as_bytes(),
        &mut out,
    );
    format!(
        "pbkdf2-sha256${PBKDF2_ITERATIONS}${salt}${}",
        STANDARD_NO_PAD.encode(out)
    )
}

fn verify_secret(hash: &str, secret: &str) -> bool {
    let parts: Vec<&str> = hash.split('$').collect();
    let [scheme, iterations, salt, expected] = parts.as_slice() else {
        return false;
    };
    let (Some(iterations), Ok(expected)) = (
        iterations.parse().ok().and_then(NonZeroU32::new),
        STANDARD_NO_PAD.decode(expected),
    ) else {
        return false;
    };
    *scheme == "pbkdf2-sha256"
        && pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            salt.as_bytes(),
            secret.as_bytes(),
            &expected,
        )
        .is_ok()
}

/// Whether `secret` is the one this profile's hash was made from.
pub fn secret_matches(profile: &ClientProfile, secret: &str) -> bool {
    profile
        .secret_hash
        .as_deref()
        .is_some_and(|hash| verify_secret(hash, secret))
}

/// The dev stack's stand-in for Cognito's app clients: profiles with a slow secret hash, in
/// the same table (see `ledgerdock_shared::store::clients`).
#[derive(Clone)]
pub struct ClientRegistry {
    store: Arc<ClientStore>,
}

impl ClientRegistry {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            // Never cached: the token endpoint must see a rotation or deletion at once.
            store: Arc::new(ClientStore::new(client, table, Duration::ZERO)),
        }
    }

    /// Registers a client under `client_id` with a fresh secret, which is returned once.
    pub async fn create_with_id(
        &self,
        client_id: &str,
        name: &str,
        scopes: &[Scope],
    ) -> anyhow::Result<String> {
        let (_, secret) = self
            .register(Some(client_id), name, scopes, DEFAULT_RATE_LIMIT)
            .await?;
        Ok(secret)
    }

    /// Registers a client (a new random id unless one is given); returns it and its secret.
    pub async fn register(
        &self,
        client_id: Option<&str>,
        name: &str,
        scopes: &[Scope],
        rate_limit: u32,
    ) -> anyhow::Result<(ClientProfile, String)> {
        let secret = random_token(51);
        let profile = ClientProfile {
            client_id: client_id.map_or_else(|| random_token(26), str::to_string),
            name: name.to_string(),
            allowed_scopes: scopes.to_vec(),
            rate_limit,
            created_at: Timestamp::now(),
            secret_hash: Some(hash_secret(&secret)),
        };
        self.store
            .put_profile(&profile)
            .await
            .context("storing client")?;
        Ok((profile, secret))
    }

    pub async fn find(&self, client_id: &str) -> anyhow::Result<Option<ClientProfile>> {
        Ok(self.store.profile(client_id).await?)
    }

    /// A new secret in place; the old one stops working at once (tokens already issued run out).
    pub async fn rotate_secret(&self, client_id: &str) -> anyhow::Result<Option<String>> {
        let Some(mut profile) = self.find(client_id).await? else {
            return Ok(None);
        };
        let secret = random_token(51);
        profile.secret_hash = Some(hash_secret(&secret));
        self.store.put_profile(&profile).await?;
        Ok(Some(secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_verifies_only_the_secret() {
        let hash = hash_secret("s3cret");
        assert!(verify_secret(&hash, "s3cret"));
        assert!(!verify_secret(&hash, "s3cret!"));
        assert!(!verify_secret("garbage", "s3cret"));
        assert!(!hash.contains("s3cret"));
    }
}
