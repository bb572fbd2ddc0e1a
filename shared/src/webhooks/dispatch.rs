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
//! A subscription whose every delivery has failed for [`retry::GIVE_UP_AFTER`] is disabled,
//! with a last entry in its log (`webhook.disabled`) saying why; its pending deliveries are
//! given up on when they next come due.

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt};

use super::delivery::{Attempt, Sender};
use super::events::{event_of, Change};
use super::retry;
use crate::app::AppState;
use crate::domain::webhook::{AttemptRecord, Delivery, DeliveryStatus, Subscription};
use crate::domain::{CompanyId, Timestamp};
use crate::error::ApiError;
use crate::store::webhooks::{SigningSubscription, WebhookStore};

/// How many deliveries are attempted at once (each waits at most 5 s for its receiver).
pub const CONCURRENCY: usize = 16;
/// Most due deliveries one scheduled run takes on: at [`CONCURRENCY`] at a time and 5 s
/// each at worst, under 50 s, so a run ends before the next minute's begins.
pub const DUE_BATCH: i32 = 150;

/// The type of the log entry a disabled subscription ends with.
pub const DISABLED_EVENT: &str = "webhook.disabled";
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
    pub sender: Sender,
}

impl Dispatcher {
    pub fn new(store: WebhookStore, sender: Sender) -> Self {
        Self { store, sender }
    }

    /// The container's dispatcher: its webhook store and the sender its URL policy allows
    /// (built on first use, see [`Sender::shared`]).
    pub fn of(state: &AppState) -> Result<Self, ApiError> {
        let sender = Sender::shared(state.config.webhook_urls)?;
        Ok(Self::new(state.webhooks.clone(), sender.clone()))
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
            for target in subscriptions.of(&self.store, event.company_id).await? {
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
        run.attempted = attempted.0;
        run.delivered = attempted.1;
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
                now.as_datetime().timestamp(),
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
                at: now,
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
        let (attempted, delivered) = self.attempt_all(due, &mut subscriptions, now).await?;
        Ok(Dispatched {
            attempted,
            delivered,
            ..Dispatched::default()
        })
    }

    /// Attempts each of `deliveries`, [`CONCURRENCY`] at a time; (attempted, delivered).
    async fn attempt_all(
        &self,
        deliveries: Vec<Delivery>,
        subscriptions: &mut Subscriptions,
        now: Timestamp,
    ) -> Result<(usize, usize), ApiError> {
        for delivery in &deliveries {
            subscriptions.of(&self.store, delivery.company_id).await?;
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
        let mut attempted = 0;
        let mut delivered = 0;
        for outcome in outcomes {
            if let Some(success) = outcome? {
                attempted += 1;
                delivered += usize::from(success);
            }
        }
        Ok((attempted, delivered))
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
        let timestamp = now.as_datetime().timestamp();
        let attempt: Attempt = self
            .sender
            .send(
                target.subscription.url.as_str(),
                &delivery.event_id,
                timestamp,
                &delivery.body,
                &target.signing_secrets(now),
            )
            .await;
        let success = attempt.succeeded();
        let number = made + 1;
        delivery.attempts.push(AttemptRecord {
            attempt: number,
            at: now,
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
                if self
                    .store
                    .disable_failing(subscription, since, &reason, now)
                    .await?
                {
                    self.log_disabled(subscription, since, &reason, now).await?;
                }
            }
            (false, Some(_)) => {}
        }
        Ok(())
    }

    /// The last entry of a disabled subscription's delivery log: why it was disabled.
    async fn log_disabled(
        &self,
        subscription: &Subscription,
        failing_since: Timestamp,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), ApiError> {
        let notice = Delivery {
            subscription_id: subscription.id,
            company_id: subscription.company_id,
            event_id: format!("disabled_{}", now.as_datetime().timestamp_millis()),
            event_type: DISABLED_EVENT.to_string(),
            event_at: now,
            body: serde_json::json!({
                "reason": reason,
                "failingSince": failing_since,
            })
            .to_string(),
            status: DeliveryStatus::Failed,
            attempts: Vec::new(),
            next_attempt_at: None,
        };
        self.store.add_delivery(&notice).await?;
        Ok(())
    }
}

/// The subscriptions of each company met in one run, read once per company.
#[derive(Default)]
struct Subscriptions(HashMap<CompanyId, Vec<SigningSubscription>>);

impl Subscriptions {
    async fn of(
        &mut self,
        store: &WebhookStore,
        company: CompanyId,
    ) -> Result<&[SigningSubscription], ApiError> {
        if let std::collections::hash_map::Entry::Vacant(place) = self.0.entry(company) {
            place.insert(store.of_company(company).await?);
        }
        Ok(self.0.get(&company).map(Vec::as_slice).unwrap_or_default())
    }

    fn find(&self, delivery: &Delivery) -> Option<&SigningSubscription> {
        self.0
            .get(&delivery.company_id)?
            .iter()
            .find(|s| s.subscription.id == delivery.subscription_id)
    }
}
