//! What we put around webrtc-rs 0.21.1's GCC so it holds on a real bottleneck.
//!
//! Measured on a 1 Mbit/s tbf link with a 200 ms queue (tests/call_congestion.rs),
//! the estimator alone climbed about 28 % a second past the link's rate, never saw
//! the queue fill (its delay half stayed blind), and fell to a fifth of the link
//! on the loss that followed: a 10 s sawtooth with the picture frozen in every
//! trough. Three things are added here, each from the GCC draft
//! (draft-ietf-rmcat-gcc-02) or libwebrtc:
//!
//! - **Feedback in windows.** Reports reach the estimator in batches of at
//!   least [`BATCH_REPORTS`] packets or [`BATCH_MS`], not one per TWCC packet:
//!   its loss half averages per batch, and at 20 packets a second a batch held
//!   one to three packets, so one lost packet read as 30–50 % loss.
//! - **A queue watch.** One-way delay (arrival minus departure) against its
//!   minimum over [`BASE_WINDOW_MS`]; once the queue it shows passes
//!   [`QUEUE_LIMIT_MS`] and is still growing ([`QUEUE_GROWTH_MS`]), the rate
//!   is held at 0.85 × what arrived (GCC §5.5's decrease) and then allowed to
//!   grow 8 % a second while the queue stays under [`QUEUE_CLEAR_MS`] or stops
//!   growing.
//! - **No rise past 1.5 × what arrives** (plus 10 kbit/s), as libwebrtc's
//!   AIMD rate control bounds its increase.
//! - **Only named losses.** With a [`FeedbackCoverage`], a packet counts as
//!   lost only if a feedback said so; one whose feedback was itself lost is
//!   left out (see [`super::feedback_coverage`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rtc::interceptor::{BandwidthEstimator, EstimatorStats, PacketReport};

use super::feedback_coverage::FeedbackCoverage;

/// Reports held before the estimator sees them, packets.
pub const BATCH_REPORTS: usize = 40;
/// Longest reports are held, ms.
pub const BATCH_MS: u64 = 500;
/// How far back the one-way delay's minimum is taken, ms.
pub const BASE_WINDOW_MS: u64 = 10_000;
/// Queueing delay that makes the rate drop, ms.
pub const QUEUE_LIMIT_MS: f64 = 100.0;
/// Queueing delay under which the rate may grow again, ms.
pub const QUEUE_CLEAR_MS: f64 = 20.0;
/// How much the queue must have grown over [`GROWTH_WINDOW_MS`] for the rate
/// to drop, ms: a queue that stands still is a loss-based flow's (a file on
/// the data channel, TCP beside the call), and backing off from it would hand
/// that flow the whole link; loss, which such a queue brings, is the signal
/// there.
pub const QUEUE_GROWTH_MS: f64 = 30.0;
/// See [`QUEUE_GROWTH_MS`], ms.
pub const GROWTH_WINDOW_MS: u64 = 500;
/// Window over which the arriving rate is measured, ms.
pub const ACKED_WINDOW_MS: u64 = 1_000;
/// Growth of the held rate while the queue is clear, per second.
const GROWTH_PER_S: f64 = 0.08;
/// After a decrease, the next one waits this long (the queue needs a round trip
/// to drain), ms.
const DECREASE_GAP_MS: u64 = 500;

/// `inner` with feedback in windows, a queue watch and a bound on growth; see
/// the module doc.
pub struct Guard<E> {
    inner: E,
    min_bps: f64,
    pending: Vec<PacketReport>,
    pending_since: Option<Instant>,
    /// The first departure seen: one-way delays are measured from it.
    epoch: Option<Instant>,
    /// (when reported, one-way delay ms), oldest first.
    delays: VecDeque<(Instant, f64)>,
    /// (when reported, bytes that arrived), oldest first.
    acked: VecDeque<(Instant, usize)>,
    queue_ms: f64,
    /// (when reported, the batch's median one-way delay ms), oldest first.
    medians: VecDeque<(Instant, f64)>,
    /// The rate the queue watch allows, bits/s (`None`: no limit now).
    held_bps: Option<f64>,
    last_decrease: Option<Instant>,
    last_update: Option<Instant>,
    /// What [`BandwidthEstimator::target_bitrate`] gives out, bits/s.
    output: f64,
    /// The sequence numbers feedback named (`None`: every report counts).
    coverage: Option<FeedbackCoverage>,
}

