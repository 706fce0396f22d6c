//! Which of our packets a TWCC feedback actually spoke of, so a lost feedback
//! is not read as lost media.
//!
//! webrtc-rs 0.21.1's send history reports every packet older than the newest
//! one acknowledged as lost when no feedback named it. A TWCC feedback packet
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1) lost on the way
//! back therefore turned all the packets it covered into "lost": on a path
//! losing 5 % each way the estimator saw 10–17 % loss and cut the rate to its
//! floor. The recorder here sits wire-ward of the congestion-control
//! interceptor, notes the sequence numbers each feedback covers (received or
//! not), and [`Guard`](super::congestion_guard::Guard) passes on as lost only
//! the packets a feedback named.

use std::sync::{Arc, Mutex, PoisonError};

use rtc::interceptor::{Packet, TaggedPacket};
use rtc::rtcp::transport_feedbacks::transport_layer_cc::TransportLayerCc;

use super::read_tap::ReadObserver;

/// Position in the chain: wire-ward of congestion control (1 000), so a
/// feedback is noted before the estimator hears of it.
pub const FEEDBACK_COVERAGE_SLOT: usize = 500;

/// Sequence numbers past a feedback's end whose marks [`FeedbackCoverage::mark`]
/// clears: a quarter of the space, far more than are in flight.
pub const AHEAD: u16 = 16_384;

/// TWCC sequence numbers (u16) named by a feedback and not yet taken; shared by
/// the recorder and the estimator's guard.
#[derive(Clone)]
pub struct FeedbackCoverage(Arc<Mutex<Vec<u64>>>);

impl Default for FeedbackCoverage {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(vec![0; (1 << 16) / 64])))
    }
}

impl FeedbackCoverage {
    /// Notes that a feedback spoke of `count` packets from `base` on
    /// (wrapping), and forgets the [`AHEAD`] numbers after them: a mark
    /// never taken (a packet named twice, or one the send history let go)
    /// must not still stand when the numbers come round again.
    pub fn mark(&self, base: u16, count: u16) {
        let mut bits = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut set = |seq: u16, on: bool| {
            let (word, bit) = (usize::from(seq) / 64, 1u64 << (seq % 64));
            if on {
                bits[word] |= bit;
            } else {
                bits[word] &= !bit;
            }
        };
        for i in 0..count {
            set(base.wrapping_add(i), true);
        }
        for i in 0..AHEAD {
            set(base.wrapping_add(count).wrapping_add(i), false);
        }
    }

    /// Whether a feedback spoke of `seq` (and the mark was not taken yet);
    /// takes the mark.
    pub fn take(&self, seq: u16) -> bool {
        let mut bits = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (word, bit) = (usize::from(seq) / 64, 1u64 << (seq % 64));
        let covered = bits[word] & bit != 0;
        bits[word] &= !bit;
        covered
    }
}

/// Fills a [`FeedbackCoverage`] from inbound TWCC feedback (in a
/// [`ReadTap`](super::read_tap::ReadTap)).
pub struct CoverageRecorder {
    coverage: FeedbackCoverage,
}

impl CoverageRecorder {
    /// A recorder filling `coverage`.
    pub fn new(coverage: FeedbackCoverage) -> Self {
        Self { coverage }
    }
}

impl ReadObserver for CoverageRecorder {
    fn observe(&mut self, msg: &mut TaggedPacket) {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            for p in packets {
                if let Some(fb) = p.as_any().downcast_ref::<TransportLayerCc>() {
                    self.coverage
                        .mark(fb.base_sequence_number, fb.packet_status_count);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_wraps_and_is_taken_once() {
        let c = FeedbackCoverage::default();
        c.mark(65_530, 10);
        assert!(c.take(65_535) && c.take(0) && c.take(3));
        assert!(!c.take(4), "past the feedback's end");
        assert!(!c.take(3), "taken already");
        assert!(!c.take(100));
        c.mark(200, 1);
        c.mark(100, 10);
        assert!(!c.take(200), "cleared by the feedback before it");
    }
}
