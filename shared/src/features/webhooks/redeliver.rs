//! Sending events again: every event a subscription wants since a time (recovery, after a
//! receiver was down or its subscription disabled), or one event (resend). The company's event
//! feed is the source: it holds every event for 30 days, whether or not a subscription was
//! there to hear it.
//!
//! **Each event once.** An event's delivery is written afresh (PENDING, no attempts) only
//! where its event has none, or one that was given up on (FAILED): one conditional PutItem
//! ([`crate::store::webhooks::WebhookStore::deliver_again`]), so a recovery and the fan-out
//! racing over one event write one delivery. A delivery that landed is left as it is, so a
//! receiver that recovers ends holding every event once, not the ones it took twice; one
//! still PENDING (waiting out a backoff, or held while its subscription was disabled) is read
//! and queued now as it is, so the consumer's claim on its attempt count keeps it from being
//! sent twice. A resend writes the delivery afresh whatever became of it, unless it is
//! PENDING, when it is queued now as it is.
//!
//! **Bounded.** One recovery call looks at up to [`MAX_RECOVERED`] events (and reads at most
//! [`MAX_PAGES`] pages of the feed), which keeps it well inside an API function's 10 s; it
//! answers where it stopped, and the caller goes on from there.
//!
//! What is written is queued at once, as the fan-out queues it, unless the subscription's
//! receiver is failing: then its probe sends it with everything else it holds when the
//! receiver is back.

use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use super::dispatch::{queued, QUEUED_FOR};
use crate::app::AppState;
use crate::domain::webhook::{Delivery, DeliveryStatus, Subscription};
use crate::domain::{FeedCursor, Timestamp};
use crate::foundation::error::ApiError;
use crate::store::attempt_queue::AttemptQueue;
use crate::store::events::{EventFeed, FeedEntry};
use crate::store::webhooks::WebhookStore;

/// Most events one recovery call sends again.
pub const MAX_RECOVERED: usize = 1_000;
/// Most feed pages one recovery call reads (a page reads up to 500 events, of every type).
pub const MAX_PAGES: usize = 10;
/// Delivery writes in flight at once.
const WRITES_IN_FLIGHT: usize = 16;

/// What a recovery did.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The events whose delivery was written afresh or, still pending, queued now; oldest
    /// first.
    pub queued: Vec<String>,
    /// Of those, how many wait for a failing receiver's probe instead of being queued now.
    pub held: usize,
    /// Events whose delivery landed, left as they were.
    pub delivered_before: usize,
    /// Where to go on from, if the call stopped before the end of the feed.
    pub stopped_at: Option<FeedCursor>,
}

/// The subscription does not receive events of this type: the event is not sent.
#[derive(Debug)]
pub struct NotWanted(pub String);

pub struct Redelivery {
    store: WebhookStore,
    feed: EventFeed,
    queue: AttemptQueue,
}

impl From<&AppState> for Redelivery {
    fn from(state: &AppState) -> Self {
        Self {
            store: state.webhooks.clone(),
            feed: state.events.clone(),
            queue: state.attempts.clone(),
        }
    }
}

impl Redelivery {
    /// Sends `target` again every event it wants after `from`, up to [`MAX_RECOVERED`], of
    /// those written by `now`.
    pub async fn recover(
        &self,
        target: &Subscription,
        from: FeedCursor,
        now: Timestamp,
    ) -> Result<Recovered, ApiError> {
        let mut recovered = Recovered::default();
        let mut after = from;
        let mut pages = 0;
        let mut looked_at = 0;
        loop {
            let room = MAX_RECOVERED - looked_at;
            let page = self
                .feed
                .read_through(
                    target.company_id,
                    Some(&after),
                    &target.events,
                    i32::try_from(room.min(500)).unwrap_or(500),
                    now,
                )
                .await?;
            pages += 1;
            looked_at += page.entries.len();
            let deliveries: Vec<Delivery> = page
                .entries
                .iter()
                .map(|entry| fresh(target, entry, now))
                .collect();
            let outcomes: Vec<Result<Redelivered, ApiError>> = stream::iter(deliveries)
                .map(|delivery| async move {
                    let keep = [DeliveryStatus::Pending, DeliveryStatus::Delivered];
                    self.again(target, delivery, &keep).await
                })
                .buffered(WRITES_IN_FLIGHT)
                .collect()
                .await;
            let mut to_queue = Vec::new();
            for outcome in outcomes {
                match outcome? {
                    Redelivered::Afresh(delivery) | Redelivered::Pending(delivery) => {
                        to_queue.push(delivery)
                    }
                    Redelivered::Landed => recovered.delivered_before += 1,
                }
            }
            recovered.held += self.enqueue(target, &to_queue).await;
            recovered
                .queued
                .extend(to_queue.into_iter().map(|d| d.event_id));
            after = page.next;
            if !page.more {
                return Ok(recovered);
            }
            if looked_at >= MAX_RECOVERED || pages >= MAX_PAGES {
                recovered.stopped_at = Some(after);
                return Ok(recovered);
            }
        }
    }

