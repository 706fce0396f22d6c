//! A pure audio jitter buffer: RTP packets in, one 20 ms frame's worth out per pop.

use std::collections::BTreeMap;

use super::jitter_delay::AdaptiveDelay;

/// What [`JitterBuffer::pop`] releases for one playout slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JitterOut {
    /// The next packet in sequence order: its payload (an Opus packet).
    Packet(Vec<u8>),
    /// The next packet in sequence is missing and its time has passed: run the
    /// decoder's loss concealment for one frame.
    Lost,
}

/// Counters for tests and call statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets accepted into the buffer.
    pub received: u64,
    /// Packets released as [`JitterOut::Packet`].
    pub released: u64,
    /// Slots released as [`JitterOut::Lost`].
    pub lost: u64,
    /// Packets dropped because their slot had already been played.
    pub late: u64,
    /// Packets dropped as duplicates.
    pub duplicate: u64,
    /// Packets dropped to respect the capacity or to drain a backlog.
    pub dropped: u64,
    /// Times the buffer restarted after a sequence or timestamp jump.
    pub resyncs: u64,
}

struct Held {
    ts: i64,
    payload: Vec<u8>,
}

/// Reorders RTP audio packets and releases them after a target delay.
///
/// Pure: no clock reads, every method takes `now_ms` (any monotonic millisecond
/// clock). Call [`pop`](Self::pop) once per 20 ms playout slot.
///
/// Timing: the first packet maps its RTP timestamp to its arrival time; a packet
/// with timestamp `ts` is due at `arrival₀ + (ts − ts₀)/clock + target_delay`.
/// Packets arriving earlier than that mapping predicts lower it (the delay is
/// measured from the fastest path). A missing packet is reported as
/// [`JitterOut::Lost`] once a later packet is due; packets for an already played
/// slot are dropped as late; duplicates are dropped; sequence numbers and
/// timestamps wrap (u16, u32). A sequence jump over 100 or a timestamp jump over
/// 2 s restarts the buffer (new stream). Above the capacity, or when more than
/// `target_delay/20 + 3` packets are overdue, the oldest are dropped so latency
/// stays bounded.
///
/// [`adaptive`](Self::adaptive) buffers move their target delay with the
/// jitter they measure ([`super::jitter_delay`]); a lower target takes effect
/// by dropping one packet per 20 ms step once two are due at once.
pub struct JitterBuffer {
    target_delay_ms: u64,
    capacity: usize,
    clock_hz: u32,
    packets: BTreeMap<i64, Held>,
    next_seq: Option<i64>,
    highest_seq: Option<i64>,
    last_ts: Option<i64>,
    /// Local time (ms) corresponding to RTP time 0 of the extended timestamp.
    base_ms: Option<i64>,
    stats: JitterStats,
    /// Moves the target with the measured jitter (`None`: fixed).
    adapt: Option<AdaptiveDelay>,
    /// 20 ms steps the target fell that a dropped packet has not yet made good.
    shrink_pending: u32,
}

impl Default for JitterBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl JitterBuffer {
    /// Default target delay, ms.
    pub const DEFAULT_DELAY_MS: u64 = 60;
    /// Default capacity, packets (1 s of 20 ms packets).
    pub const DEFAULT_CAPACITY: usize = 50;
    /// Sequence-number jump that restarts the buffer, packets.
    const MAX_SEQ_JUMP: i64 = 100;
    /// Timestamp jump (against arrival time) that restarts the buffer, ms.
    const MAX_TS_JUMP_MS: i64 = 2_000;

    /// A buffer with a 60 ms target delay, 50 packets, RTP clock 48 kHz (Opus).
    pub fn new() -> Self {
        Self::with_config(Self::DEFAULT_DELAY_MS, Self::DEFAULT_CAPACITY, 48_000)
    }

    /// A buffer with `target_delay_ms`, at most `capacity` packets (≥ 1) and an
    /// RTP clock of `clock_hz` (≥ 1) ticks per second.
    pub fn with_config(target_delay_ms: u64, capacity: usize, clock_hz: u32) -> Self {
        Self {
            target_delay_ms,
            capacity: capacity.max(1),
            clock_hz: clock_hz.max(1),
            packets: BTreeMap::new(),
            next_seq: None,
            highest_seq: None,
            last_ts: None,
            base_ms: None,
            stats: JitterStats::default(),
            adapt: None,
            shrink_pending: 0,
        }
    }

    /// A buffer like [`new`](Self::new) whose target delay follows the jitter
    /// it measures: 60–400 ms, starting at 60 ms ([`super::jitter_delay`]).
    pub fn adaptive() -> Self {
        Self {
            adapt: Some(AdaptiveDelay::default()),
            ..Self::new()
        }
    }

