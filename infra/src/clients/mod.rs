//! `ledgerdock clients`: onboarding integrating systems. A client is an app client (in Cognito,
//! or the dev stack's local registry), a profile in the table (name, rate limit, the scopes its
//! tokens may carry) and one grant per company it may act for. The scopes a client's tokens
//! carry are always the union of its grants' scopes.
//!
//! A client's webhook subscriptions live only as long as the access they were made with:
//! taking a company (or a read scope) away disables the subscriptions whose events it can no
//! longer read, and deleting a client deletes all of them (the dispatcher checks each run
//! too, so a grant changed by any other means stops deliveries as well).

pub mod cognito;
pub mod local;

use std::collections::BTreeMap;

use anyhow::Context;
use ledgerdock_shared::domain::Scope;
use ledgerdock_shared::domain::{CompanyId, Timestamp};
use ledgerdock_shared::store::clients::{ClientProfile, ClientStore};
use ledgerdock_shared::store::grants::GrantStore;
use ledgerdock_shared::store::webhooks::{DisableWhen, WebhookStore};
use serde::Serialize;

pub use local::{random_token, secret_matches, ClientRegistry};

use cognito::{CognitoClients, Rotation};

/// Highest `--rate-limit` accepted (requests per minute).
pub const MAX_RATE_LIMIT: u32 = 1_000_000;
/// Days of usage `clients show` prints.
pub const USAGE_DAYS: i64 = 7;

/// Where app clients and their secrets live.
pub enum Directory {
    /// The dev stack's registry (secrets as slow hashes in the table).
    Local(ClientRegistry),
    /// A Cognito user pool.
    Cognito(CognitoClients),
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantView {
    pub company_id: CompanyId,
    pub scopes: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub scopes: Vec<&'static str>,
    /// Requests per minute.
    pub rate_limit: u32,
    pub created_at: Timestamp,
    pub grants: Vec<GrantView>,
    /// Requests per UTC day and route, newest day last (only from `show`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<BTreeMap<String, BTreeMap<String, u64>>>,
}

/// A secret, shown once.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    /// Set when rotation replaced the client: the id that no longer works.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_client_id: Option<String>,
}

fn names(scopes: &[Scope]) -> Vec<&'static str> {
    scopes.iter().map(Scope::name).collect()
}

fn union(grants: &[(CompanyId, Vec<Scope>)]) -> Vec<Scope> {
    let mut all: Vec<Scope> = grants.iter().flat_map(|(_, s)| s.iter().copied()).collect();
    all.sort();
    all.dedup();
    all
}

pub struct ClientAdmin {
    directory: Directory,
    store: ClientStore,
    grants: GrantStore,
    webhooks: WebhookStore,
}

impl ClientAdmin {
    pub fn new(directory: Directory, dynamodb: aws_sdk_dynamodb::Client, table: &str) -> Self {
        Self {
            directory,
            store: ClientStore::new(dynamodb.clone(), table, std::time::Duration::ZERO),
            grants: GrantStore::new(dynamodb.clone(), table, std::time::Duration::ZERO),
            webhooks: WebhookStore::new(dynamodb, table),
        }
    }

    async fn profile(&self, client_id: &str) -> anyhow::Result<ClientProfile> {
        self.store
            .profile(client_id)
            .await?
            .with_context(|| format!("there is no client {client_id}"))
    }

    async fn view(&self, profile: ClientProfile, with_usage: bool) -> anyhow::Result<ClientView> {
        let grants = self.grants.list(&profile.client_id).await?;
        let usage = if with_usage {
            Some(
                self.store
                    .usage_by_day(&profile.client_id, USAGE_DAYS, chrono::Utc::now())
                    .await?,
            )
        } else {
            None
        };
        Ok(ClientView {
            scopes: names(&profile.allowed_scopes),
            grants: grants
                .iter()
                .map(|(company, scopes)| GrantView {
                    company_id: *company,
                    scopes: names(scopes),
                })
                .collect(),
            client_id: profile.client_id,
            name: profile.name,
            rate_limit: profile.rate_limit,
            created_at: profile.created_at,
            usage,
        })
    }