impl<E: BandwidthEstimator> Guard<E> {
    /// Guards `inner`; the rate never goes below `min_bps`, bits/s.
    pub fn new(inner: E, min_bps: f64) -> Self {
        let output = inner.target_bitrate().max(min_bps);
        Self {
            output,
            inner,
            min_bps,
            pending: Vec::new(),
            pending_since: None,
            epoch: None,
            delays: VecDeque::new(),
            acked: VecDeque::new(),
            queue_ms: 0.0,
            medians: VecDeque::new(),
            held_bps: None,
            last_decrease: None,
            last_update: None,
            coverage: None,
        }
    }

    /// Counts a packet as lost only when `coverage` shows a feedback named it.
    pub fn with_coverage(mut self, coverage: FeedbackCoverage) -> Self {
        self.coverage = Some(coverage);
        self
    }

    /// Whether a report is news from the receiver: it arrived, or a feedback
    /// said it did not (rather than the feedback that would say being lost).
    fn reported(&self, r: &PacketReport) -> bool {
        if !r.is_twcc {
            return false;
        }
        match &self.coverage {
            Some(c) => c.take(r.twcc_sequence_number) || r.arrived,
            None => true,
        }
    }

    /// What arrived over the last [`ACKED_WINDOW_MS`], bits/s, measured over
    /// the time the reports span (`None` until they span half the window).
    fn acked_bps(&self, now: Instant) -> Option<f64> {
        let (first, _) = self.acked.front()?;
        let span = now.saturating_duration_since(*first).as_secs_f64();
        if span < ACKED_WINDOW_MS as f64 / 2000.0 {
            return None;
        }
        // What the first report brought arrived before the span began.
        let bytes: usize = self
            .acked
            .iter()
            .filter(|(t, _)| t > first)
            .map(|(_, b)| b)
            .sum();
        Some(bytes as f64 * 8.0 / span)
    }

    /// Records the batch's delays and arrivals; returns the batch's median
    /// one-way delay, ms.
    fn record(&mut self, now: Instant, reports: &[PacketReport]) -> Option<f64> {
        let mut batch = Vec::new();
        for r in reports.iter().filter(|r| r.arrived) {
            self.acked.push_back((now, r.size));
            let (Some(arrival), epoch) = (r.arrival, *self.epoch.get_or_insert(r.departure)) else {
                continue;
            };
            let sent = r.departure.saturating_duration_since(epoch);
            batch.push((arrival.as_secs_f64() - sent.as_secs_f64()) * 1000.0);
        }
        let keep = |w: u64| now.checked_sub(Duration::from_millis(w));
        if let Some(cut) = keep(ACKED_WINDOW_MS) {
            while self.acked.front().is_some_and(|(t, _)| *t < cut) {
                self.acked.pop_front();
            }
        }
        if let Some(cut) = keep(BASE_WINDOW_MS) {
            while self.delays.front().is_some_and(|(t, _)| *t < cut) {
                self.delays.pop_front();
            }
        }
        if batch.is_empty() {
            return None;
        }
        batch.sort_by(f64::total_cmp);
        let median = batch[batch.len() / 2];
        self.delays.extend(batch.iter().map(|d| (now, *d)));
        Some(median)
    }

    /// The queue watch after a batch whose median one-way delay is `delay_ms`.
    fn watch(&mut self, now: Instant, delay_ms: f64) {
        let base = self
            .delays
            .iter()
            .map(|(_, d)| *d)
            .fold(f64::INFINITY, f64::min);
        self.queue_ms = (delay_ms - base).max(0.0);
        let window = Duration::from_millis(GROWTH_WINDOW_MS);
        while self.medians.len() > 1 && self.medians[1].0 <= now.checked_sub(window).unwrap_or(now)
        {
            self.medians.pop_front();
        }
        let growth = self.medians.front().map_or(0.0, |(_, d)| delay_ms - d);
        self.medians.push_back((now, delay_ms));
        let dt = self
            .last_update
            .replace(now)
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        let acked = self.acked_bps(now);
        let may_decrease = self.last_decrease.is_none_or(|t| {
            now.saturating_duration_since(t) >= Duration::from_millis(DECREASE_GAP_MS)
        });
        if self.queue_ms > QUEUE_LIMIT_MS && growth > QUEUE_GROWTH_MS && may_decrease {
            if let Some(acked) = acked {
                let lower = (0.85 * acked).max(self.min_bps);
                self.held_bps = Some(self.held_bps.map_or(lower, |h| h.min(lower)));
                self.last_decrease = Some(now);
            }
        } else if self.queue_ms < QUEUE_CLEAR_MS || growth <= 0.0 {
            if let Some(h) = self.held_bps {
                let grown = h * (1.0 + GROWTH_PER_S * dt.min(1.0));
                // Free again once the estimator itself is lower.
                self.held_bps = (grown < self.inner.target_bitrate()).then_some(grown);
            }
        }
    }
}

