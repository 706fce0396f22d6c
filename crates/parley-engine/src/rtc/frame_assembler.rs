//! Reassembles H.264 access units from RTP packets (RFC 6184), releasing each
//! as soon as it is complete.
//!
//! webrtc-rs 0.21.1's `SampleBuilder` holds every frame until a packet of the
//! *next* frame arrives (it wants the next timestamp for the sample's
//! duration), so each frame reached the decoder one frame interval late: 33 ms
//! at 30 frames/s, on the first frame of a call and on every frame after. A
//! frame is complete when its packets are contiguous from the one after the
//! previous frame's last to one carrying the RTP marker bit (RFC 6184 §5.1:
//! set on the last packet of an access unit) or followed by a packet with
//! another timestamp. A gap waits for the missing packet (a NACK resend, RFC
//! 4585 §6.2.1) up to [`FrameAssembler::new`]'s delay or packet count; then
//! the damaged frame is dropped and the next frame reports
//! [`AssembledFrame::loss_before`], so the receiver asks for a keyframe.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::packetizer::Depacketizer as _;

/// Largest jump in sequence numbers, either way, taken as the same stream;
/// beyond it two packets in a row are needed to start over (RFC 3550 §A.1's
/// MAX_DROPOUT).
pub(crate) const MAX_JUMP: i64 = 3_000;

/// Most packets held while a frame is still arriving, in units of
/// [`FrameAssembler::new`]'s `max_packets`: a sender that never ends a frame
/// cannot make us hold more.
const HOLD_LIMIT_FACTOR: usize = 4;

/// One complete access unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssembledFrame {
    /// The access unit, Annex B (start-code delimited NAL units).
    pub data: Bytes,
    /// RTP timestamp, 90 kHz.
    pub rtp_timestamp: u32,
    /// Packets were dropped (lost, or unusable) since the previous frame.
    pub loss_before: bool,
}

/// One buffered RTP packet.
struct Held {
    timestamp: u32,
    marker: bool,
    payload: Bytes,
    arrived: Instant,
}

/// The reassembly buffer of one video track.
pub(crate) struct FrameAssembler {
    /// Extended sequence number (RFC 3550 §A.1: the 16-bit number unwrapped)
    /// → packet.
    held: BTreeMap<u64, Held>,
    /// The extended sequence number of the next frame's first packet, once
    /// known: packets before it are late duplicates.
    next: Option<u64>,
    /// The highest extended sequence number seen.
    highest: Option<u64>,
    /// Packets were dropped since the last frame released.
    lost: bool,
    /// The RTP timestamp of the last frame released.
    last_timestamp: Option<u32>,
    /// A packet that jumped more than [`MAX_JUMP`]: if the next one follows it,
    /// the stream starts over.
    probation: Option<u16>,
    max_delay: Duration,
    max_packets: usize,
}

impl FrameAssembler {
    /// A buffer that waits for a missing packet at most `max_delay` after the
    /// oldest packet it holds arrived, and holds at most `max_packets`.
    pub(crate) fn new(max_delay: Duration, max_packets: usize) -> Self {
        Self {
            held: BTreeMap::new(),
            next: None,
            highest: None,
            lost: false,
            last_timestamp: None,
            probation: None,
            max_delay,
            max_packets: max_packets.max(1),
        }
    }

    /// Adds one RTP packet: `seq` its sequence number, `timestamp` its RTP
    /// timestamp, `marker` its marker bit, `payload` its payload (padding
    /// removed).
    pub(crate) fn push(
        &mut self,
        now: Instant,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: Bytes,
    ) {
        if let Some(h) = self.highest {
            let delta = i64::from(seq.wrapping_sub(h as u16) as i16);
            if delta.abs() > MAX_JUMP {
                if self.probation != Some(seq.wrapping_sub(1)) {
                    self.probation = Some(seq);
                    return;
                }
                // Two in a row: the sender starts over (it restarted, or an
                // SFU switched sources without renumbering).
                self.held.clear();
                (self.next, self.highest, self.probation) = (None, None, None);
                self.lost = true;
            }
        }
        self.probation = None;
        let ext = self.unwrap(seq);
        if self.next.is_some_and(|n| ext < n) || self.held.contains_key(&ext) {
            return; // already released or dropped, or a duplicate
        }
        self.held.insert(
            ext,
            Held {
                timestamp,
                marker,
                payload,
                arrived: now,
            },
        );
    }

