//! The loss figure our Opus encoder's in-band FEC is tuned to (RFC 6716
//! §2.1.7), from what the members' RTCP receiver reports say they lost of our
//! audio (RFC 3550 §6.4.1 "fraction lost"). Pure.

use std::collections::VecDeque;

/// Reports remembered: one per statistics tick (1 s).
pub const KEEP: usize = 5;
/// Lowest figure, percent: libopus turns FEC off at 0 %, and a clean second
/// is common on a lossy path, so the first packet lost after one would not
/// be recoverable.
pub const FLOOR_PCT: u8 = 2;

/// The worst of the last [`KEEP`] reports, at least [`FLOOR_PCT`].
#[derive(Debug, Default)]
pub struct AudioLoss {
    recent: VecDeque<f64>,
}

impl AudioLoss {
    /// Takes the worst member's latest report (0–1); returns the percent to
    /// give the encoder.
    pub fn report(&mut self, fraction_lost: f64) -> u8 {
        if self.recent.len() == KEEP {
            self.recent.pop_front();
        }
        self.recent.push_back(fraction_lost.clamp(0.0, 1.0));
        let worst = self.recent.iter().copied().fold(0.0, f64::max);
        ((worst * 100.0).ceil() as u8).clamp(FLOOR_PCT, 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_of_five_seconds_and_never_under_the_floor() {
        let mut l = AudioLoss::default();
        assert_eq!(l.report(0.0), FLOOR_PCT);
        assert_eq!(l.report(0.051), 6);
        for _ in 0..4 {
            assert_eq!(l.report(0.0), 6, "a clean second keeps the figure");
        }
        assert_eq!(l.report(0.01), FLOOR_PCT);
        assert_eq!(l.report(2.0), 100);
    }
}
