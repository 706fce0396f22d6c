//! The client's hold on its queue of files to send ([`crate::storage::OutboxEntry`],
//! kept in the profile): which queued files a call or session is carrying now,
//! and when the others are offered again. Pure: the caller passes the time.
//!
//! A queued file leaves the queue when it arrives, when the receiving user
//! declines it, or when either user cancels it. Anything else (the connection
//! closed, either app quit, the receiver's disk was full) keeps it: it is
//! offered again, under the same transfer id, as soon as the contact comes
//! online, or after [`retry_delay`] while they stay online. The receiver then
//! resumes from its kept partial file (docs/protocol.md §8.3).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// First wait before a queued file is offered again while its contact stays
/// online, ms; doubled after each attempt up to [`RETRY_MAX_MS`].
pub const RETRY_FIRST_MS: u64 = 1_000;
/// Longest wait between two attempts while the contact stays online, ms.
pub const RETRY_MAX_MS: u64 = 60_000;
/// Attempts after which a queued file is given up (reported failed and taken
/// out of the queue): something other than the network keeps failing it.
pub const MAX_ATTEMPTS: u32 = 25;

/// How long to wait before the next attempt after `attempts` that failed:
/// 1 s, 2 s, 4 s, … at most [`RETRY_MAX_MS`].
pub fn retry_delay(attempts: u32) -> Duration {
    let shift = attempts.saturating_sub(1).min(16);
    Duration::from_millis((RETRY_FIRST_MS << shift).min(RETRY_MAX_MS))
}

/// Queued files in flight and waiting.
#[derive(Debug, Default)]
pub(super) struct OutboxState {
    /// Transfer id → the call id of the call or session carrying it.
    active: HashMap<String, String>,
    /// Transfer id → earliest next attempt.
    retry_at: HashMap<String, Instant>,
    /// Files in flight whose cancel was handed to the call or session carrying
    /// them: if that call ends first (a declined session, a closed connection)
    /// they are cancelled, not tried again.
    cancelling: HashSet<String>,
}

impl OutboxState {
    /// Whether a call or session carries `transfer_id` now.
    pub(super) fn is_active(&self, transfer_id: &str) -> bool {
        self.active.contains_key(transfer_id)
    }

    /// `transfer_id` was handed to the call or session `call_id`.
    pub(super) fn started(&mut self, transfer_id: &str, call_id: &str) {
        self.retry_at.remove(transfer_id);
        self.active
            .insert(transfer_id.to_owned(), call_id.to_owned());
    }

    /// `transfer_id` left the queue (arrived, declined, cancelled, given up).
    pub(super) fn finished(&mut self, transfer_id: &str) {
        self.active.remove(transfer_id);
        self.retry_at.remove(transfer_id);
        self.cancelling.remove(transfer_id);
    }

    /// The user cancelled `transfer_id`, which a call or session carries: the
    /// cancel went to it. `false` (nothing noted) if none carries it.
    pub(super) fn cancel_sent(&mut self, transfer_id: &str) -> bool {
        let active = self.is_active(transfer_id);
        if active {
            self.cancelling.insert(transfer_id.to_owned());
        }
        active
    }

    /// Whether the user cancelled `transfer_id` while a call or session
    /// carried it (see [`Self::cancel_sent`]).
    pub(super) fn is_cancelling(&self, transfer_id: &str) -> bool {
        self.cancelling.contains(transfer_id)
    }

    /// `transfer_id` did not arrive: try again after `delay` from `now`.
    pub(super) fn retry_later(&mut self, transfer_id: &str, now: Instant, delay: Duration) {
        self.active.remove(transfer_id);
        self.retry_at.insert(transfer_id.to_owned(), now + delay);
    }

    /// The call or session `call_id` ended: the queued files it still carried
    /// (those never offered, too) are tried again after `delay` from `now`,
    /// except those the user cancelled meanwhile: returned (sorted), for the
    /// caller to take out of the queue.
    pub(super) fn call_ended(
        &mut self,
        call_id: &str,
        now: Instant,
        delay: Duration,
    ) -> Vec<String> {
        let mut left: Vec<String> = self
            .active
            .iter()
            .filter(|(_, c)| *c == call_id)
            .map(|(t, _)| t.clone())
            .collect();
        left.sort();
        let mut cancelled = Vec::new();
        for t in left {
            if self.cancelling.contains(&t) {
                self.finished(&t);
                cancelled.push(t);
            } else {
                self.retry_later(&t, now, delay);
            }
        }
        cancelled
    }

    /// How long until the waiting file `transfer_id` is due, from `now`
    /// (zero if it is due); `None` if it is not waiting.
    pub(super) fn retry_in(&self, transfer_id: &str, now: Instant) -> Option<Duration> {
        self.retry_at
            .get(transfer_id)
            .map(|at| at.saturating_duration_since(now))
    }

    /// When the next waiting file is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.retry_at.values().min().copied()
    }

    /// Takes the waiting files due at `now`.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<String> {
        let due: Vec<String> = self
            .retry_at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(t, _)| t.clone())
            .collect();
        for t in &due {
            self.retry_at.remove(t);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_minute() {
        assert_eq!(retry_delay(0), Duration::from_secs(1));
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(4), Duration::from_secs(8));
        assert_eq!(retry_delay(7), Duration::from_secs(60));
        assert_eq!(retry_delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn files_a_call_carried_wait_and_come_due() {
        let t0 = Instant::now();
        let mut s = OutboxState::default();
        s.started("a", "call1");
        s.started("b", "call1");
        s.started("c", "call2");
        assert!(s.is_active("a"));
        assert_eq!(s.next_due(), None);
        s.finished("a");
        s.call_ended("call1", t0, Duration::from_secs(2));
        assert!(!s.is_active("b"));
        assert!(s.is_active("c"));
        assert_eq!(s.next_due(), Some(t0 + Duration::from_secs(2)));
        assert!(s.take_due(t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(s.take_due(t0 + Duration::from_secs(2)), ["b"]);
        assert_eq!(s.next_due(), None);
        // Offered again before its time (the contact came online): not due twice.
        s.retry_later("c", t0, Duration::from_secs(5));
        s.started("c", "call3");
        assert_eq!(s.next_due(), None);
        assert!(s.is_active("c"));
    }

    #[test]
    fn files_cancelled_in_flight_are_not_tried_again_when_their_call_ends() {
        let t0 = Instant::now();
        let mut s = OutboxState::default();
        s.started("a", "call1");
        s.started("b", "call1");
        assert!(!s.cancel_sent("z"), "not carried: nothing to note");
        assert!(s.cancel_sent("b"));
        assert!(s.is_cancelling("b"));
        assert_eq!(s.call_ended("call1", t0, Duration::from_secs(1)), ["b"]);
        assert!(!s.is_active("b") && !s.is_cancelling("b"));
        assert_eq!(s.retry_in("b", t0), None);
        assert_eq!(s.take_due(t0 + Duration::from_secs(1)), ["a"]);
    }
}