impl<E: BandwidthEstimator> BandwidthEstimator for Guard<E> {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        let reports: Vec<PacketReport> = reports
            .iter()
            .filter(|r| self.reported(r))
            .cloned()
            .collect();
        if let Some(delay) = self.record(now, &reports) {
            self.watch(now, delay);
        }
        self.pending.extend(reports);
        let since = *self.pending_since.get_or_insert(now);
        let due = now.saturating_duration_since(since) >= Duration::from_millis(BATCH_MS);
        if self.pending.len() >= BATCH_REPORTS || (due && !self.pending.is_empty()) {
            self.inner.on_reports(now, &self.pending);
            self.pending.clear();
            self.pending_since = None;
        }
        self.refresh();
    }

    fn target_bitrate(&self) -> f64 {
        self.output
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
        self.refresh();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    fn stats(&self) -> EstimatorStats {
        self.inner.stats()
    }
}

impl<E: BandwidthEstimator> Guard<E> {
    /// The rate to give out now: the estimator's, under the held rate; a rise
    /// goes no higher than 1.5 × what arrives plus 10 kbit/s, and waits until
    /// that is known (a fall is never bounded: with little to send, say a
    /// muted camera, the rate stays).
    fn refresh(&mut self) {
        let mut target = self.inner.target_bitrate();
        if let Some(h) = self.held_bps {
            target = target.min(h);
        }
        if target > self.output {
            // Nothing known of what arrives yet: no rise.
            let bound = self
                .acked_bps_at_last()
                .map_or(self.output, |acked| self.output.max(1.5 * acked + 10_000.0));
            target = target.min(bound);
        }
        self.output = target.max(self.min_bps);
    }

    /// [`Guard::acked_bps`] at the last report.
    fn acked_bps_at_last(&self) -> Option<f64> {
        self.acked_bps(self.last_update?)
    }

