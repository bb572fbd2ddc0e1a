//! Webhook subscriptions and their deliveries.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | subscription | `COMPANY#<companyId>#WEBHOOKS` | `WEBHOOK#<clientId>#<subscriptionId>` |
//! | subscription counter | `WEBHOOKS#<clientId>` | `COMPANY#<companyId>` (`subscriptions`) |
//! | create's Idempotency-Key | `COMPANY#<companyId>#WEBHOOKS` | `WEBHOOKKEY#<clientId>#<key>` (TTL `expiresAtEpoch`) |
//! | delivery | `COMPANY#<companyId>#WEBHOOK#<subscriptionId>` | `DELIVERY#<eventAt>#<eventId>` (TTL `expiresAtEpoch`) |
//!
//! A subscription belongs to the client that made it, within one company: its key holds both,
//! so one Query lists a client's subscriptions and another (on `WEBHOOK#`) every subscription
//! an event of the company may go to. Its signing secrets live in its item (`secrets`: the
//! current one first, then any rotated out and still honoured until `retiresAt`); DynamoDB
//! encrypts them at rest, and no read made for the API returns them.
//!
//! Creating and deleting a subscription is one transaction with the client's counter, refused
//! at [`MAX_SUBSCRIPTIONS`], so racing creates cannot pass it; a create with an
//! Idempotency-Key writes the key's record in the same transaction (conditional on no live
//! record), so two creates racing with one key make one subscription. The counters sit in the client's
//! own partition, so one Query finds every company a client has subscriptions in: what
//! `clients delete` needs to delete them all, including those a revoke had disabled.
//!
//! A subscription is disabled in one transaction with the `webhook.disabled` notice that ends
//! its log ([`WebhookStore::disable`]): conditional on it being enabled (and, for a failing
//! one, on the failure streak it was judged on), so a client that re-enabled it meanwhile wins
//! and no notice is written twice. A subscription carries a
//! `version`, raised by every write: a client's change (PATCH, rotation) is read, applied and
//! written back conditional on the version it read ([`WebhookStore::change`] re-reads and
//! re-applies when another write came between), so two changes at once never lose one, and
//! a change racing a delete cannot bring it back. The dispatcher never writes a subscription
//! back whole: its notes on a subscription's health are single-attribute updates, each
//! conditional on the state it is about (see [`WebhookStore::note_failing`]), so a stale copy
//! read at the start of a run cannot undo a rotation or a PATCH made during it.
//!
//! Subscriptions and deliveries have partitions of their own beside the company's
//! (`COMPANY#<id>#WEBHOOKS`, `COMPANY#<id>#WEBHOOK#<subscription>`): every key a request
//! reaches still starts with its company, and the IAM policies grant the webhook functions
//! writes on these partitions alone, never on an invoice or an import job. A delivery's sort
//! key starts with the event's time, so the log reads newest first. While it is PENDING it also carries `DD_PK = DUE`, `DD_SK =
//! <nextAttemptAt>#<PK>#<SK>`, which puts it in the sparse `DueDeliveries` index the dispatcher
//! reads in time order. A delivery is written once per event and subscription (conditional on
//! not existing, so a stream batch read twice writes nothing twice), and each attempt's record
//! is conditional on the attempt count it read, so two dispatchers racing over one delivery
//! cannot both record (or both send it again later). Deliveries expire 30 days after their
//! event.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;

use super::attempt_queue::QueuedAttempt;
use super::attributes::s;
use super::schema::{
    company_pk, due_partition, due_shard, DD_PK, DD_SK, DUE_DELIVERIES_INDEX, DUE_SHARDS, PK, SK,
    TTL_ATTRIBUTE,
};
use super::{
    dynamo_error, is_condition_failure, landed, live_idempotency_record, query_all, query_up_to,
    transact, DynamoDbResult, Item, Transacted,
};
use crate::domain::idempotency::{Fingerprint, Idempotency, IDEMPOTENCY_TTL_SECS};
use crate::domain::webhook::{
    AttemptRecord, Delivery, DeliveryStatus, Subscription, MAX_ATTEMPT_RECORDS, MAX_SUBSCRIPTIONS,
};
use crate::domain::webhook_signing::SigningSecret;
use crate::domain::{CompanyId, SubscriptionId, Timestamp};
use crate::foundation::error::ApiError;

/// How long a delivery and its log are kept.
pub const DELIVERY_LOG_DAYS: i64 = 30;
/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP_SECS: i64 = 24 * 3600;
/// How often [`WebhookStore::change`] reads and applies again when other writes keep coming
/// between its read and its write.
pub const CHANGE_ATTEMPTS: usize = 5;
/// The attribute every write of a subscription raises.
const VERSION: &str = "version";
/// Most rotated-out secrets that still sign: a rotation beyond them is refused until they are
/// retired, so a subscription's item and each delivery's `webhook-signature` header stay small
/// however often a client rotates, and no secret shown to a caller is dropped early.
pub const MAX_RETIRING_SECRETS: usize = 2;