    /// Changes the target delay, ms (takes effect for packets not yet due).
    pub fn set_target_delay_ms(&mut self, delay_ms: u64) {
        self.target_delay_ms = delay_ms;
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The target delay now, ms.
    pub fn target_delay_ms(&self) -> u64 {
        self.target_delay_ms
    }

    /// The payload of the packet that comes next in sequence, if it is held:
    /// after [`JitterOut::Lost`], the packet whose in-band FEC may carry the
    /// lost one (RFC 6716 §2.1.7).
    pub fn peek_next(&self) -> Option<&[u8]> {
        let next = self.next_seq?;
        self.packets.get(&next).map(|h| h.payload.as_slice())
    }

    /// Packets currently held.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// True when no packet is held.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    fn reset(&mut self) {
        self.packets.clear();
        self.next_seq = None;
        self.highest_seq = None;
        self.last_ts = None;
        self.base_ms = None;
    }

    fn ts_ms(&self, ts: i64) -> i64 {
        ts * 1000 / i64::from(self.clock_hz)
    }

    fn due_ms(&self, ts: i64) -> i64 {
        self.base_ms.unwrap_or(0) + self.ts_ms(ts) + self.target_delay_ms as i64
    }

    /// Adds a packet that arrived at `now_ms`: `seq` and `rtp_ts` from its RTP
    /// header, `payload` its body.
    pub fn push(&mut self, seq: u16, rtp_ts: u32, payload: Vec<u8>, now_ms: u64) {
        let now = now_ms as i64;
        let (ext_seq, ext_ts) = match (self.highest_seq, self.last_ts) {
            (Some(h), Some(t)) => (
                h + i64::from(seq.wrapping_sub(h as u16) as i16),
                t + i64::from(rtp_ts.wrapping_sub(t as u32) as i32),
            ),
            _ => (i64::from(seq) + (1 << 20), i64::from(rtp_ts) + (1 << 40)),
        };
        if let (Some(h), Some(base)) = (self.highest_seq, self.base_ms) {
            let ts_jump = (base + self.ts_ms(ext_ts) - now).abs();
            if (ext_seq - h).abs() > Self::MAX_SEQ_JUMP || ts_jump > Self::MAX_TS_JUMP_MS {
                self.reset();
                self.stats.resyncs += 1;
                return self.push(seq, rtp_ts, payload, now_ms);
            }
        }
        // Late packets count most: they are what the delay must cover.
        let ts_ms = self.ts_ms(ext_ts);
        if let (Some(adapt), Some(base)) = (self.adapt.as_mut(), self.base_ms) {
            let delay = (now - base - ts_ms).max(0) as u64;
            if let Some(target) = adapt.record(delay, self.target_delay_ms) {
                if target < self.target_delay_ms {
                    self.shrink_pending += 1;
                } else {
                    self.shrink_pending = 0;
                }
                self.target_delay_ms = target;
            }
        }
        if self.next_seq.is_some_and(|n| ext_seq < n) {
            self.stats.late += 1;
            return;
        }
        if self.packets.contains_key(&ext_seq) {
            self.stats.duplicate += 1;
            return;
        }
        let base = now - self.ts_ms(ext_ts);
        if self.base_ms.is_none_or(|b| base < b) {
            self.base_ms = Some(base);
        }
        if self.highest_seq.is_none_or(|h| ext_seq > h) {
            self.highest_seq = Some(ext_seq);
            self.last_ts = Some(ext_ts);
        }
        self.packets.insert(
            ext_seq,
            Held {
                ts: ext_ts,
                payload,
            },
        );
        self.stats.received += 1;
        while self.packets.len() > self.capacity {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        if let Some((seq, _)) = self.packets.pop_first() {
            self.stats.dropped += 1;
            self.next_seq = Some(seq + 1);
        }
    }

    /// Releases what belongs to the playout slot at `now_ms`: the next packet if
    /// due, [`JitterOut::Lost`] if it is missing and a later one is due, or `None`
    /// if nothing is due yet (start-up, or an underrun: play silence or PLC).
    pub fn pop(&mut self, now_ms: u64) -> Option<JitterOut> {
        let now = now_ms as i64;
        // Drain a backlog (e.g. after a stall) so latency stays bounded.
        let max_overdue = (self.target_delay_ms / 20 + 3) as usize;
        let overdue = self
            .packets
            .values()
            .take_while(|p| self.due_ms(p.ts) <= now)
            .count();
        for _ in max_overdue..overdue {
            self.drop_oldest();
        }
        // A lower target: two due at once, so one goes.
        if self.shrink_pending > 0 && overdue.min(max_overdue) >= 2 {
            self.drop_oldest();
            self.shrink_pending -= 1;
        }
        let (&first, held) = self.packets.first_key_value()?;
        if self.due_ms(held.ts) > now {
            return None;
        }
        let next = *self.next_seq.get_or_insert(first);
        self.next_seq = Some(next + 1);
        if first == next {
            let held = self.packets.remove(&first)?;
            self.stats.released += 1;
            Some(JitterOut::Packet(held.payload))
        } else {
            self.stats.lost += 1;
            Some(JitterOut::Lost)
        }
    }
}

#[cfg(test)]
#[path = "jitter_tests.rs"]
mod tests;
