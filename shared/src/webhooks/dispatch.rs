//! Turning changes into deliveries, and deliveries into attempts.
//!
//! **Fan-out** ([`Dispatcher::fan_out`]) takes a batch of stream records: each that is news
//! ([`super::events`]) becomes one PENDING delivery per enabled subscription of its company
//! that wants its type, due at once, written before anything is sent. Then each delivery
//! written is attempted straight away, so a receiver hears within a second or so of the write.
//!
//! **Dispatch** ([`Dispatcher::dispatch_due`]) runs on a schedule and attempts every delivery
//! whose time has come, in due order: retries, and first attempts whose fan-out died after
//! writing them. Nothing is lost by a dispatcher killed mid-batch: a delivery leaves the due
//! index only in the write that records its success (or that it was given up on).
//!
//! **At least once, in no promised order.** An attempt whose answer is lost (the dispatcher
//! dies after sending, before recording) is sent again; receivers de-duplicate on
//! `webhook-id`, which is the event's and the same on every attempt. Deliveries run
//! concurrently and retries wait, so a receiver may see `invoice.exported` before the
//! `invoice.ready_for_export` of the same invoice: the `createdAt` of each event orders them.
//!
//! **Access ends when a grant ends.** Each run reads, once per company and client, whether the
//! subscription's client still holds a grant for the company with the read scope of every
//! event type it asks for (`invoice.*`: invoices.read; `import_job.*`: imports.read). One that
//! does not is disabled before anything is written for it or sent to it, its pending
//! deliveries are given up on, and its log ends with a `webhook.disabled` entry saying why.
//!
//! A subscription whose every delivery has failed for [`retry::GIVE_UP_AFTER`] is disabled,
//! with a last entry in its log (`webhook.disabled`) saying why; its pending deliveries are
//! given up on when they next come due.

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt};

use super::delivery::{Attempt, Sender};
use super::events::{event_of, Change};
use super::retry;
use crate::app::AppState;
use crate::domain::webhook::{AttemptRecord, Delivery, DeliveryStatus};
use crate::domain::{CompanyId, Scope, Timestamp};
use crate::error::ApiError;
use crate::store::grants::GrantStore;
use crate::store::webhooks::{DisableWhen, SigningSubscription, WebhookStore};

/// How many deliveries are attempted at once (each waits at most 5 s for its receiver).
pub const CONCURRENCY: usize = 16;
/// Most due deliveries one scheduled run takes on: at [`CONCURRENCY`] at a time and 5 s
/// each at worst, under 50 s, so a run ends before the next minute's begins.
pub const DUE_BATCH: i32 = 150;

pub use crate::store::webhooks::DISABLED_EVENT;
/// The type of the event `POST …/{id}/test` sends.
pub const PING_EVENT: &str = "ping";

/// What one fan-out or dispatch run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dispatched {
    /// Events found in the batch.
    pub events: usize,
    /// Deliveries written (an event read again writes none).
    pub written: usize,
    /// Attempts made, and how many of them a receiver acknowledged.
    pub attempted: usize,
    pub delivered: usize,
    /// Subscriptions disabled because their client lost the grant or scope their events need.
    pub cut_off: usize,
}

impl Dispatched {
    /// One log line for the run `what` (`fan-out`, `dispatch`): at info when it did anything.
    pub fn log(&self, what: &str) {
        if *self == Self::default() {
            tracing::debug!(what, "webhook run: nothing to do");
        } else {
            tracing::info!(what, run = ?self, "webhook run done");
        }
    }
}

#[derive(Clone)]
pub struct Dispatcher {
    pub store: WebhookStore,
    /// Whether a subscription's client may still be told of its events.
    pub grants: GrantStore,
    pub sender: Sender,
}

impl Dispatcher {
    pub fn new(store: WebhookStore, grants: GrantStore, sender: Sender) -> Self {
        Self {
            store,
            grants,
            sender,
        }
    }

    /// The container's dispatcher: its webhook and grant stores (sharing the container's grant
    /// cache) and the sender its URL policy allows (built on first use, see [`Sender::shared`]).
    pub fn of(state: &AppState) -> Result<Self, ApiError> {
        let sender = Sender::shared(state.config.webhook_urls)?;
        Ok(Self::new(
            state.webhooks.clone(),
            state.grants.clone(),
            sender.clone(),
        ))
    }