fn subscription_sk(client_id: &str, id: &SubscriptionId) -> String {
    format!("WEBHOOK#{client_id}#{id}")
}

/// Where a client's subscription counters live (one item per company): a partition prefix of
/// their own, so the functions that count subscriptions may write there and not to grants.
pub const OWNER_PARTITION_PREFIX: &str = "WEBHOOKS#";

fn owner_pk(client_id: &str) -> String {
    format!("{OWNER_PARTITION_PREFIX}{client_id}")
}

/// What sets the partition of a company's subscriptions (and create's Idempotency-Key
/// records) apart from the company's own: `COMPANY#<id>#WEBHOOKS`, so the webhook functions
/// may be granted writes there and never on the company's invoices or import jobs.
pub const SUBSCRIPTIONS_PARTITION_SUFFIX: &str = "#WEBHOOKS";

fn subscriptions_pk(company: &CompanyId) -> String {
    format!("{}{SUBSCRIPTIONS_PARTITION_SUFFIX}", company_pk(company))
}

/// What sets a subscription's delivery-log partition apart within its company's:
/// `COMPANY#<id>#WEBHOOK#<subscription>`, so a policy can grant writes to logs alone.
pub const LOG_PARTITION_INFIX: &str = "#WEBHOOK#";

fn delivery_pk(company: &CompanyId, subscription: &SubscriptionId) -> String {
    format!("{}{LOG_PARTITION_INFIX}{subscription}", company_pk(company))
}

fn delivery_sk(event_at: &Timestamp, event_id: &str) -> String {
    format!("DELIVERY#{event_at}#{event_id}")
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

fn number(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// A time as a subscription's item holds it (as serde writes the field).
fn timestamp(at: Timestamp) -> AttributeValue {
    s(at.to_string())
}

/// A secret as stored: the secret, and for one rotated out, until when it still signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub secret: SigningSecret,
    pub retires_at: Option<Timestamp>,
}

/// A subscription with the secrets that sign its deliveries (the dispatcher's view), and the
/// version it was read at.
#[derive(Debug, Clone)]
pub struct SigningSubscription {
    pub subscription: Subscription,
    pub secrets: Vec<StoredSecret>,
    /// Raised by every write; 0 for an item written before versions were kept.
    pub version: u64,
}

impl SigningSubscription {
    /// The secrets that sign a delivery made at `now`: the current one, and any rotated out
    /// less than a day ago.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<&SigningSecret> {
        self.secrets
            .iter()
            .filter(|s| s.retires_at.is_none_or(|until| until > now))
            .map(|s| &s.secret)
            .collect()
    }
}

fn secrets_attribute(secrets: &[StoredSecret]) -> AttributeValue {
    AttributeValue::L(
        secrets
            .iter()
            .map(|stored| {
                let mut m = HashMap::from([("secret".to_string(), s(stored.secret.reveal()))]);
                if let Some(until) = stored.retires_at {
                    m.insert("retiresAt".into(), s(until.to_string()));
                }
                AttributeValue::M(m)
            })
            .collect(),
    )
}

fn parse_secrets(item: &Item) -> Vec<StoredSecret> {
    let Some(Ok(list)) = item.get("secrets").map(|v| v.as_l()) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|v| v.as_m().ok())
        .filter_map(|m| {
            let secret = SigningSecret::parse(m.get("secret")?.as_s().ok()?).ok()?;
            let retires_at = m
                .get("retiresAt")
                .and_then(|v| v.as_s().ok())
                .and_then(|t| Timestamp::parse(t).ok());
            Some(StoredSecret { secret, retires_at })
        })
        .collect()
}

/// The condition that a subscription is still at the version `read` it was read at (`#version`
/// names the attribute), with its value: an item written before versions were kept has none.
fn still_at(read: u64) -> (&'static str, Option<HashMap<String, AttributeValue>>) {
    if read == 0 {
        (
            "attribute_exists(PK) AND attribute_not_exists(#version)",
            None,
        )
    } else {
        (
            "#version = :read",
            Some(HashMap::from([(":read".to_string(), number(read))])),
        )
    }
}

fn deliveries_of(items: Vec<Item>) -> Result<Vec<Delivery>, ApiError> {
    items
        .into_iter()
        .map(|item| serde_dynamo::from_item(item).map_err(ApiError::internal))
        .collect()
}

