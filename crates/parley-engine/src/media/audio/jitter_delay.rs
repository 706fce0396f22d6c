//! The jitter buffer's target delay, following the jitter it measures.
//!
//! Each packet's delay is how much later it arrived than the fastest packet
//! so far predicts (arrival minus RTP time, less the minimum of that). The
//! target is the 95th percentile of the last [`WINDOW`] delays plus
//! [`MARGIN_MS`], within [`MIN_DELAY_MS`]–[`MAX_DELAY_MS`], in steps of
//! [`STEP_MS`]: after each [`EVERY`] packets it rises at once to what is
//! needed (a packet later than the target is lost to playout), and falls one
//! step at a time (each step costs one dropped packet to take effect), as
//! WebRTC's NetEq does with its inter-arrival histogram.

use std::collections::VecDeque;

/// Packets whose delays are kept (3 s of 20 ms packets).
pub const WINDOW: usize = 150;
/// Packets between two looks at the target (1 s of 20 ms packets).
pub const EVERY: u32 = 50;
/// Lowest target, ms, and the one a buffer starts with: room for a busy
/// machine's scheduling. Starting at the floor means a quiet path never
/// drops a packet to come down to it.
pub const MIN_DELAY_MS: u64 = 60;
/// Highest target, ms: beyond it a conversation stumbles.
pub const MAX_DELAY_MS: u64 = 400;
/// Added to the measured percentile, ms.
pub const MARGIN_MS: u64 = 10;
/// Granularity of the target and size of a fall, ms (one packet).
pub const STEP_MS: u64 = 20;

/// Pure: fed each packet's delay, says when the target should change.
#[derive(Debug, Default)]
pub struct AdaptiveDelay {
    delays: VecDeque<u64>,
    since_look: u32,
}

impl AdaptiveDelay {
    /// Records one packet's delay beyond the fastest path, ms; every
    /// [`EVERY`] packets returns the target to use instead of `current_ms`,
    /// if it should change.
    pub fn record(&mut self, delay_ms: u64, current_ms: u64) -> Option<u64> {
        if self.delays.len() == WINDOW {
            self.delays.pop_front();
        }
        self.delays.push_back(delay_ms);
        self.since_look += 1;
        if self.since_look < EVERY {
            return None;
        }
        self.since_look = 0;
        let mut sorted: Vec<u64> = self.delays.iter().copied().collect();
        sorted.sort_unstable();
        let p95 = sorted[(sorted.len() * 95 / 100).min(sorted.len() - 1)];
        let needed = (p95 + MARGIN_MS).div_ceil(STEP_MS) * STEP_MS;
        let needed = needed.clamp(MIN_DELAY_MS, MAX_DELAY_MS);
        if needed > current_ms {
            Some(needed)
        } else if needed + STEP_MS <= current_ms {
            Some(current_ms - STEP_MS)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rises_at_once_and_falls_a_step_at_a_time() {
        let mut a = AdaptiveDelay::default();
        let mut target = 60;
        let feed = |a: &mut AdaptiveDelay, target: &mut u64, delays: &[u64]| {
            for &d in delays.iter().cycle().take(EVERY as usize) {
                if let Some(t) = a.record(d, *target) {
                    *target = t;
                }
            }
        };
        // A quiet path: it stays at the floor.
        feed(&mut a, &mut target, &[0, 2, 1]);
        feed(&mut a, &mut target, &[0, 2, 1]);
        assert_eq!(target, MIN_DELAY_MS, "never under the floor");
        // Two packets in ten 150 ms late (a fifteenth of the window): up at once.
        feed(&mut a, &mut target, &[0, 5, 3, 150, 1, 2, 0, 150, 1, 2]);
        assert_eq!(target, 160);
        // Quiet again: it holds while late ones are in the window, then
        // falls 20 ms a second.
        let mut seen = Vec::new();
        for _ in 0..6 {
            feed(&mut a, &mut target, &[1]);
            seen.push(target);
        }
        assert_eq!(seen, vec![160, 160, 140, 120, 100, 80]);
        for _ in 0..3 {
            feed(&mut a, &mut target, &[1]);
        }
        assert_eq!(target, MIN_DELAY_MS);
    }

    #[test]
    fn never_over_the_ceiling() {
        let mut a = AdaptiveDelay::default();
        let mut target = 60;
        for _ in 0..EVERY {
            if let Some(t) = a.record(2_000, target) {
                target = t;
            }
        }
        assert_eq!(target, MAX_DELAY_MS);
    }
}
