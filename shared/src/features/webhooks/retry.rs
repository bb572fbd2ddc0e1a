//! When a delivery that failed is tried again, and when trying stops.
//!
//! The wait doubles from [`FIRST_RETRY`] up to [`LONGEST_WAIT`], each wait jittered to between
//! half and all of itself, so that receivers that failed together (an outage on their side)
//! are not all retried in the same second. The jitter is drawn from the event id and the
//! attempt number rather than a random generator: it spreads deliveries as well, and the same
//! delivery always gets the same schedule, which a test (and an operator reading the log) can
//! check. A delivery is retried until [`GIVE_UP_AFTER`] has passed since its event (about 30
//! attempts); a subscription whose deliveries have failed for that long without one success
//! is disabled.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::domain::Timestamp;

/// The wait after the first failed attempt (before jitter).
pub const FIRST_RETRY: Duration = Duration::from_secs(10);
/// The longest wait between two attempts (before jitter).
pub const LONGEST_WAIT: Duration = Duration::from_secs(4 * 3600);
/// How long a delivery is retried, and how long a subscription may fail before it is disabled.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);

/// The wait after attempt number `attempt` (1 for the first) of `event_id` failed.
pub fn wait_after(event_id: &str, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(20);
    let full = FIRST_RETRY
        .saturating_mul(1u32 << doublings)
        .min(LONGEST_WAIT);
    let digest = Sha256::new()
        .chain_update(event_id.as_bytes())
        .chain_update(attempt.to_be_bytes())
        .finalize();
    let draw = u16::from_be_bytes([digest[0], digest[1]]) as u32; // 0..=65535
    let half = full / 2;
    half + half.mul_f64(f64::from(draw) / 65535.0)
}

/// When to try `event_id` again after attempt `attempt` failed at `now`, for an event that
/// happened at `event_at`; `None` once [`GIVE_UP_AFTER`] has passed since then.
pub fn next_attempt(
    event_id: &str,
    attempt: u32,
    event_at: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    let next = now.plus(wait_after(event_id, attempt));
    (next <= event_at.plus(GIVE_UP_AFTER)).then_some(next)
}

/// Whether a subscription failing since `failing_since` has failed long enough to be disabled.
pub fn should_disable(failing_since: Timestamp, now: Timestamp) -> bool {
    now >= failing_since.plus(GIVE_UP_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_with_jitter_up_to_four_hours() {
        let mut previous_full = Duration::ZERO;
        for attempt in 1..=40 {
            let wait = wait_after("evt_1", attempt);
            let full = FIRST_RETRY
                .saturating_mul(1 << (attempt - 1).min(20))
                .min(LONGEST_WAIT);
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {attempt}: {wait:?} not within half of {full:?} and it"
            );
            assert!(full >= previous_full);
            previous_full = full;
        }
        assert_eq!(wait_after("evt_1", 3), wait_after("evt_1", 3), "stable");
        let spread: std::collections::HashSet<Duration> = (0..50)
            .map(|n| wait_after(&format!("evt_{n}"), 5))
            .collect();
        assert!(spread.len() > 40, "events failing together retry apart");
    }

    #[test]
    fn a_failing_delivery_is_retried_for_three_days_then_given_up() {
        let event_at = Timestamp::parse("2026-11-01T00:00:00Z").unwrap();
        let mut now = event_at;
        let mut attempts = 0;
        while let Some(next) = next_attempt("evt_x", attempts + 1, event_at, now) {
            attempts += 1;
            assert!(next > now);
            now = next;
        }
        let tried_for = now.as_datetime() - event_at.as_datetime();
        assert!(
            tried_for >= chrono::TimeDelta::hours(24),
            "at least a day of retries"
        );
        assert!(tried_for <= chrono::TimeDelta::hours(72));
        assert!(
            (15..=40).contains(&attempts),
            "{attempts} attempts over {tried_for}"
        );
        let since = Timestamp::parse("2026-11-01T00:00:00Z").unwrap();
        assert!(!should_disable(
            since,
            since.plus(GIVE_UP_AFTER - Duration::from_secs(1))
        ));
        assert!(should_disable(since, since.plus(GIVE_UP_AFTER)));
    }
}