    /// Writes a delivery for every subscription each change's event goes to, then attempts them.
    pub async fn fan_out(
        &self,
        changes: &[Change],
        now: Timestamp,
    ) -> Result<Dispatched, ApiError> {
        let events: Vec<_> = changes.iter().filter_map(event_of).collect();
        let mut run = Dispatched {
            events: events.len(),
            ..Dispatched::default()
        };
        let mut subscriptions = Subscriptions::default();
        let mut written = Vec::new();
        for event in &events {
            let body = event.body();
            run.cut_off += self.load(&mut subscriptions, event.company_id, now).await?;
            for target in subscriptions.of(event.company_id) {
                if !target.subscription.wants(event.event_type) {
                    continue;
                }
                let delivery = Delivery {
                    subscription_id: target.subscription.id,
                    company_id: event.company_id,
                    event_id: event.id.clone(),
                    event_type: event.event_type.as_str().to_string(),
                    event_at: event.created_at,
                    body: body.clone(),
                    status: DeliveryStatus::Pending,
                    attempts: Vec::new(),
                    next_attempt_at: Some(now),
                };
                if self.store.add_delivery(&delivery).await? {
                    written.push(delivery);
                }
            }
        }
        run.written = written.len();
        let attempted = self.attempt_all(written, &mut subscriptions, now).await?;
        run.attempted = attempted.attempted;
        run.delivered = attempted.delivered;
        run.cut_off += attempted.cut_off;
        Ok(run)
    }

    /// Sends `target` a signed `ping` now, once (a test is not retried: its caller is waiting
    /// for the answer), and keeps it in the subscription's delivery log. A disabled
    /// subscription can be tested too, to check a fix before enabling it again.
    pub async fn ping(
        &self,
        target: &SigningSubscription,
        now: Timestamp,
    ) -> Result<Delivery, ApiError> {
        let subscription = &target.subscription;
        let event_id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        let body = serde_json::json!({
            "id": event_id,
            "type": PING_EVENT,
            "createdAt": now,
            "companyId": subscription.company_id,
            "data": {"subscriptionId": subscription.id},
        })
        .to_string();
        let attempt = self
            .sender
            .send(
                subscription.url.as_str(),
                &event_id,
                &body,
                &target.signing_secrets(now),
            )
            .await;
        let delivered = attempt.succeeded();
        let delivery = Delivery {
            subscription_id: subscription.id,
            company_id: subscription.company_id,
            event_id,
            event_type: PING_EVENT.to_string(),
            event_at: now,
            body,
            status: if delivered {
                DeliveryStatus::Delivered
            } else {
                DeliveryStatus::Failed
            },
            attempts: vec![AttemptRecord {
                attempt: 1,
                at: attempt.at,
                status_code: attempt.status_code,
                error: attempt.error,
                latency_ms: attempt.latency_ms,
            }],
            next_attempt_at: None,
        };
        self.store.add_delivery(&delivery).await?;
        Ok(delivery)
    }

    /// Attempts the deliveries due at `now`.
    pub async fn dispatch_due(&self, now: Timestamp) -> Result<Dispatched, ApiError> {
        let due = self.store.due(now, DUE_BATCH).await?;
        let mut subscriptions = Subscriptions::default();
        self.attempt_all(due, &mut subscriptions, now).await
    }

    /// Reads the subscriptions of `company` into the run's `subscriptions`, once a run, and
    /// with them whether each one's client still holds the grant and scopes its events need:
    /// one that lost them is disabled, with the notice that ends its log, and from then on is
    /// sent nothing. Grants are read through the container's grant cache, so a revoked grant
    /// stops deliveries within the cache's time (at once in the dev stack). Answers how many it
    /// disabled.
    async fn load(
        &self,
        subscriptions: &mut Subscriptions,
        company: CompanyId,
        now: Timestamp,
    ) -> Result<usize, ApiError> {
        let std::collections::hash_map::Entry::Vacant(place) = subscriptions.0.entry(company)
        else {
            return Ok(0);
        };
        let mut of_company = self.store.of_company(company).await?;
        let mut granted: HashMap<&str, Option<Vec<Scope>>> = HashMap::new();
        for target in &of_company {
            let client = target.subscription.client_id.as_str();
            if target.subscription.enabled && !granted.contains_key(client) {
                granted.insert(client, self.grants.scopes(client, company).await?);
            }
        }
        let lost: Vec<(usize, String)> = of_company
            .iter()
            .enumerate()
            .filter(|(_, t)| t.subscription.enabled)
            .filter_map(|(n, t)| {
                let scopes = granted.get(t.subscription.client_id.as_str())?.as_deref();
                Some((n, t.subscription.access_lost(scopes)?))
            })
            .collect();
        for (n, reason) in &lost {
            let subscription = &mut of_company[*n].subscription;
            tracing::warn!(subscription = %subscription.id, %reason, "webhook subscription cut off");
            self.store
                .disable(subscription, DisableWhen::Enabled, reason, now)
                .await?;
            subscription.enabled = false;
        }
        place.insert(of_company);
        Ok(lost.len())
    }