    /// Creates the app client, its profile and a grant of `scopes` on each company.
    pub async fn create(
        &self,
        name: &str,
        companies: &[CompanyId],
        scopes: &[Scope],
        rate_limit: u32,
    ) -> anyhow::Result<(ClientView, Credentials)> {
        anyhow::ensure!(!name.trim().is_empty(), "--name must not be blank");
        anyhow::ensure!(!companies.is_empty(), "at least one --company is required");
        anyhow::ensure!(!scopes.is_empty(), "--scopes must name at least one scope");
        anyhow::ensure!(
            (1..=MAX_RATE_LIMIT).contains(&rate_limit),
            "--rate-limit must be 1 to {MAX_RATE_LIMIT} requests per minute"
        );
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        let (profile, secret) = match &self.directory {
            Directory::Local(registry) => {
                registry.register(None, name, &scopes, rate_limit).await?
            }
            Directory::Cognito(cognito) => {
                let (client_id, secret) = cognito.create(name, &scopes).await?;
                let profile = ClientProfile {
                    client_id,
                    name: name.to_string(),
                    allowed_scopes: scopes.clone(),
                    rate_limit,
                    created_at: Timestamp::now(),
                    secret_hash: None,
                };
                self.store.put_profile(&profile).await?;
                (profile, secret)
            }
        };
        for company in companies {
            self.grants
                .put(&profile.client_id, *company, &scopes)
                .await?;
        }
        let credentials = Credentials {
            client_id: profile.client_id.clone(),
            client_secret: secret,
            replaced_client_id: None,
        };
        Ok((self.view(profile, false).await?, credentials))
    }

    pub async fn list(&self) -> anyhow::Result<Vec<ClientView>> {
        let mut views = Vec::new();
        for profile in self.store.all_profiles().await? {
            views.push(self.view(profile, false).await?);
        }
        Ok(views)
    }

    pub async fn show(&self, client_id: &str) -> anyhow::Result<ClientView> {
        let profile = self.profile(client_id).await?;
        self.view(profile, true).await
    }

    /// Brings the token scopes in line with the grants (never to none: a client without grants
    /// keeps its last scopes and is refused by every company).
    async fn sync_scopes(&self, mut profile: ClientProfile) -> anyhow::Result<ClientView> {
        let granted = union(&self.grants.list(&profile.client_id).await?);
        if !granted.is_empty() && granted != profile.allowed_scopes {
            if let Directory::Cognito(cognito) = &self.directory {
                cognito
                    .set_scopes(&profile.client_id, &profile.name, &granted)
                    .await?;
            }
            profile.allowed_scopes = granted;
            self.store.put_profile(&profile).await?;
        }
        self.view(profile, false).await
    }

    /// Grants `company` with `scopes` (default: the scopes the client already has). Answers
    /// with how many of its subscriptions for the company were disabled because the new scopes
    /// no longer read what they tell of.
    pub async fn grant(
        &self,
        client_id: &str,
        company: CompanyId,
        scopes: Option<&[Scope]>,
    ) -> anyhow::Result<(ClientView, usize)> {
        let profile = self.profile(client_id).await?;
        let scopes = scopes.map_or_else(|| profile.allowed_scopes.clone(), <[Scope]>::to_vec);
        anyhow::ensure!(!scopes.is_empty(), "--scopes must name at least one scope");
        self.grants.put(client_id, company, &scopes).await?;
        let disabled = self
            .cut_off_subscriptions(client_id, company, Some(&scopes))
            .await?;
        Ok((self.sync_scopes(profile).await?, disabled))
    }

    /// Takes `company` away; answers with how many of the client's subscriptions for it were
    /// disabled (they are kept, disabled, with the reason: granted again, the client can
    /// enable them).
    pub async fn revoke(
        &self,
        client_id: &str,
        company: CompanyId,
    ) -> anyhow::Result<(ClientView, usize)> {
        let profile = self.profile(client_id).await?;
        anyhow::ensure!(
            self.grants.revoke(client_id, company).await?,
            "client {client_id} holds no grant for company {company}"
        );
        let disabled = self.cut_off_subscriptions(client_id, company, None).await?;
        Ok((self.sync_scopes(profile).await?, disabled))
    }

