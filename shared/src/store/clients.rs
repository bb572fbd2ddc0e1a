//! Machine clients: who they are, how fast they may call, and how much they did.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | profile | `CLIENT#<clientId>` | `PROFILE` (name, allowedScopes, rateLimit, createdAt; the dev stack's registry adds secretHash) |
//! | grant | `CLIENT#<clientId>` | `COMPANY#<companyId>` (see [`super::grants`]) |
//! | usage | `USAGE#<clientId>` | `MINUTE#<YYYY-MM-DDTHH:MM>` (requests, and per route; TTL 35 days) |
//!
//! Usage counters have a partition of their own, apart from the client's profile and grants:
//! every API function writes its caller's counter on each request, and IAM can only tell items
//! apart by partition key (`dynamodb:LeadingKeys`). So an API function may write `USAGE#*`
//! items and nothing under `CLIENT#` (template.yaml; a test checks each function's grants).
//!
//! The rate limit is a fixed one-minute window counted in the usage item of that minute: one
//! atomic UpdateItem per request both counts the request (by route, for `clients show`) and
//! returns the minute's total, so the limit holds across every warm container of every function.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Timelike, Utc};

use super::attributes::{parse_scopes, s, scope_list};
use super::schema::{client_pk, PK, SK, TTL_ATTRIBUTE};
use super::DynamoDbResult;
use crate::domain::Scope;
use crate::domain::Timestamp;
use crate::foundation::error::ApiError;

/// Requests per minute a client may make unless its operator set another limit.
pub const DEFAULT_RATE_LIMIT: u32 = 600;
pub const PROFILE_SK: &str = "PROFILE";
/// The partition prefix of usage counters: the only items an API function that reads may write.
pub const USAGE_PARTITION_PREFIX: &str = "USAGE#";
const MINUTE_PREFIX: &str = "MINUTE#";
const USAGE_RETENTION_DAYS: i64 = 35;
/// Bounds the per-container cache of rate limits.
const MAX_CACHED_LIMITS: usize = 10_000;

fn key(client_id: &str, sk: impl Into<String>) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PK.to_string(), s(client_pk(client_id))),
        (SK.to_string(), s(sk)),
    ])
}

/// The key of a client's usage counter for one minute (`YYYY-MM-DDTHH:MM`).
fn usage_key(client_id: &str, minute: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            PK.to_string(),
            s(format!("{USAGE_PARTITION_PREFIX}{client_id}")),
        ),
        (SK.to_string(), s(format!("{MINUTE_PREFIX}{minute}"))),
    ])
}

/// A client's profile as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientProfile {
    pub client_id: String,
    pub name: String,
    /// The scopes its tokens may carry (the union of its grants).
    pub allowed_scopes: Vec<Scope>,
    /// Requests per minute, across all routes and companies.
    pub rate_limit: u32,
    pub created_at: Timestamp,
    /// Only in the dev stack's registry: a slow hash of the secret. Cognito keeps its own.
    pub secret_hash: Option<String>,
}

impl ClientProfile {
    fn to_item(&self) -> HashMap<String, AttributeValue> {
        let mut item = key(&self.client_id, PROFILE_SK);
        item.insert("entity".into(), s("CLIENT"));
        item.insert("clientId".into(), s(self.client_id.clone()));
        item.insert("name".into(), s(self.name.clone()));
        item.insert("allowedScopes".into(), scope_list(&self.allowed_scopes));
        item.insert(
            "rateLimit".into(),
            AttributeValue::N(self.rate_limit.to_string()),
        );
        item.insert("createdAt".into(), s(self.created_at.to_string()));
        if let Some(hash) = &self.secret_hash {
            item.insert("secretHash".into(), s(hash.clone()));
        }
        item
    }

    fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        Some(Self {
            client_id: text("clientId")?,
            name: text("name").unwrap_or_default(),
            allowed_scopes: parse_scopes(item.get("allowedScopes")),
            rate_limit: item
                .get("rateLimit")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(DEFAULT_RATE_LIMIT),
            created_at: text("createdAt")
                .and_then(|t| Timestamp::parse(&t).ok())
                .unwrap_or_else(Timestamp::now),
            secret_hash: text("secretHash"),
        })
    }
}

/// The usage window `now` falls in, and the seconds left in it.
fn window(now: DateTime<Utc>) -> (String, u64) {
    (
        now.format("%Y-%m-%dT%H:%M").to_string(),
        60 - u64::from(now.second()),
    )
}

pub struct ClientStore {
    client: Client,
    table: String,
    cache_ttl: Duration,
    limits: Mutex<HashMap<String, (Instant, u32)>>,
}