    /// Attempts each of `deliveries`, [`CONCURRENCY`] at a time.
    async fn attempt_all(
        &self,
        deliveries: Vec<Delivery>,
        subscriptions: &mut Subscriptions,
        now: Timestamp,
    ) -> Result<Dispatched, ApiError> {
        let mut run = Dispatched::default();
        for delivery in &deliveries {
            run.cut_off += self.load(subscriptions, delivery.company_id, now).await?;
        }
        let subscriptions = &*subscriptions;
        let outcomes: Vec<Result<Option<bool>, ApiError>> = stream::iter(deliveries)
            .map(|delivery| async move {
                let target = subscriptions.find(&delivery);
                self.attempt(delivery, target, now).await
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for outcome in outcomes {
            if let Some(success) = outcome? {
                run.attempted += 1;
                run.delivered += usize::from(success);
            }
        }
        Ok(run)
    }

    /// One attempt of `delivery` to `target` (its subscription, if it still exists), recorded.
    /// `Some(acknowledged)` if an attempt was made, `None` if the delivery was given up on
    /// without one (its subscription gone or disabled) or was already settled.
    async fn attempt(
        &self,
        mut delivery: Delivery,
        target: Option<&SigningSubscription>,
        now: Timestamp,
    ) -> Result<Option<bool>, ApiError> {
        if delivery.status != DeliveryStatus::Pending {
            return Ok(None);
        }
        let made = delivery.attempts.last().map_or(0, |a| a.attempt);
        let Some(target) = target.filter(|t| t.subscription.enabled) else {
            delivery.status = DeliveryStatus::Failed;
            delivery.next_attempt_at = None;
            self.store.record(&delivery, made as usize).await?;
            return Ok(None);
        };
        let attempt: Attempt = self
            .sender
            .send(
                target.subscription.url.as_str(),
                &delivery.event_id,
                &delivery.body,
                &target.signing_secrets(now),
            )
            .await;
        let success = attempt.succeeded();
        let number = made + 1;
        delivery.attempts.push(AttemptRecord {
            attempt: number,
            at: attempt.at,
            status_code: attempt.status_code,
            error: attempt.error,
            latency_ms: attempt.latency_ms,
        });
        if success {
            delivery.status = DeliveryStatus::Delivered;
            delivery.next_attempt_at = None;
        } else {
            delivery.next_attempt_at =
                retry::next_attempt(&delivery.event_id, number, delivery.event_at, now);
            if delivery.next_attempt_at.is_none() {
                delivery.status = DeliveryStatus::Failed;
            }
        }
        if self.store.record(&delivery, made as usize).await? {
            self.note_health(target, success, now).await?;
        }
        Ok(Some(success))
    }

    /// Keeps the subscription's `failingSince` (set by the first failure of a streak, cleared
    /// by a success), and disables it once it has failed for [`retry::GIVE_UP_AFTER`]. `target`
    /// may be as old as this run: each note is a conditional update of the one attribute it is
    /// about, so it never undoes what the client changed since (a rotation, a new URL).
    async fn note_health(
        &self,
        target: &SigningSubscription,
        success: bool,
        now: Timestamp,
    ) -> Result<(), ApiError> {
        let subscription = &target.subscription;
        match (success, subscription.failing_since) {
            (true, None) => {}
            (true, Some(_)) => {
                self.store.note_recovered(subscription, now).await?;
            }
            (false, None) => {
                self.store.note_failing(subscription, now).await?;
            }
            (false, Some(since)) if retry::should_disable(since, now) => {
                let reason = format!(
                    "every delivery failed for {} days",
                    retry::GIVE_UP_AFTER.as_secs() / 86_400
                );
                self.store
                    .disable(
                        subscription,
                        DisableWhen::StillFailingSince(since),
                        &reason,
                        now,
                    )
                    .await?;
            }
            (false, Some(_)) => {}
        }
        Ok(())
    }
}

/// The subscriptions of each company met in one run, read once per company (by
/// [`Dispatcher::load`], which also disables those whose client lost access).
#[derive(Default)]
struct Subscriptions(HashMap<CompanyId, Vec<SigningSubscription>>);

impl Subscriptions {
    fn of(&self, company: CompanyId) -> &[SigningSubscription] {
        self.0.get(&company).map(Vec::as_slice).unwrap_or_default()
    }

    fn find(&self, delivery: &Delivery) -> Option<&SigningSubscription> {
        self.0
            .get(&delivery.company_id)?
            .iter()
            .find(|s| s.subscription.id == delivery.subscription_id)
    }
}
