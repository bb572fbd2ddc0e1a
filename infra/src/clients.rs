//! The dev stack's client registry (Cognito's app clients, locally): client id, name, allowed
//! scopes and a slow PBKDF2 hash of the secret, stored in the same table as
//! `PK = CLIENT#<clientId>`, `SK = PROFILE`. Grants live beside it (shared `GrantStore`).

use std::collections::HashMap;
use std::num::NonZeroU32;

use anyhow::Context;
use aws_lc_rs::pbkdf2;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use ledgerdock_shared::auth::Scope;
use ledgerdock_shared::domain::Timestamp;
use ledgerdock_shared::store::grants::client_pk;

const PBKDF2_ITERATIONS: u32 = 100_000;
const PROFILE_SK: &str = "PROFILE";

#[derive(Debug, Clone)]
pub struct LocalClient {
    pub client_id: String,
    pub name: String,
    pub allowed_scopes: Vec<Scope>,
    secret_hash: String,
}

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

impl LocalClient {
    pub fn secret_matches(&self, secret: &str) -> bool {
        verify_secret(&self.secret_hash, secret)
    }
}

#[derive(Clone)]
pub struct ClientRegistry {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl ClientRegistry {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn key(client_id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("PK".to_string(), AttributeValue::S(client_pk(client_id))),
            ("SK".to_string(), AttributeValue::S(PROFILE_SK.into())),
        ])
    }

    /// Registers a client under `client_id` with a fresh secret, which is returned once.
    pub async fn create_with_id(
        &self,
        client_id: &str,
        name: &str,
        scopes: &[Scope],
    ) -> anyhow::Result<String> {
        let secret = random_token(51);
        let mut item = Self::key(client_id);
        item.insert("entity".into(), AttributeValue::S("CLIENT".into()));
        item.insert("clientId".into(), AttributeValue::S(client_id.into()));
        item.insert("name".into(), AttributeValue::S(name.into()));
        item.insert(
            "allowedScopes".into(),
            AttributeValue::L(
                scopes
                    .iter()
                    .map(|s| AttributeValue::S(s.name().into()))
                    .collect(),
            ),
        );
        item.insert("secretHash".into(), AttributeValue::S(hash_secret(&secret)));
        item.insert(
            "createdAt".into(),
            AttributeValue::S(Timestamp::now().to_string()),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(e)))
            .context("storing client")?;
        Ok(secret)
    }

    pub async fn find(&self, client_id: &str) -> anyhow::Result<Option<LocalClient>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(client_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let text = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let allowed_scopes = item
            .get("allowedScopes")
            .and_then(|v| v.as_l().ok())
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_s().ok())
                    .filter_map(|s| Scope::parse(s))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(LocalClient {
            client_id: client_id.to_string(),
            name: text("name"),
            allowed_scopes,
            secret_hash: text("secretHash"),
        }))
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
