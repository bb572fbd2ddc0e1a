//! Turning changes into deliveries, and deliveries into attempts, so that no tenant's
//! receiver slows another's.
//!
//! **Fan-out** ([`Dispatcher::fan_out`], the table's stream) takes a batch of changes: each
//! that is news ([`super::events`]) becomes one PENDING delivery per enabled subscription of
//! its company that wants its type, written before anything else, and each is handed to the
//! attempt queue ([`crate::store::attempt_queue`]). The fan-out sends nothing itself, so a
//! receiver that hangs never holds up a stream shard, which carries every tenant's changes.
//!
//! **Deliver** ([`Dispatcher::deliver`], the queue's consumer) attempts what it is handed.
//! The queue is an SQS fair queue grouped by subscription: a subscription with a backlog
//! waits behind the quiet ones, never the other way round. Before it sends, the consumer
//! claims the delivery in the table (one conditional write, answering with the delivery), so a
//! message handed over twice, or left over from an earlier attempt, sends nothing twice.
//!
//! **A failing receiver gets one attempt at a time.** A subscription whose last attempt
//! failed (`failingSince` is set) is *held*: its queued deliveries are not attempted, except
//! one *probe* at a time, which holds the subscription's probe lease (`probeUntil`) and is
//! retried on the failed delivery's own backoff (10 s, doubling to 4 h). When a probe gets a
//! 2xx, the subscription has recovered, and everything it holds is queued at once. So a dead
//! receiver costs the consumers one attempt per backoff step, however many events wait for it.
//!
//! **Sweep** ([`Dispatcher::sweep`], every minute) queues what came due and is not queued:
//! retries whose wait was longer than a queue delay can hold (15 minutes), the probe of a held
//! subscription whose lease ended, and anything whose message was lost. It reads the due index
//! partition by partition, side by side, and moves each delivery it queues on by
//! [`QUEUED_FOR`] in the same conditional write, so overlapping sweeps never queue one twice.
//! It sends nothing itself.
//!
//! **At least once, in no promised order.** An attempt whose answer is lost (the consumer dies
//! after sending, before recording) is sent again once its claim expires; receivers
//! de-duplicate on `webhook-id`, which is the event's and the same on every attempt. A
//! receiver may see `invoice.exported` before the `invoice.ready_for_export` of the same
//! invoice: the `createdAt` of each event orders them.
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

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use super::delivery::Sender;
use super::events::{event_of, Change};
use super::retry;
use crate::app::AppState;
use crate::domain::webhook::{AttemptRecord, Delivery, DeliveryStatus};
use crate::domain::{CompanyId, Scope, SubscriptionId, Timestamp};
use crate::foundation::error::ApiError;
use crate::store::attempt_queue::{AttemptQueue, QueuedAttempt, MAX_DELAY_SECS};
use crate::store::events::{EventFeed, FeedEntry};
use crate::store::grants::GrantStore;
use crate::store::webhooks::{DisableWhen, SigningSubscription, WebhookStore};

pub use crate::store::webhooks::DISABLED_EVENT;

/// Attempts one consumer makes at once (a batch holds at most 10 messages; each attempt
/// waits at most 5 s for its receiver).
pub const CONCURRENCY: usize = 10;
/// How long a queued delivery may wait in the queue before the sweep queues it again (its
/// message lost): well over a queue's normal wait, under the sweep's own period twice.
pub const QUEUED_FOR: Duration = Duration::from_secs(120);
/// How long a consumer's claim on a delivery lasts: one attempt (5 s) and its record, with
/// room to spare. A consumer that died frees the delivery after it.
pub const CLAIM_FOR: Duration = Duration::from_secs(30);
/// Most due deliveries one sweep takes from each partition of the due index
/// (16 × 2,000 = 32,000 a minute); it sends nothing, so that is a few seconds of writes.
pub const SWEEP_PER_SHARD: usize = 2_000;
/// Held deliveries the sweep moves on at once (see [`Dispatcher::sweep`]).
const HOLD_MARKS_IN_FLIGHT: usize = 2;
/// Most held deliveries a recovered subscription is sent at once (the sweep sends the rest).
pub const FLUSH_LIMIT: usize = 1_000;