    /// Queueing delay seen in the last batch, ms.
    #[cfg(test)]
    fn queue_ms(&self) -> f64 {
        self.queue_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::ConstantBitrate;

    /// An estimator that doubles at every report.
    struct Rising(f64);
    impl BandwidthEstimator for Rising {
        fn on_reports(&mut self, _: Instant, _: &[PacketReport]) {
            self.0 *= 2.0;
        }
        fn target_bitrate(&self) -> f64 {
            self.0
        }
    }

    /// Reports for `n` packets of 1200 bytes sent `gap` apart from `start`,
    /// each arriving `owd(i)` after it left (arrival times counted from `t0`).
    fn reports(
        t0: Instant,
        start: Instant,
        first_id: u64,
        n: usize,
        gap: Duration,
        owd: impl Fn(usize) -> Duration,
    ) -> Vec<PacketReport> {
        (0..n)
            .map(|i| {
                let departure = start + gap * i as u32;
                let id = first_id + i as u64;
                PacketReport {
                    ssrc: 1,
                    id,
                    rtp_sequence_number: id as u16,
                    is_twcc: true,
                    twcc_sequence_number: id as u16,
                    size: 1200,
                    arrived: true,
                    departure,
                    arrival: Some(departure.duration_since(t0) + owd(i)),
                    ecn: Default::default(),
                }
            })
            .collect()
    }

    #[test]
    fn a_growing_queue_holds_the_rate_under_what_arrives() {
        let t0 = Instant::now();
        let mut g = Guard::new(ConstantBitrate::new(5e6), 100_000.0);
        let gap = Duration::from_millis(10); // 1200 B / 10 ms = 960 kbit/s
                                             // Two seconds with no queue, then one in which the queue grows to 150 ms.
        for s in 0..3u32 {
            let start = t0 + Duration::from_secs(u64::from(s));
            let rs = reports(t0, start, u64::from(s) * 100, 100, gap, |i| {
                Duration::from_millis(20 + if s == 2 { 3 * i as u64 / 2 } else { 0 })
            });
            for chunk in rs.chunks(10) {
                let now = chunk.last().unwrap().departure + Duration::from_millis(200);
                g.on_reports(now, chunk);
            }
        }
        assert!(g.queue_ms() > QUEUE_LIMIT_MS, "{}", g.queue_ms());
        let t = g.target_bitrate();
        assert!(
            (700e3..=900e3).contains(&t),
            "held near 0.85 × 960 kbit/s: {t}"
        );
    }

    #[test]
    fn a_queue_that_stands_still_is_left_to_loss() {
        let t0 = Instant::now();
        let mut g = Guard::new(ConstantBitrate::new(5e6), 100_000.0);
        let gap = Duration::from_millis(10);
        // A second with no queue, then two behind 100 ms of someone else's queue.
        for s in 0..3u32 {
            let start = t0 + Duration::from_secs(u64::from(s));
            let rs = reports(t0, start, u64::from(s) * 100, 100, gap, |_| {
                Duration::from_millis(if s == 0 { 20 } else { 120 })
            });
            for chunk in rs.chunks(10) {
                let now = chunk.last().unwrap().departure + Duration::from_millis(200);
                g.on_reports(now, chunk);
            }
        }
        assert!(g.queue_ms() > QUEUE_LIMIT_MS, "{}", g.queue_ms());
        // Only the step into the queue counted as growth: one decrease at most,
        // and the rate still near what arrives (1.5 × bound), not ratcheted down.
        let t = g.target_bitrate();
        assert!(t >= 800e3, "{t}");
    }

    #[test]
    fn little_to_send_leaves_the_rate_where_it_was() {
        let t0 = Instant::now();
        let mut g = Guard::new(ConstantBitrate::new(1e6), 100_000.0);
        // 20 small packets a second: 38 kbit/s (a muted camera and audio).
        let mut rs = reports(t0, t0, 0, 60, Duration::from_millis(50), |_| {
            Duration::from_millis(20)
        });
        rs.iter_mut().for_each(|r| r.size = 240);
        for chunk in rs.chunks(5) {
            g.on_reports(
                chunk.last().unwrap().departure + Duration::from_millis(20),
                chunk,
            );
        }
        assert_eq!(g.target_bitrate(), 1e6);
    }

    #[test]
    fn the_rate_may_not_rise_past_one_and_a_half_times_what_arrives() {
        let t0 = Instant::now();
        let mut g = Guard::new(Rising(1e6), 100_000.0);
        let rs = reports(t0, t0, 0, 200, Duration::from_millis(10), |_| {
            Duration::from_millis(20)
        });
        for chunk in rs.chunks(10) {
            g.on_reports(
                chunk.last().unwrap().departure + Duration::from_millis(20),
                chunk,
            );
        }
        let t = g.target_bitrate();
        assert!((1.3e6..=1.6e6).contains(&t), "{t}");
    }

    #[test]
    fn the_estimator_sees_reports_in_windows() {
        struct Count(Vec<usize>);
        impl BandwidthEstimator for Count {
            fn on_reports(&mut self, _: Instant, r: &[PacketReport]) {
                self.0.push(r.len());
            }
            fn target_bitrate(&self) -> f64 {
                1e6
            }
        }
        let t0 = Instant::now();
        let mut g = Guard::new(Count(Vec::new()), 100_000.0);
        let rs = reports(t0, t0, 0, 100, Duration::from_millis(50), |_| {
            Duration::from_millis(20)
        });
        for chunk in rs.chunks(2) {
            g.on_reports(chunk.last().unwrap().departure, chunk);
        }
        assert!(
            !g.inner.0.is_empty() && g.inner.0.iter().all(|&n| n >= 10),
            "batches of {:?}",
            g.inner.0
        );
    }

    /// Records what reports reach the estimator.
    #[derive(Default)]
    struct Seen(std::sync::Arc<std::sync::Mutex<Vec<(u16, bool)>>>);
    impl BandwidthEstimator for Seen {
        fn on_reports(&mut self, _: Instant, reports: &[PacketReport]) {
            let mut seen = self.0.lock().unwrap();
            seen.extend(reports.iter().map(|r| (r.twcc_sequence_number, r.arrived)));
        }
        fn target_bitrate(&self) -> f64 {
            1e6
        }
    }

    #[test]
    fn a_packet_no_feedback_named_is_not_counted_lost() {
        let t0 = Instant::now();
        let seen = Seen::default();
        let out = std::sync::Arc::clone(&seen.0);
        let coverage = FeedbackCoverage::default();
        let mut g = Guard::new(seen, 100_000.0).with_coverage(coverage.clone());
        let mut rs = reports(t0, t0, 0, 40, Duration::from_millis(10), |_| {
            Duration::from_millis(20)
        });
        // 0–9: named by a feedback, 3 reported lost; 10–29: their feedback
        // was lost (the send history reports them lost); 30–39: named.
        for (i, r) in rs.iter_mut().enumerate() {
            r.arrived = !(i == 3 || (10..30).contains(&i));
            r.arrival = r.arrival.filter(|_| r.arrived);
        }
        coverage.mark(0, 10);
        coverage.mark(30, 10);
        g.on_reports(t0 + Duration::from_millis(500), &rs);
        // The batch goes on once it is old enough.
        g.on_reports(t0 + Duration::from_millis(1_100), &[]);
        let seen = out.lock().unwrap().clone();
        assert_eq!(seen.len(), 20, "{seen:?}");
        assert_eq!(seen.iter().filter(|(_, arrived)| !arrived).count(), 1);
        assert!(seen.contains(&(3, false)));
    }
}