    /// Sends `target` the feed's event `entry` again, whatever became of its delivery unless
    /// it is still on its way: the delivery as written.
    pub async fn resend(
        &self,
        target: &Subscription,
        entry: &FeedEntry,
        now: Timestamp,
    ) -> Result<Result<Delivery, NotWanted>, ApiError> {
        if !target
            .events
            .iter()
            .any(|wanted| wanted.as_str() == entry.event_type)
        {
            return Ok(Err(NotWanted(entry.event_type.clone())));
        }
        let delivery = fresh(target, entry, now);
        let delivery = match self
            .again(target, delivery, &[DeliveryStatus::Pending])
            .await?
        {
            Redelivered::Afresh(delivery) | Redelivered::Pending(delivery) => delivery,
            Redelivered::Landed => unreachable!("a resend writes over a delivery that landed"),
        };
        self.enqueue(target, std::slice::from_ref(&delivery)).await;
        Ok(Ok(delivery))
    }

    /// Writes `delivery` afresh unless its event's delivery is in one of the `keep` states:
    /// then, if it is PENDING, it as it is (to be queued now), else that it landed. Reads and
    /// writes again if the delivery changed in between (a PENDING one that just landed or
    /// was given up on).
    async fn again(
        &self,
        target: &Subscription,
        delivery: Delivery,
        keep: &[DeliveryStatus],
    ) -> Result<Redelivered, ApiError> {
        for _ in 0..3 {
            if self.store.deliver_again(&delivery, keep).await? {
                return Ok(Redelivered::Afresh(delivery));
            }
            match self
                .store
                .delivery(target.company_id, target.id, &delivery)
                .await?
            {
                Some(stored) if stored.status == DeliveryStatus::Pending => {
                    return Ok(Redelivered::Pending(stored))
                }
                Some(stored) if stored.status == DeliveryStatus::Delivered => {
                    return Ok(Redelivered::Landed)
                }
                // Changed since the write was refused: try again.
                _ => continue,
            }
        }
        Err(ApiError::Conflict(format!(
            "the delivery of event {} kept changing while it was being sent again; \
             nothing else changed, and the call may be sent again",
            delivery.event_id
        )))
    }

    /// Queues an attempt of each of `deliveries`, unless `target` is failing (its probe sends
    /// them when its receiver is back): how many were held. A failure to queue loses nothing
    /// (the sweep queues each when it comes due).
    async fn enqueue(&self, target: &Subscription, deliveries: &[Delivery]) -> usize {
        if target.failing_since.is_some() {
            return deliveries.len();
        }
        let attempts: Vec<_> = deliveries
            .iter()
            .map(|d| queued(d, false, Duration::ZERO))
            .collect();
        if let Err(e) = self.queue.enqueue(&attempts).await {
            tracing::warn!(error = ?e, count = attempts.len(), "redeliveries not queued; the sweep queues them when due");
        }
        0
    }
}

/// What became of one event's delivery.
enum Redelivered {
    /// Written afresh.
    Afresh(Delivery),
    /// Left as it is, PENDING: to be queued now.
    Pending(Delivery),
    /// Left as it is: it landed.
    Landed,
}

/// A delivery of `entry` to `target` as new: PENDING, no attempts, due for the sweep only if
/// its message is lost.
fn fresh(target: &Subscription, entry: &FeedEntry, now: Timestamp) -> Delivery {
    Delivery {
        subscription_id: target.id,
        company_id: target.company_id,
        event_id: entry.event_id.clone(),
        event_type: entry.event_type.clone(),
        event_at: entry.at,
        body: entry.body.clone(),
        status: DeliveryStatus::Pending,
        attempts: Vec::new(),
        next_attempt_at: Some(now.plus(QUEUED_FOR)),
    }
}