    /// The next complete frame, in order, if there is one; drops what waited
    /// too long for a missing packet.
    pub(crate) fn pop(&mut self, now: Instant) -> Option<AssembledFrame> {
        loop {
            let (&first, _) = self.held.first_key_value()?;
            // Before the first frame, the first packet held may yet be
            // preceded by one still on its way.
            let start = self.next.unwrap_or(first);
            let scan = match self.scan(start) {
                // Unless a later frame has begun: then we came in mid-frame.
                Scan::Unusable if self.next.is_none() && !self.later_frame_held(start) => {
                    Scan::Waiting
                }
                Scan::Unusable if self.next.is_none() => {
                    self.skip_damaged_frame(start);
                    continue;
                }
                scan => scan,
            };
            match scan {
                Scan::Frame(end) => {
                    let frame = self.release(start, end);
                    if let Some(f) = frame {
                        return Some(f);
                    }
                }
                Scan::Unusable => {
                    // Not the start of a frame (padding, or the middle of a
                    // frame whose start we never had): skip it.
                    let h = self.held.remove(&start);
                    if h.is_some_and(|h| !h.payload.is_empty()) {
                        self.lost = true;
                    }
                    self.next = Some(start + 1);
                }
                Scan::Waiting => {
                    if !self.give_up(start, now) {
                        return None;
                    }
                    self.skip_damaged_frame(start);
                }
            }
        }
    }

    /// When [`pop`](Self::pop), having returned `None`, gives up on the frame
    /// it waits for if nothing else arrives: a packet after the first missing
    /// one arrived, and the delay since then runs out (1 ms past it). `None`:
    /// nothing is held, or the frame is still arriving (nothing after the
    /// gap), so only a packet can change anything.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let (&first, _) = self.held.first_key_value()?;
        let mut gap = self.next.unwrap_or(first);
        while self.held.contains_key(&gap) {
            gap += 1;
        }
        let seen = self.held.range(gap..).map(|(_, h)| h.arrived).min()?;
        Some(seen + self.max_delay + Duration::from_millis(1))
    }

    /// Whether to stop waiting for the frame starting at `start`: a packet
    /// after its first missing one arrived more than the delay ago, or more
    /// than `max_packets` did; or far too many packets are held (a frame that
    /// never ends). A frame merely still arriving is waited for.
    fn give_up(&self, start: u64, now: Instant) -> bool {
        if self.held.len() > self.max_packets * HOLD_LIMIT_FACTOR {
            return true;
        }
        let mut gap = start;
        while self.held.contains_key(&gap) {
            gap += 1;
        }
        let (count, seen) = self
            .held
            .range(gap..)
            .fold((0usize, None::<Instant>), |(n, seen), (_, h)| {
                (n + 1, Some(seen.map_or(h.arrived, |s| s.min(h.arrived))))
            });
        let Some(seen) = seen else {
            return false; // nothing after the gap: still arriving
        };
        count > self.max_packets || now.saturating_duration_since(seen) > self.max_delay
    }

    /// Whether a packet with another timestamp than the one at `start` is held.
    fn later_frame_held(&self, start: u64) -> bool {
        let Some(ts) = self.held.get(&start).map(|h| h.timestamp) else {
            return false;
        };
        self.held.range(start..).any(|(_, h)| h.timestamp != ts)
    }

    /// Where the frame starting at `start` stands.
    fn scan(&self, start: u64) -> Scan {
        let Some(head) = self.held.get(&start) else {
            return Scan::Waiting;
        };
        if !H264Packet::default().is_partition_head(&head.payload) {
            return Scan::Unusable;
        }
        let mut i = start;
        while let Some(h) = self.held.get(&i) {
            if h.timestamp != head.timestamp {
                return Scan::Frame(i - 1); // the sender left the marker off
            }
            if h.marker {
                return Scan::Frame(i);
            }
            i += 1;
        }
        Scan::Waiting
    }

    /// Takes packets `start..=end` out and depacketizes them into a frame;
    /// `None` (and the packets counted lost) if they do not parse.
    fn release(&mut self, start: u64, end: u64) -> Option<AssembledFrame> {
        let mut depacketizer = H264Packet::default();
        let mut data = BytesMut::new();
        let mut ok = true;
        let mut rtp_timestamp = 0;
        for i in start..=end {
            let Some(h) = self.held.remove(&i) else {
                continue;
            };
            rtp_timestamp = h.timestamp;
            if !stap_a_well_formed(&h.payload) {
                // rtc-rtp 0.21.1 would index past a truncated one and panic.
                tracing::debug!("dropping a video frame: malformed STAP-A");
                ok = false;
                continue;
            }
            match depacketizer.depacketize(&h.payload) {
                Ok(b) => data.extend_from_slice(&b),
                Err(e) => {
                    tracing::debug!("dropping a video frame: {e}");
                    ok = false;
                }
            }
        }
        self.next = Some(end + 1);
        self.last_timestamp = Some(rtp_timestamp);
        if !ok || data.is_empty() {
            self.lost = true;
            return None;
        }
        Some(AssembledFrame {
            data: data.freeze(),
            rtp_timestamp,
            loss_before: std::mem::take(&mut self.lost),
        })
    }

    /// Gives up on the frame starting at `start` (a packet of it is missing):
    /// drops its packets and goes on from the first packet with another
    /// timestamp. If `start` itself is missing and the next packet held
    /// begins a new access unit, what was lost lay between two frames (a
    /// padding packet, or whole frames): that next frame is kept.
    fn skip_damaged_frame(&mut self, start: u64) {
        self.lost = true;
        if !self.held.contains_key(&start) {
            let next_held = self.held.range(start..).next();
            if let Some((&k, h)) = next_held {
                if Some(h.timestamp) != self.last_timestamp && starts_access_unit(&h.payload) {
                    self.next = Some(k);
                    return;
                }
            }
        }
        // The damaged frame's timestamp: its first packet's, or if that is the
        // one missing, the first packet's after the gap.
        let Some(ts) = self.held.range(start..).next().map(|(_, h)| h.timestamp) else {
            return;
        };
        let resume = self
            .held
            .range(start..)
            .find(|(_, h)| h.timestamp != ts)
            .map(|(&k, _)| k);
        match resume {
            Some(k) => {
                self.held.retain(|&i, _| i >= k);
                self.next = Some(k);
            }
            None => {
                // Every packet held is of the damaged frame.
                let last = self.held.last_key_value().map_or(start, |(&k, _)| k);
                self.held.clear();
                self.next = Some(last + 1);
            }
        }
    }

    /// `seq` extended to 64 bits against the highest seen (RFC 3550 §A.1).
    fn unwrap(&mut self, seq: u16) -> u64 {
        let ext = match self.highest {
            // Start well above zero so a reordered earlier packet stays positive.
            None => (1u64 << 32) + u64::from(seq),
            Some(h) => {
                let delta = i64::from(seq.wrapping_sub(h as u16) as i16);
                h.checked_add_signed(delta).unwrap_or(h)
            }
        };
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        ext
    }
}

