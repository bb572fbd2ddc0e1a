//! Client grants: which companies a machine client may act for, and with which scopes.
//!
//! Item: `PK = CLIENT#<clientId>`, `SK = COMPANY#<companyId>`, `scopes = [..]`. One GetItem per
//! check, cached per warm container for `grant_cache_ttl` (zero in the dev stack, so a revoke
//! applies at once there; in AWS it applies within the TTL).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::attributes::{parse_scopes, scope_list};
use super::schema::{client_pk, company_pk, PK, SK};
use super::DynamoDbResult;
use crate::domain::Scope;
use crate::domain::{CompanyId, Timestamp};
use crate::foundation::error::ApiError;

/// Bounds the cache so a container serving many clients cannot grow without limit.
const MAX_CACHED_GRANTS: usize = 10_000;

type CacheKey = (String, CompanyId);
/// When a grant was read, and what it said (`None`: no grant).
type CachedGrant = (Instant, Option<Vec<Scope>>);

/// Clones share one cache (the webhook dispatcher holds one beside the container's).
#[derive(Clone)]
pub struct GrantStore {
    client: Client,
    table: String,
    ttl: Duration,
    cache: Arc<Mutex<HashMap<CacheKey, CachedGrant>>>,
}

impl GrantStore {
    pub fn new(client: Client, table: impl Into<String>, ttl: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            ttl,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn key(client_id: &str, company: &CompanyId) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_string(), AttributeValue::S(client_pk(client_id))),
            (SK.to_string(), AttributeValue::S(company_pk(company))),
        ])
    }

    /// Opens the client's connection to DynamoDB now, with one GetItem of a grant no client
    /// holds, answered or refused within `within` (either will do). Lambda runs a function's
    /// init on unthrottled CPU but its invocations on the CPU share its memory buys, so the
    /// TLS handshake costs far less here than in the first request, which then finds the
    /// connection open.
    pub async fn open_connection(&self, within: Duration) {
        let nobody = Self::key("-", &CompanyId::from(uuid::Uuid::nil()));
        let lookup = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(nobody))
            .projection_expression("scopes")
            .send();
        let _ = tokio::time::timeout(within, lookup).await;
    }

    /// The scopes `client_id` holds for `company`, or `None` when it holds no grant.
    pub async fn scopes(
        &self,
        client_id: &str,
        company: CompanyId,
    ) -> Result<Option<Vec<Scope>>, ApiError> {
        let cache_key = (client_id.to_string(), company);
        if !self.ttl.is_zero() {
            if let Ok(cache) = self.cache.lock() {
                if let Some((at, scopes)) = cache.get(&cache_key) {
                    if at.elapsed() < self.ttl {
                        return Ok(scopes.clone());
                    }
                }
            }
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(client_id, &company)))
            .projection_expression("scopes")
            .send()
            .await
            .in_dynamodb("GetItem")?;
        let scopes = out.item.map(|item| parse_scopes(item.get("scopes")));
        if !self.ttl.is_zero() {
            if let Ok(mut cache) = self.cache.lock() {
                if cache.len() >= MAX_CACHED_GRANTS {
                    cache.clear();
                }
                cache.insert(cache_key, (Instant::now(), scopes.clone()));
            }
        }
        Ok(scopes)
    }

    /// Grants (or replaces the grant of) `scopes` on `company` to `client_id`.
    pub async fn put(
        &self,
        client_id: &str,
        company: CompanyId,
        scopes: &[Scope],
    ) -> Result<(), ApiError> {
        let mut item = Self::key(client_id, &company);
        item.insert("entity".into(), AttributeValue::S("GRANT".into()));
        item.insert("clientId".into(), AttributeValue::S(client_id.into()));
        item.insert("companyId".into(), AttributeValue::S(company.to_string()));
        item.insert("scopes".into(), scope_list(scopes));
        item.insert(
            "grantedAt".into(),
            AttributeValue::S(Timestamp::now().to_string()),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .in_dynamodb("PutItem")?;
        Ok(())
    }

    /// Every company `client_id` is granted, with the scopes of each (one Query).
    pub async fn list(&self, client_id: &str) -> Result<Vec<(CompanyId, Vec<Scope>)>, ApiError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :company)")
            .expression_attribute_values(":pk", AttributeValue::S(client_pk(client_id)))
            .expression_attribute_values(":company", AttributeValue::S("COMPANY#".into()))
            .consistent_read(true);
        Ok(super::query_all(query)
            .await?
            .iter()
            .filter_map(|item| {
                let company = item
                    .get(SK)?
                    .as_s()
                    .ok()?
                    .strip_prefix("COMPANY#")?
                    .parse()
                    .ok()?;
                Some((company, parse_scopes(item.get("scopes"))))
            })
            .collect())
    }

    /// Takes `company` away from `client_id`; `false` when there was no such grant.
    pub async fn revoke(&self, client_id: &str, company: CompanyId) -> Result<bool, ApiError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(client_id, &company)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .in_dynamodb("DeleteItem")?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&(client_id.to_string(), company));
        }
        Ok(out.attributes.is_some())
    }
}