impl ClientStore {
    /// `cache_ttl` is how long a warm container trusts a rate limit it read (zero: never).
    pub fn new(client: Client, table: impl Into<String>, cache_ttl: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            cache_ttl,
            limits: Mutex::new(HashMap::new()),
        }
    }

    pub async fn profile(&self, client_id: &str) -> Result<Option<ClientProfile>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(client_id, PROFILE_SK)))
            .consistent_read(true)
            .send()
            .await
            .in_dynamodb("GetItem")?;
        Ok(out.item.as_ref().and_then(ClientProfile::from_item))
    }

    pub async fn put_profile(&self, profile: &ClientProfile) -> Result<(), ApiError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(profile.to_item()))
            .send()
            .await
            .in_dynamodb("PutItem")?;
        Ok(())
    }

    /// Every profile (an operator's listing, never a request path: it scans).
    pub async fn all_profiles(&self) -> Result<Vec<ClientProfile>, ApiError> {
        let mut profiles: Vec<ClientProfile> = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("SK = :profile AND begins_with(PK, :client)")
            .expression_attribute_values(":profile", s(PROFILE_SK))
            .expression_attribute_values(":client", s("CLIENT#"))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .in_dynamodb("Scan")?
            .iter()
            .filter_map(ClientProfile::from_item)
            .collect();
        profiles.sort_by_key(|p| p.created_at);
        Ok(profiles)
    }

    /// Removes the profile and every grant of the client, so its unexpired tokens stop
    /// working. Its usage records stay until their TTL. The grants are read strongly
    /// consistently: an eventually consistent read could miss a grant made a moment before,
    /// which would then outlive the client.
    pub async fn delete(&self, client_id: &str) -> Result<(), ApiError> {
        let grants = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :company)")
            .expression_attribute_values(":pk", s(client_pk(client_id)))
            .expression_attribute_values(":company", s("COMPANY#"))
            .projection_expression("PK, SK")
            .consistent_read(true);
        let mut keys = vec![key(client_id, PROFILE_SK)];
        keys.extend(super::query_all(grants).await?);
        let requests = super::delete_requests(keys)?;
        super::batch_write(&self.client, &self.table, requests).await
    }

    /// The client's requests-per-minute limit, cached per warm container for the cache TTL.
    pub async fn rate_limit(&self, client_id: &str) -> Result<u32, ApiError> {
        if !self.cache_ttl.is_zero() {
            if let Ok(cache) = self.limits.lock() {
                if let Some((at, limit)) = cache.get(client_id) {
                    if at.elapsed() < self.cache_ttl {
                        return Ok(*limit);
                    }
                }
            }
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(client_id, PROFILE_SK)))
            .projection_expression("rateLimit")
            .send()
            .await
            .in_dynamodb("GetItem")?;
        let limit = out
            .item
            .and_then(|item| item.get("rateLimit")?.as_n().ok()?.parse().ok())
            .unwrap_or(DEFAULT_RATE_LIMIT);
        if !self.cache_ttl.is_zero() {
            if let Ok(mut cache) = self.limits.lock() {
                if cache.len() >= MAX_CACHED_LIMITS {
                    cache.clear();
                }
                cache.insert(client_id.to_string(), (Instant::now(), limit));
            }
        }
        Ok(limit)
    }

    /// Counts one request on `route` and returns how many the client made in this minute.
    pub async fn record_request(
        &self,
        client_id: &str,
        route: &str,
        now: DateTime<Utc>,
    ) -> Result<(u64, u64), ApiError> {
        let (minute, reset_secs) = window(now);
        let expires = now.timestamp() + USAGE_RETENTION_DAYS * 24 * 3600;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(usage_key(client_id, &minute)))
            .update_expression(
                "SET #ttl = if_not_exists(#ttl, :expires), entity = :entity ADD requests :one, #route :one",
            )
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_names("#route", format!("route:{route}"))
            .expression_attribute_values(":expires", AttributeValue::N(expires.to_string()))
            .expression_attribute_values(":entity", s("USAGE"))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .in_dynamodb("UpdateItem")?;
        let used = out
            .attributes
            .and_then(|a| a.get("requests")?.as_n().ok()?.parse().ok())
            .unwrap_or(1);
        Ok((used, reset_secs))
    }

    /// Requests per day and route over the last `days` days (UTC), newest day first.
    pub async fn usage_by_day(
        &self,
        client_id: &str,
        days: i64,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, BTreeMap<String, u64>>, ApiError> {
        let from = (now - chrono::TimeDelta::days(days - 1)).format("%Y-%m-%d");
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(format!("{USAGE_PARTITION_PREFIX}{client_id}")))
            .expression_attribute_values(":from", s(format!("{MINUTE_PREFIX}{from}")))
            .expression_attribute_values(":to", s(format!("{MINUTE_PREFIX}~")));
        let mut usage: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for item in super::query_all(query).await? {
            let Some(day) = item
                .get(SK)
                .and_then(|v| v.as_s().ok())
                .and_then(|sk| sk.strip_prefix(MINUTE_PREFIX))
                .and_then(|minute| minute.get(..10))
            else {
                continue;
            };
            let routes = usage.entry(day.to_string()).or_default();
            for (name, value) in &item {
                if let (Some(route), Ok(n)) = (name.strip_prefix("route:"), value.as_n()) {
                    *routes.entry(route.to_string()).or_default() += n.parse::<u64>().unwrap_or(0);
                }
            }
        }
        Ok(usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_calendar_minutes() {
        let at = DateTime::parse_from_rfc3339("2026-11-21T21:13:45Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(window(at), ("2026-11-21T21:13".to_string(), 15));
    }
}