/// Whether an RTP payload (RFC 6184 §5.2) begins an access unit: an SEI,
/// SPS, PPS or access unit delimiter, an aggregation (STAP-A), or a slice, or
/// the first fragment of one (FU-A), whose `first_mb_in_slice` is 0 (its
/// Exp-Golomb code is the single bit 1: the first bit after the NAL header).
fn starts_access_unit(payload: &[u8]) -> bool {
    let Some(&b0) = payload.first() else {
        return false;
    };
    let is_first_slice_or_param = |nal_type: u8, slice_header: Option<&u8>| match nal_type {
        6..=9 => true,
        1 | 5 => slice_header.is_some_and(|b| b & 0x80 != 0),
        _ => false,
    };
    match b0 & 0x1F {
        24 => true,
        28 => payload.get(1).is_some_and(|&fu| {
            fu & 0x80 != 0 && is_first_slice_or_param(fu & 0x1F, payload.get(2))
        }),
        t => is_first_slice_or_param(t, payload.get(1)),
    }
}

/// Whether a STAP-A payload's NAL unit sizes (RFC 6184 §5.7.1) stay within
/// it; `true` for any other payload.
fn stap_a_well_formed(payload: &[u8]) -> bool {
    if payload.first().is_none_or(|b| b & 0x1F != 24) {
        return true;
    }
    let mut at = 1;
    while at < payload.len() {
        let Some(size) = payload.get(at..at + 2) else {
            return false;
        };
        at += 2 + usize::from(u16::from_be_bytes([size[0], size[1]]));
        if at > payload.len() {
            return false;
        }
    }
    true
}

/// What [`FrameAssembler::scan`] found.
enum Scan {
    /// Complete through this packet.
    Frame(u64),
    /// The first packet cannot start a frame.
    Unusable,
    /// A packet is missing.
    Waiting,
}

#[cfg(test)]
#[path = "frame_assembler_tests.rs"]
mod tests;