/// What must still hold for [`WebhookStore::disable`] to disable a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisableWhen {
    /// It is enabled (its client lost access).
    Enabled,
    /// It is enabled and still failing since this time (judged on that streak).
    StillFailingSince(Timestamp),
}

/// The type of the log entry a disabled subscription ends with.
pub const DISABLED_EVENT: &str = "webhook.disabled";

/// Why a subscription could not be made.
#[derive(Debug)]
pub enum CreateRefused {
    /// The client already holds [`MAX_SUBSCRIPTIONS`] for this company.
    TooMany,
    /// The Idempotency-Key already made one: its id, and the fingerprint of that request.
    KeyUsed(SubscriptionId, Fingerprint),
}

fn key_sk(idempotency: &Idempotency) -> String {
    format!(
        "WEBHOOKKEY#{}#{}",
        idempotency.client_id,
        idempotency.key.as_str()
    )
}

/// One page of a subscription's delivery log, newest first.
#[derive(Debug, Clone)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    /// The sort key of the last delivery returned, exactly when more follow.
    pub next_position: Option<String>,
}

#[derive(Clone)]
pub struct WebhookStore {
    client: Client,
    table: String,
}

impl WebhookStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn subscription_item(
        &self,
        subscription: &Subscription,
        secrets: &[StoredSecret],
        version: u64,
    ) -> Result<Item, ApiError> {
        let mut item: Item = serde_dynamo::to_item(subscription).map_err(ApiError::internal)?;
        item.extend(key(
            subscriptions_pk(&subscription.company_id),
            subscription_sk(&subscription.client_id, &subscription.id),
        ));
        item.insert("entity".into(), s("WEBHOOK_SUBSCRIPTION"));
        item.insert("secrets".into(), secrets_attribute(secrets));
        item.insert(VERSION.into(), number(version));
        Ok(item)
    }

    fn counter_update(
        &self,
        company: CompanyId,
        client_id: &str,
        change: i64,
    ) -> Result<TransactWriteItem, ApiError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(owner_pk(client_id), company_pk(&company))))
            .update_expression("ADD subscriptions :change SET entity = :entity")
            .expression_attribute_values(":change", number(change))
            .expression_attribute_values(":entity", s("WEBHOOK_SUBSCRIPTIONS"));
        if change > 0 {
            update = update
                .condition_expression("attribute_not_exists(subscriptions) OR subscriptions < :max")
                .expression_attribute_values(":max", number(MAX_SUBSCRIPTIONS));
        }
        update
            .build()
            .map(|update| TransactWriteItem::builder().update(update).build())
            .map_err(ApiError::internal)
    }

    /// Stores a new subscription with its first secret, counted against the client's limit,
    /// and with an Idempotency-Key, the key's record pointing at it.
    pub async fn create(
        &self,
        subscription: &Subscription,
        secret: &SigningSecret,
        idempotency: Option<&Idempotency>,
    ) -> Result<Result<(), CreateRefused>, ApiError> {
        let stored = [StoredSecret {
            secret: secret.clone(),
            retires_at: None,
        }];
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.subscription_item(subscription, &stored, 1)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map(|put| TransactWriteItem::builder().put(put).build())
            .map_err(ApiError::internal)?;
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(self.counter_update(
                subscription.company_id,
                &subscription.client_id,
                1,
            )?)
            .transact_items(put);
        if let Some(idempotency) = idempotency {
            let now = subscription.created_at.as_datetime().timestamp();
            let mut record = key(
                subscriptions_pk(&subscription.company_id),
                key_sk(idempotency),
            );
            record.insert("entity".into(), s("WEBHOOK_IDEMPOTENCY"));
            record.insert("subscriptionId".into(), s(subscription.id.to_string()));
            record.insert("fingerprint".into(), s(idempotency.fingerprint.as_str()));
            record.insert(TTL_ATTRIBUTE.into(), number(now + IDEMPOTENCY_TTL_SECS));
            // An expired record that TTL has not deleted yet no longer counts.
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(record))
                .condition_expression("attribute_not_exists(PK) OR #expires < :now")
                .expression_attribute_names("#expires", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", number(now))
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(ApiError::internal)?;
            transaction = transaction.transact_items(put);
        }
        if transact(transaction).await? == Transacted::Landed {
            return Ok(Ok(()));
        }
        // The id is new, so the key's condition or the counter's failed: the key's, if it
        // holds a live record now.
        if let Some(idempotency) = idempotency {
            if let Some((id, fingerprint)) =
                self.made_with(subscription.company_id, idempotency).await?
            {
                return Ok(Err(CreateRefused::KeyUsed(id, fingerprint)));
            }
        }
        Ok(Err(CreateRefused::TooMany))
    }

    /// The subscription an unexpired Idempotency-Key of this client made, with the fingerprint
    /// of the request that made it (one GetItem).
    pub async fn made_with(
        &self,
        company: CompanyId,
        idempotency: &Idempotency,
    ) -> Result<Option<(SubscriptionId, Fingerprint)>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(subscriptions_pk(&company), key_sk(idempotency))))
            .consistent_read(true)
            .send()
            .await
            .in_dynamodb("GetItem")?;
        Ok(out
            .item
            .and_then(|item| live_idempotency_record(&item, "subscriptionId")))
    }

    fn decode(item: Item) -> Result<SigningSubscription, ApiError> {
        let secrets = parse_secrets(&item);
        let version = item
            .get(VERSION)
            .and_then(|v| v.as_n().ok()?.parse().ok())
            .unwrap_or(0);
        let subscription: Subscription =
            serde_dynamo::from_item(item).map_err(ApiError::internal)?;
        Ok(SigningSubscription {
            subscription,
            secrets,
            version,
        })
    }

    /// The client's subscriptions for the company, oldest first.
    pub async fn list(
        &self,
        company: CompanyId,
        client_id: &str,
    ) -> Result<Vec<Subscription>, ApiError> {
        Ok(self
            .held_by(company, client_id)
            .await?
            .into_iter()
            .map(|held| held.subscription)
            .collect())
    }

    /// The client's subscriptions for the company with their secrets, oldest first.
    pub async fn held_by(
        &self,
        company: CompanyId,
        client_id: &str,
    ) -> Result<Vec<SigningSubscription>, ApiError> {
        let items = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":pk", s(subscriptions_pk(&company)))
                .expression_attribute_values(":prefix", s(format!("WEBHOOK#{client_id}#"))),
        )
        .await?;
        let mut held = items
            .into_iter()
            .map(Self::decode)
            .collect::<Result<Vec<_>, _>>()?;
        held.sort_by_key(|h| h.subscription.created_at);
        Ok(held)
    }

    /// Every subscription of the company, of any client, with its secrets: where its events go.
    pub async fn of_company(
        &self,
        company: CompanyId,
    ) -> Result<Vec<SigningSubscription>, ApiError> {
        let items = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":pk", s(subscriptions_pk(&company)))
                .expression_attribute_values(":prefix", s("WEBHOOK#")),
        )
        .await?;
        items.into_iter().map(Self::decode).collect()
    }

    /// One of the client's subscriptions, with its secrets.
    pub async fn get(
        &self,
        company: CompanyId,
        client_id: &str,
        id: SubscriptionId,
    ) -> Result<Option<SigningSubscription>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(
                subscriptions_pk(&company),
                subscription_sk(client_id, &id),
            )))
            .consistent_read(true)
            .send()
            .await
            .in_dynamodb("GetItem")?;
        out.item.map(Self::decode).transpose()
    }

    /// Writes a changed subscription (its secrets as given) if it is still at the version it
    /// was read at; `false` if another write came between, or it was deleted meanwhile.
    pub async fn replace(&self, changed: &SigningSubscription) -> Result<bool, ApiError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.subscription_item(
                &changed.subscription,
                &changed.secrets,
                changed.version + 1,
            )?));
        let (condition, read) = still_at(changed.version);
        let sent = put
            .condition_expression(condition)
            .set_expression_attribute_values(read)
            .expression_attribute_names("#version", VERSION)
            .send()
            .await;
        landed("PutItem", sent)
    }

    /// Reads one of the client's subscriptions, applies `apply` (which may refuse the change)
    /// and writes the result back
    /// unless another write came between, in which case it reads and applies again (up to
    /// [`CHANGE_ATTEMPTS`] times). `None` if there is no such subscription (or it was deleted
    /// meanwhile). One GetItem and one PutItem when nothing races it.
    pub async fn change(
        &self,
        company: CompanyId,
        client_id: &str,
        id: SubscriptionId,
        mut apply: impl FnMut(SigningSubscription) -> Result<SigningSubscription, ApiError>,
    ) -> Result<Option<SigningSubscription>, ApiError> {
        for _ in 0..CHANGE_ATTEMPTS {
            let Some(read) = self.get(company, client_id, id).await? else {
                return Ok(None);
            };
            let changed = apply(read)?;
            if self.replace(&changed).await? {
                return Ok(Some(SigningSubscription {
                    version: changed.version + 1,
                    ..changed
                }));
            }
        }
        Err(ApiError::Unavailable {
            retry_after_secs: 1,
            cause: format!(
                "webhook subscription {id} changed under each of {CHANGE_ATTEMPTS} attempts"
            ),
        })
    }

    /// Deletes one of the client's subscriptions, in one transaction with its counter;
    /// `false` if there was none.
    pub async fn delete(
        &self,
        company: CompanyId,
        client_id: &str,
        id: SubscriptionId,
    ) -> Result<bool, ApiError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                subscriptions_pk(&company),
                subscription_sk(client_id, &id),
            )))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map(|delete| TransactWriteItem::builder().delete(delete).build())
            .map_err(ApiError::internal)?;
        let transaction = self
            .client
            .transact_write_items()
            .transact_items(delete)
            .transact_items(self.counter_update(company, client_id, -1)?);
        Ok(transact(transaction).await? == Transacted::Landed)
    }

    /// Hands a subscription to another client (the one that replaced its client when its
    /// secret could not be rotated in place): same id, URL, events and secrets, counted
    /// against the new client's limit. One transaction: the new item, the old one's delete and
    /// both counters. `false` if the subscription changed meanwhile or the new client is full.
    pub async fn transfer(
        &self,
        held: &SigningSubscription,
        to_client: &str,
    ) -> Result<bool, ApiError> {
        let from = &held.subscription;
        let moved = Subscription {
            client_id: to_client.to_string(),
            ..from.clone()
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.subscription_item(
                &moved,
                &held.secrets,
                held.version + 1,
            )?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map(|put| TransactWriteItem::builder().put(put).build())
            .map_err(ApiError::internal)?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                subscriptions_pk(&from.company_id),
                subscription_sk(&from.client_id, &from.id),
            )))
            .expression_attribute_names("#version", VERSION);
        let (condition, read) = still_at(held.version);
        let delete = delete
            .condition_expression(condition)
            .set_expression_attribute_values(read)
            .build()
            .map(|delete| TransactWriteItem::builder().delete(delete).build())
            .map_err(ApiError::internal)?;
        let transaction = self
            .client
            .transact_write_items()
            .transact_items(put)
            .transact_items(delete)
            .transact_items(self.counter_update(from.company_id, &from.client_id, -1)?)
            .transact_items(self.counter_update(from.company_id, to_client, 1)?);
        Ok(transact(transaction).await? == Transacted::Landed)
    }

    /// Notes that deliveries to the subscription began failing at `at`, unless it is already
    /// failing (a streak counts from its first failure). `false` if it was.
    pub async fn note_failing(
        &self,
        subscription: &Subscription,
        at: Timestamp,
    ) -> Result<bool, ApiError> {
        self.note(
            subscription,
            "SET failingSince = :at, updatedAt = :at ADD #version :one",
            "attribute_exists(PK) AND attribute_not_exists(failingSince)",
            [(":at", timestamp(at))],
        )
        .await
    }

    /// Notes that a delivery to the subscription succeeded: it is failing no more. `false` if
    /// it was not failing.
    pub async fn note_recovered(
        &self,
        subscription: &Subscription,
        at: Timestamp,
    ) -> Result<bool, ApiError> {
        self.note(
            subscription,
            "REMOVE failingSince, probeUntil SET updatedAt = :at ADD #version :one",
            "attribute_exists(failingSince)",
            [(":at", timestamp(at))],
        )
        .await
    }

    /// Disables the subscription for `reason`, in one transaction with the `webhook.disabled`
    /// notice that ends its log, if it is still enabled and, `when` it was judged on a failure
    /// streak, still in that streak (a client that re-enabled it, or a success, ended it).
    /// `false` if it was not, and nothing was written.
    pub async fn disable(
        &self,
        subscription: &Subscription,
        when: DisableWhen,
        reason: &str,
        at: Timestamp,
    ) -> Result<bool, ApiError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                subscriptions_pk(&subscription.company_id),
                subscription_sk(&subscription.client_id, &subscription.id),
            )))
            .update_expression(
                "SET enabled = :false, disabledReason = :reason, updatedAt = :at ADD #version :one",
            )
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":at", timestamp(at))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":false", AttributeValue::Bool(false));
        let mut notice = serde_json::json!({ "reason": reason });
        update = match when {
            DisableWhen::Enabled => update.condition_expression("enabled = :true"),
            DisableWhen::StillFailingSince(since) => {
                notice["failingSince"] = serde_json::json!(since);
                update
                    .condition_expression("failingSince = :since AND enabled = :true")
                    .expression_attribute_values(":since", timestamp(since))
            }
        };
        let update = update
            .build()
            .map(|update| TransactWriteItem::builder().update(update).build())
            .map_err(ApiError::internal)?;
        let notice = Delivery {
            subscription_id: subscription.id,
            company_id: subscription.company_id,
            event_id: format!("disabled_{}", at.as_datetime().timestamp_millis()),
            event_type: DISABLED_EVENT.to_string(),
            event_at: at,
            body: notice.to_string(),
            status: DeliveryStatus::Failed,
            attempts: Vec::new(),
            next_attempt_at: None,
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.delivery_item(&notice)?))
            .build()
            .map(|put| TransactWriteItem::builder().put(put).build())
            .map_err(ApiError::internal)?;
        let transaction = self
            .client
            .transact_write_items()
            .transact_items(update)
            .transact_items(put);
        Ok(transact(transaction).await? == Transacted::Landed)
    }

    /// Every company in which `client_id` holds subscriptions (one Query of its counters).
    pub async fn companies_of(&self, client_id: &str) -> Result<Vec<CompanyId>, ApiError> {
        let counters = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(owner_pk(client_id)))
                .consistent_read(true),
        )
        .await?;
        Ok(counters
            .iter()
            .filter(|item| {
                item.get("subscriptions")
                    .and_then(|v| v.as_n().ok()?.parse::<i64>().ok())
                    .is_some_and(|n| n > 0)
            })
            .filter_map(|item| {
                item.get(SK)?
                    .as_s()
                    .ok()?
                    .strip_prefix("COMPANY#")?
                    .parse()
                    .ok()
            })
            .collect())
    }

    /// One conditional UpdateItem on a subscription that raises its version.
    async fn note<const N: usize>(
        &self,
        subscription: &Subscription,
        update: &str,
        condition: &str,
        values: [(&str, AttributeValue); N],
    ) -> Result<bool, ApiError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                subscriptions_pk(&subscription.company_id),
                subscription_sk(&subscription.client_id, &subscription.id),
            )))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":one", number(1));
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        landed("UpdateItem", request.send().await)
    }

    /// Puts a new secret first; the current one keeps signing beside it for
    /// [`ROTATION_OVERLAP_SECS`], and any already retired is dropped. Refused (409) while
    /// [`MAX_RETIRING_SECRETS`] rotated-out secrets still sign: rotating then would drop one of
    /// them, a secret some caller was shown and may still rely on. So however many rotations
    /// race (each applied again on top of the others), every one that answers 200 signs.
    pub fn rotated(
        mut current: SigningSubscription,
        new_secret: SigningSecret,
        now: Timestamp,
    ) -> Result<SigningSubscription, ApiError> {
        let still_signing: Vec<StoredSecret> = current
            .secrets
            .into_iter()
            .filter(|s| s.retires_at.is_none_or(|t| t > now))
            .collect();
        let retiring: Vec<Timestamp> = still_signing.iter().filter_map(|s| s.retires_at).collect();
        if retiring.len() >= MAX_RETIRING_SECRETS {
            let until = retiring.iter().min().copied().unwrap_or(now);
            return Err(ApiError::Conflict(format!(
                "{MAX_RETIRING_SECRETS} previous secrets of this subscription still sign (the \
                 first until {until}); retire them with DELETE \
                 /v1/webhook-subscriptions/{}/secrets/previous, or rotate after then",
                current.subscription.id
            )));
        }
        let until = now.plus(std::time::Duration::from_secs(ROTATION_OVERLAP_SECS as u64));
        let mut secrets = vec![StoredSecret {
            secret: new_secret,
            retires_at: None,
        }];
        secrets.extend(still_signing.into_iter().map(|s| StoredSecret {
            retires_at: Some(s.retires_at.map_or(until, |t| t.min(until))),
            secret: s.secret,
        }));
        current.secrets = secrets;
        current.subscription.updated_at = now;
        Ok(current)
    }

    /// Keeps only the current secret: every rotated-out one stops signing now (a leaked one
    /// need not sign out its day). Answers how many were retired.
    pub fn retired_previous(
        mut current: SigningSubscription,
        now: Timestamp,
    ) -> (SigningSubscription, usize) {
        let retired = current
            .secrets
            .iter()
            .filter(|s| s.retires_at.is_some_and(|until| until > now))
            .count();
        current.secrets.retain(|s| s.retires_at.is_none());
        current.subscription.updated_at = now;
        (current, retired)
    }

    fn delivery_item(&self, delivery: &Delivery) -> Result<Item, ApiError> {
        let mut item: Item = serde_dynamo::to_item(delivery).map_err(ApiError::internal)?;
        let pk = delivery_pk(&delivery.company_id, &delivery.subscription_id);
        let sk = delivery_sk(&delivery.event_at, &delivery.event_id);
        if let (DeliveryStatus::Pending, Some(next)) = (delivery.status, delivery.next_attempt_at) {
            item.insert(DD_PK.into(), s(due_partition(&delivery.subscription_id)));
            item.insert(DD_SK.into(), s(format!("{next}#{pk}#{sk}")));
        }
        item.extend(key(pk, sk));
        item.insert("entity".into(), s("WEBHOOK_DELIVERY"));
        let expires = delivery.event_at.as_datetime().timestamp() + DELIVERY_LOG_DAYS * 86_400;
        item.insert(TTL_ATTRIBUTE.into(), number(expires));
        Ok(item)
    }

    /// Writes a new delivery; `false` if it was already written (the same event read again).
    pub async fn add_delivery(&self, delivery: &Delivery) -> Result<bool, ApiError> {
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.delivery_item(delivery)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        landed("PutItem", sent)
    }

    /// The delivery of `event`'s event to `subscription` as stored now, if any (one GetItem).
    pub async fn delivery(
        &self,
        company: CompanyId,
        subscription: SubscriptionId,
        event: &Delivery,
    ) -> Result<Option<Delivery>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(
                delivery_pk(&company, &subscription),
                delivery_sk(&event.event_at, &event.event_id),
            )))
            .send()
            .await
            .in_dynamodb("GetItem")?;
        out.item
            .map(|item| serde_dynamo::from_item(item).map_err(ApiError::internal))
            .transpose()
    }

    /// Writes `delivery` afresh (as given: PENDING, no attempts) where its event has no
    /// delivery yet, or has one whose status is not among `keep`, which it replaces (a
    /// recovery or resend starts the delivery over): `false` if one in `keep` is there, and
    /// it stays as it is. One conditional PutItem.
    pub async fn deliver_again(
        &self,
        delivery: &Delivery,
        keep: &[DeliveryStatus],
    ) -> Result<bool, ApiError> {
        let names: Vec<String> = (0..keep.len()).map(|i| format!(":keep{i}")).collect();
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.delivery_item(delivery)?));
        put = if keep.is_empty() {
            put
        } else {
            put.condition_expression(format!(
                "attribute_not_exists(PK) OR NOT (#status IN ({}))",
                names.join(", ")
            ))
            .expression_attribute_names("#status", "status")
        };
        for (name, status) in names.iter().zip(keep) {
            let value = serde_dynamo::to_attribute_value(status).map_err(ApiError::internal)?;
            put = put.expression_attribute_values(name, value);
        }
        landed("PutItem", put.send().await)
    }

    /// Records what became of a delivery after `attempted` attempts had been recorded (as it
    /// was read): `false` if another dispatcher recorded one first, and this record is dropped.
    pub async fn record(&self, delivery: &Delivery, attempted: usize) -> Result<bool, ApiError> {
        let mut delivery = delivery.clone();
        if delivery.attempts.len() > MAX_ATTEMPT_RECORDS {
            let excess = delivery.attempts.len() - MAX_ATTEMPT_RECORDS;
            delivery.attempts.drain(..excess);
        }
        let mut item = self.delivery_item(&delivery)?;
        // The count of attempts made, beyond the records kept.
        let made = delivery
            .attempts
            .last()
            .map_or(0, |a: &AttemptRecord| a.attempt);
        item.insert("attemptsMade".into(), number(made));
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(attemptsMade) OR attemptsMade = :seen)",
            )
            .expression_attribute_values(":seen", number(attempted))
            .send()
            .await;
        landed("PutItem", sent)
    }

    /// Up to `per_shard` PENDING deliveries of each due-index partition whose next attempt is
    /// due at `now`, earliest first within each; the partitions are read side by side.
    pub async fn due(&self, now: Timestamp, per_shard: usize) -> Result<Vec<Delivery>, ApiError> {
        let shards = (0..DUE_SHARDS).map(|n| self.due_in(due_shard(n), now, per_shard));
        let mut due = Vec::new();
        for shard in futures_util::future::join_all(shards).await {
            due.extend(shard?);
        }
        Ok(due)
    }

    async fn due_in(
        &self,
        partition: String,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>, ApiError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_DELIVERIES_INDEX)
            .key_condition_expression("#pk = :due AND #sk <= :now")
            .expression_attribute_names("#pk", DD_PK)
            .expression_attribute_names("#sk", DD_SK)
            .expression_attribute_values(":due", s(&partition))
            // Every position of a time sorts before the next millisecond's.
            .expression_attribute_values(":now", s(format!("{now}#~")))
            .limit(i32::try_from(limit.min(1000)).unwrap_or(1000));
        deliveries_of(query_up_to(query, limit).await?)
    }

    /// Moves a due delivery's next attempt to `until`, if it is still where the sweep read it
    /// (`false` if not: another sweep or an attempt moved it first). The sweep does this as it
    /// queues a delivery, so a delivery waiting in the queue is not queued again by the next
    /// sweep, and two sweeps never both queue one.
    pub async fn mark_queued(
        &self,
        delivery: &Delivery,
        until: Timestamp,
    ) -> Result<bool, ApiError> {
        let Some(due_at) = delivery.next_attempt_at else {
            return Ok(false);
        };
        let pk = delivery_pk(&delivery.company_id, &delivery.subscription_id);
        let sk = delivery_sk(&delivery.event_at, &delivery.event_id);
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk.clone(), sk.clone())))
            .update_expression("SET #dd = :queued, nextAttemptAt = :until")
            .condition_expression("#dd = :seen")
            .expression_attribute_names("#dd", DD_SK)
            .expression_attribute_values(":queued", s(format!("{until}#{pk}#{sk}")))
            .expression_attribute_values(":until", timestamp(until))
            .expression_attribute_values(":seen", s(format!("{due_at}#{pk}#{sk}")))
            .send()
            .await;
        landed("UpdateItem", sent)
    }

    /// Claims a queued delivery for one attempt, until `until`: one conditional UpdateItem
    /// that answers with the delivery as it is. `None` if it is no longer PENDING, if an
    /// attempt was recorded since it was queued (the message is stale), or if another
    /// consumer holds an unexpired claim: whoever holds the claim is the only one sending.
    pub async fn claim(
        &self,
        queued: &QueuedAttempt,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<Delivery>, ApiError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                delivery_pk(&queued.company_id, &queued.subscription_id),
                delivery_sk(&queued.event_at, &queued.event_id),
            )))
            .update_expression("SET claimedUntil = :until")
            .condition_expression(
                "#status = :pending \
                 AND (attribute_not_exists(attemptsMade) OR attemptsMade = :made) \
                 AND (attribute_not_exists(claimedUntil) OR claimedUntil < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("PENDING"))
            .expression_attribute_values(":made", number(queued.attempts_made))
            .expression_attribute_values(":until", timestamp(until))
            .expression_attribute_values(":now", timestamp(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match sent {
            Ok(out) => out
                .attributes
                .map(|item| serde_dynamo::from_item(item).map_err(ApiError::internal))
                .transpose(),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(dynamo_error("UpdateItem", e)),
        }
    }

    /// Takes the subscription's probe lease until `until`, unless another probe holds it (a
    /// failing subscription is sent one attempt at a time), or, by the probe that holds it
    /// (`holding`), moves it on to `until`. `false` if another holds it, or the subscription is
    /// gone.
    pub async fn take_probe(
        &self,
        subscription: &Subscription,
        now: Timestamp,
        until: Timestamp,
        holding: bool,
    ) -> Result<bool, ApiError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                subscriptions_pk(&subscription.company_id),
                subscription_sk(&subscription.client_id, &subscription.id),
            )))
            .update_expression("SET probeUntil = :until")
            .expression_attribute_values(":until", timestamp(until));
        let request = if holding {
            request.condition_expression("attribute_exists(PK)")
        } else {
            request
                .condition_expression(
                    "attribute_exists(PK) AND (attribute_not_exists(probeUntil) OR probeUntil <= :now)",
                )
                .expression_attribute_values(":now", timestamp(now))
        };
        landed("UpdateItem", request.send().await)
    }

    /// Up to `limit` of a subscription's deliveries still PENDING, oldest first: what a
    /// subscription that recovered is sent at once, instead of at their next sweep.
    pub async fn pending_of(
        &self,
        company: CompanyId,
        subscription: SubscriptionId,
        limit: usize,
    ) -> Result<Vec<Delivery>, ApiError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .filter_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pk", s(delivery_pk(&company, &subscription)))
            .expression_attribute_values(":prefix", s("DELIVERY#"))
            .expression_attribute_values(":pending", s("PENDING"));
        deliveries_of(query_up_to(query, limit).await?)
    }

    /// One page of a subscription's delivery log, newest first, after `after` (a position
    /// from the previous page). One more is read than asked for, so a page says there is
    /// more exactly when there is.
    pub async fn deliveries(
        &self,
        company: CompanyId,
        subscription: SubscriptionId,
        limit: i32,
        after: Option<&str>,
    ) -> Result<DeliveryPage, ApiError> {
        let pk = delivery_pk(&company, &subscription);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s("DELIVERY#"))
            .scan_index_forward(false)
            .limit(limit.saturating_add(1));
        if let Some(after) = after {
            query = query.set_exclusive_start_key(Some(key(pk.clone(), after.to_string())));
        }
        let out = query.send().await.in_dynamodb("Query")?;
        let mut items = out.items.unwrap_or_default();
        let wanted = usize::try_from(limit).unwrap_or(0);
        let next_position = if items.len() > wanted {
            items.truncate(wanted);
            items
                .last()
                .and_then(|item| item.get(SK)?.as_s().ok().cloned())
        } else {
            None
        };
        Ok(DeliveryPage {
            deliveries: deliveries_of(items)?,
            next_position,
        })
    }
}