/// The type of the event `POST …/{id}/test` sends.
pub const PING_EVENT: &str = "ping";

/// What one fan-out, sweep or deliver run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dispatched {
    /// Events found in the batch.
    pub events: usize,
    /// Deliveries written (an event read again writes none).
    pub written: usize,
    /// Deliveries handed to the attempt queue.
    pub queued: usize,
    /// Attempts made, and how many of them a receiver acknowledged.
    pub attempted: usize,
    pub delivered: usize,
    /// Deliveries left waiting because their subscription's receiver is failing (another
    /// attempt, its probe, finds out when it is back).
    pub held: usize,
    /// Subscriptions disabled because their client lost the grant or scope their events need.
    pub cut_off: usize,
}

impl Dispatched {
    /// One log line for the run `what` (`fan-out`, `sweep`, `deliver`): at info when it did
    /// anything.
    pub fn log(&self, what: &str) {
        if *self == Self::default() {
            tracing::debug!(what, "webhook run: nothing to do");
        } else {
            tracing::info!(what, run = ?self, "webhook run done");
        }
    }

    fn add(&mut self, other: Dispatched) {
        self.events += other.events;
        self.written += other.written;
        self.queued += other.queued;
        self.attempted += other.attempted;
        self.delivered += other.delivered;
        self.held += other.held;
        self.cut_off += other.cut_off;
    }
}

/// A delivery as a message names it.
pub(super) fn queued(delivery: &Delivery, probe: bool, delay: Duration) -> QueuedAttempt {
    QueuedAttempt {
        company_id: delivery.company_id,
        subscription_id: delivery.subscription_id,
        event_at: delivery.event_at,
        event_id: delivery.event_id.clone(),
        attempts_made: delivery.attempts.last().map_or(0, |a| a.attempt),
        probe,
        // Rounded up: a probe must not arrive before its lease has ended.
        delay_secs: (delay.as_secs() + u64::from(delay.subsec_nanos() > 0)).min(MAX_DELAY_SECS),
    }
}

#[derive(Clone)]
pub struct Dispatcher {
    pub store: WebhookStore,
    /// Each company's event feed, which every event joins whoever is subscribed.
    pub feed: EventFeed,
    /// Whether a subscription's client may still be told of its events.
    pub grants: GrantStore,
    pub queue: AttemptQueue,
    pub sender: Sender,
}

impl Dispatcher {
    pub fn new(
        store: WebhookStore,
        feed: EventFeed,
        grants: GrantStore,
        queue: AttemptQueue,
        sender: Sender,
    ) -> Self {
        Self {
            store,
            feed,
            grants,
            queue,
            sender,
        }
    }

    /// The container's dispatcher: its webhook and grant stores (sharing the container's grant
    /// cache), its attempt queue and the sender its URL policy allows (built on first use, see
    /// [`Sender::shared`]).
    pub fn of(state: &AppState) -> Result<Self, ApiError> {
        let sender = Sender::shared(state.config.webhook_urls)?;
        Ok(Self::new(
            state.webhooks.clone(),
            state.events.clone(),
            state.grants.clone(),
            state.attempts.clone(),
            sender.clone(),
        ))
    }

    /// Queues `attempts`; a failure to queue loses nothing (the sweep queues each when it
    /// comes due), so it is logged, not raised: how many were queued.
    async fn enqueue(&self, attempts: &[QueuedAttempt]) -> usize {
        match self.queue.enqueue(attempts).await {
            Ok(queued) => queued,
            Err(e) => {
                tracing::warn!(error = ?e, count = attempts.len(), "webhook attempts not queued; the sweep queues them when due");
                0
            }
        }
    }