    /// Disables the client's enabled subscriptions for `company` that `granted` (its grant's
    /// scopes now, `None` for no grant) no longer lets it be told of; how many.
    async fn cut_off_subscriptions(
        &self,
        client_id: &str,
        company: CompanyId,
        granted: Option<&[Scope]>,
    ) -> anyhow::Result<usize> {
        let mut disabled = 0;
        for held in self.webhooks.held_by(company, client_id).await? {
            let subscription = &held.subscription;
            if !subscription.enabled {
                continue;
            }
            if let Some(reason) = subscription.access_lost(granted) {
                let now = Timestamp::now();
                if self
                    .webhooks
                    .disable(subscription, DisableWhen::Enabled, &reason, now)
                    .await?
                {
                    disabled += 1;
                }
            }
        }
        Ok(disabled)
    }

    /// A new secret. In Cognito, in place where the pool allows it; otherwise a replacement
    /// client with the same name, rate limit and grants takes over and the old one is deleted.
    pub async fn rotate_secret(&self, client_id: &str) -> anyhow::Result<Credentials> {
        let profile = self.profile(client_id).await?;
        match &self.directory {
            Directory::Local(registry) => {
                let secret = registry
                    .rotate_secret(client_id)
                    .await?
                    .with_context(|| format!("there is no client {client_id}"))?;
                Ok(Credentials {
                    client_id: client_id.to_string(),
                    client_secret: secret,
                    replaced_client_id: None,
                })
            }
            Directory::Cognito(cognito) => match cognito.rotate_secret(client_id).await? {
                Rotation::InPlace(secret) => Ok(Credentials {
                    client_id: client_id.to_string(),
                    client_secret: secret,
                    replaced_client_id: None,
                }),
                Rotation::NotSupported(why) => {
                    tracing::warn!(%why, "in-place rotation refused; replacing the client");
                    self.replace(cognito, profile).await
                }
            },
        }
    }

    async fn replace(
        &self,
        cognito: &CognitoClients,
        old: ClientProfile,
    ) -> anyhow::Result<Credentials> {
        let (client_id, secret) = cognito.create(&old.name, &old.allowed_scopes).await?;
        let profile = ClientProfile {
            client_id: client_id.clone(),
            created_at: Timestamp::now(),
            ..old.clone()
        };
        self.store.put_profile(&profile).await?;
        for (company, scopes) in self.grants.list(&old.client_id).await? {
            self.grants.put(&client_id, company, &scopes).await?;
        }
        // Its webhook subscriptions go with it: same ids, URLs and signing secrets.
        for company in self.webhooks.companies_of(&old.client_id).await? {
            for held in self.webhooks.held_by(company, &old.client_id).await? {
                anyhow::ensure!(
                    self.webhooks.transfer(&held, &client_id).await?,
                    "webhook subscription {} changed while it was being handed to {client_id}; \
                     run rotate-secret again",
                    held.subscription.id
                );
            }
        }
        self.delete(&old.client_id).await?;
        Ok(Credentials {
            client_id,
            client_secret: secret,
            replaced_client_id: Some(old.client_id),
        })
    }

    /// Deletes the client's webhook subscriptions in every company (enabled or not), then the
    /// app client, its profile and every grant: its tokens stop working too. Answers how many
    /// subscriptions were deleted. Subscriptions go first, so a delete cut short leaves a client
    /// to delete again, never subscriptions nobody can reach.
    pub async fn delete(&self, client_id: &str) -> anyhow::Result<usize> {
        self.profile(client_id).await?;
        let mut deleted = 0;
        for company in self.webhooks.companies_of(client_id).await? {
            for held in self.webhooks.held_by(company, client_id).await? {
                if self
                    .webhooks
                    .delete(company, client_id, held.subscription.id)
                    .await?
                {
                    deleted += 1;
                }
            }
        }
        if let Directory::Cognito(cognito) = &self.directory {
            cognito.delete(client_id).await?;
        }
        self.store.delete(client_id).await?;
        Ok(deleted)
    }
}