    /// Appends each change's event to its company's feed, writes a delivery for every
    /// subscription the event goes to, then queues an attempt of each whose subscription is
    /// not held. A batch read again (a retry) appends and writes nothing twice.
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
        let mut to_queue = Vec::new();
        for event in &events {
            let body = event.body();
            let entry = FeedEntry {
                cursor: None,
                event_id: event.id.clone(),
                event_type: event.event_type.as_str().to_string(),
                at: event.created_at,
                body: body.clone(),
            };
            self.feed
                .append(event.company_id, &entry, Timestamp::now())
                .await?;
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
                    // Due for the sweep only if its message is lost.
                    next_attempt_at: Some(now.plus(QUEUED_FOR)),
                };
                if !self.store.add_delivery(&delivery).await? {
                    continue;
                }
                run.written += 1;
                if target.subscription.failing_since.is_some() {
                    run.held += 1;
                } else {
                    to_queue.push(queued(&delivery, false, Duration::ZERO));
                }
            }
        }
        run.queued = self.enqueue(&to_queue).await;
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

    /// Queues the deliveries due at `now` that are not queued: each of a subscription that is
    /// not held, and of a held one its probe (when no probe holds its lease). Deliveries of a
    /// subscription deleted, disabled or cut off are given up on.
    pub async fn sweep(&self, now: Timestamp) -> Result<Dispatched, ApiError> {
        let due = self.store.due(now, SWEEP_PER_SHARD).await?;
        let mut run = Dispatched::default();
        let mut subscriptions = Subscriptions::default();
        let mut by_subscription: BTreeMap<(CompanyId, SubscriptionId), Vec<Delivery>> =
            BTreeMap::new();
        for delivery in due {
            run.cut_off += self
                .load(&mut subscriptions, delivery.company_id, now)
                .await?;
            by_subscription
                .entry((delivery.company_id, delivery.subscription_id))
                .or_default()
                .push(delivery);
        }
        let until = now.plus(QUEUED_FOR);
        let mut to_mark = Vec::new();
        // Deliveries of subscriptions deleted, disabled or cut off.
        let mut given_up = Vec::new();
        for ((company, id), mut deliveries) in by_subscription {
            deliveries.sort_by_key(|d| d.next_attempt_at);
            let Some(target) = subscriptions.enabled(company, id) else {
                given_up.extend(deliveries);
                continue;
            };
            let Some(since) = target.subscription.failing_since else {
                to_mark.extend(deliveries.into_iter().map(|d| (d, Mark::Queue, until)));
                continue;
            };
            // Held: one probe at most; the rest wait out of the sweep's sight, longer the
            // longer the receiver has been failing, so a dead receiver's backlog is not read
            // again every minute (a probe that lands queues it all at once).
            let held_until = now.plus(held_for(since, now));
            let mut deliveries = deliveries.into_iter();
            if self
                .store
                .take_probe(&target.subscription, now, until, false)
                .await?
            {
                to_mark.extend(deliveries.next().map(|d| (d, Mark::Probe, until)));
            }
            for delivery in deliveries {
                run.held += 1;
                to_mark.push((delivery, Mark::Hold, held_until));
            }
        }
        // Held ones are marked a few at a time, after the rest: a dead receiver's backlog is
        // the sweep's largest batch of writes, and the least urgent.
        let (held, to_mark): (Vec<_>, Vec<_>) = to_mark
            .into_iter()
            .partition(|(_, mark, _)| *mark == Mark::Hold);
        // Marked first (its due time moved on), so two sweeps never both queue one.
        let marked: Vec<Result<Option<QueuedAttempt>, ApiError>> = stream::iter(to_mark)
            .map(|(delivery, mark, until)| async move {
                let won = self.store.mark_queued(&delivery, until).await?;
                Ok(match mark {
                    Mark::Hold => None,
                    Mark::Queue | Mark::Probe => {
                        won.then(|| queued(&delivery, mark == Mark::Probe, Duration::ZERO))
                    }
                })
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let mut to_queue = Vec::new();
        for one in marked {
            to_queue.extend(one?);
        }
        run.queued = self.enqueue(&to_queue).await;
        let given_up: Vec<Result<(), ApiError>> = stream::iter(given_up)
            .map(|delivery| self.give_up(delivery))
            .buffer_unordered(16)
            .collect()
            .await;
        for one in given_up {
            one?;
        }
        let held: Vec<Result<bool, ApiError>> =
            stream::iter(held)
                .map(|(delivery, _, until)| async move {
                    self.store.mark_queued(&delivery, until).await
                })
                .buffer_unordered(HOLD_MARKS_IN_FLIGHT)
                .collect()
                .await;
        for one in held {
            one?;
        }
        Ok(run)
    }

    /// Attempts the queued deliveries of one batch of messages, [`CONCURRENCY`] at a time;
    /// what it did, and the messages to hand over again (those whose work failed on the
    /// table: they are tried again after the queue's visibility timeout).
    pub async fn deliver(
        &self,
        attempts: Vec<(String, QueuedAttempt)>,
        now: Timestamp,
    ) -> Result<(Dispatched, Vec<String>), ApiError> {
        let mut run = Dispatched::default();
        let mut subscriptions = Subscriptions::default();
        for (_, attempt) in &attempts {
            run.cut_off += self
                .load(&mut subscriptions, attempt.company_id, now)
                .await?;
        }
        // One subscription's messages one after another, different subscriptions' side by
        // side: once one of a subscription's attempts fails, the rest of its messages in the
        // batch are held rather than each waiting out the same dead receiver.
        let mut by_subscription: BTreeMap<SubscriptionId, Vec<(String, QueuedAttempt)>> =
            BTreeMap::new();
        for (message, attempt) in attempts {
            by_subscription
                .entry(attempt.subscription_id)
                .or_default()
                .push((message, attempt));
        }
        let subscriptions = &subscriptions;
        let outcomes: Vec<Vec<(String, Result<Dispatched, ApiError>)>> =
            stream::iter(by_subscription.into_values())
                .map(|group| async move {
                    let mut outcomes = Vec::new();
                    let mut failed = false;
                    for (message, attempt) in group {
                        if failed && !attempt.probe {
                            let held = Dispatched {
                                held: 1,
                                ..Dispatched::default()
                            };
                            outcomes.push((message, Ok(held)));
                            continue;
                        }
                        let one = self.deliver_one(attempt, subscriptions, now).await;
                        failed |= one.as_ref().is_ok_and(|run| run.attempted > run.delivered);
                        outcomes.push((message, one));
                    }
                    outcomes
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
        let mut again = Vec::new();
        for (message, outcome) in outcomes.into_iter().flatten() {
            match outcome {
                Ok(one) => run.add(one),
                Err(e) => {
                    tracing::warn!(error = ?e, %message, "a webhook attempt failed on the table; handed over again");
                    again.push(message);
                }
            }
        }
        Ok((run, again))
    }

    async fn deliver_one(
        &self,
        attempt: QueuedAttempt,
        subscriptions: &Subscriptions,
        now: Timestamp,
    ) -> Result<Dispatched, ApiError> {
        let mut run = Dispatched::default();
        let target = subscriptions.enabled(attempt.company_id, attempt.subscription_id);
        if let Some(target) = target {
            if target.subscription.failing_since.is_some() && !attempt.probe {
                run.held += 1;
                return Ok(run);
            }
        }
        let Some(delivery) = self.store.claim(&attempt, now, now.plus(CLAIM_FOR)).await? else {
            // Settled, attempted since it was queued, or being attempted by another consumer.
            return Ok(run);
        };
        let Some(target) = target else {
            self.give_up(delivery).await?;
            return Ok(run);
        };
        let was_failing = target.subscription.failing_since.is_some();
        let Some(outcome) = self.attempt(delivery, target, now).await? else {
            return Ok(run);
        };
        run.attempted = 1;
        if outcome.success {
            run.delivered = 1;
            if was_failing && outcome.recorded {
                run.queued += self.flush(target).await?;
            }
        } else if let (true, Some(next)) = (outcome.recorded, outcome.next) {
            // Tried again at its own backoff, as the subscription's probe: a probe keeps the
            // lease; another attempt takes it unless a probe holds it (then the sweep queues
            // this one when it is due, if the subscription is still failing).
            if self
                .store
                .take_probe(&target.subscription, now, next, attempt.probe)
                .await?
            {
                let wait = next.since(now);
                if wait.as_secs() < MAX_DELAY_SECS {
                    run.queued += self.enqueue(&[queued(&outcome.delivery, true, wait)]).await;
                }
            }
        }
        Ok(run)
    }

    /// Queues every delivery a subscription that recovered is holding.
    async fn flush(&self, target: &SigningSubscription) -> Result<usize, ApiError> {
        let subscription = &target.subscription;
        let held = self
            .store
            .pending_of(subscription.company_id, subscription.id, FLUSH_LIMIT)
            .await?;
        let to_queue: Vec<QueuedAttempt> = held
            .iter()
            .map(|d| queued(d, false, Duration::ZERO))
            .collect();
        Ok(self.enqueue(&to_queue).await)
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

    /// Gives a delivery up without an attempt: its subscription is gone or disabled.
    async fn give_up(&self, mut delivery: Delivery) -> Result<(), ApiError> {
        let made = delivery.attempts.last().map_or(0, |a| a.attempt);
        delivery.status = DeliveryStatus::Failed;
        delivery.next_attempt_at = None;
        self.store.record(&delivery, made as usize).await?;
        Ok(())
    }

    /// One attempt of a claimed `delivery` to `target`, recorded; `None` if it was already
    /// settled.
    async fn attempt(
        &self,
        mut delivery: Delivery,
        target: &SigningSubscription,
        now: Timestamp,
    ) -> Result<Option<Outcome>, ApiError> {
        if delivery.status != DeliveryStatus::Pending {
            return Ok(None);
        }
        let made = delivery.attempts.last().map_or(0, |a| a.attempt);
        let attempt = self
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
        let recorded = self.store.record(&delivery, made as usize).await?;
        if recorded {
            self.note_health(target, success, now).await?;
        }
        Ok(Some(Outcome {
            success,
            recorded,
            next: delivery.next_attempt_at,
            delivery,
        }))
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

/// What the sweep does with a due delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Queue,
    /// Queued as its held subscription's probe.
    Probe,
    /// Left waiting for its held subscription's probe.
    Hold,
}

/// How long a held subscription's deliveries wait out of the sweep's sight: as long as its
/// receiver has been failing, from [`QUEUED_FOR`] up to the longest retry wait.
fn held_for(failing_since: Timestamp, now: Timestamp) -> Duration {
    now.since(failing_since)
        .clamp(QUEUED_FOR, retry::LONGEST_WAIT)
}

/// What one attempt came to.
struct Outcome {
    success: bool,
    /// Whether its record landed (another consumer's did not come first).
    recorded: bool,
    /// When it is due again, if it failed and is retried.
    next: Option<Timestamp>,
    delivery: Delivery,
}

/// The subscriptions of each company met in one run, read once per company (by
/// [`Dispatcher::load`], which also disables those whose client lost access).
#[derive(Default)]
struct Subscriptions(HashMap<CompanyId, Vec<SigningSubscription>>);

impl Subscriptions {
    fn of(&self, company: CompanyId) -> &[SigningSubscription] {
        self.0.get(&company).map(Vec::as_slice).unwrap_or_default()
    }

    /// The subscription, if it exists and is enabled.
    fn enabled(&self, company: CompanyId, id: SubscriptionId) -> Option<&SigningSubscription> {
        self.of(company)
            .iter()
            .find(|held| held.subscription.id == id && held.subscription.enabled)
    }
}
