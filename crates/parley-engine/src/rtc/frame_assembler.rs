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
                    let oldest = self.held.values().map(|h| h.arrived).min()?;
                    let late = now.saturating_duration_since(oldest) > self.max_delay;
                    if !late && self.held.len() <= self.max_packets {
                        return None;
                    }
                    self.skip_damaged_frame(start);
                }
            }
        }
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
            match depacketizer.depacketize(&h.payload) {
                Ok(b) => data.extend_from_slice(&b),
                Err(e) => {
                    tracing::debug!("dropping a video frame: {e}");
                    ok = false;
                }
            }
        }
        self.next = Some(end + 1);
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
    /// timestamp.
    fn skip_damaged_frame(&mut self, start: u64) {
        self.lost = true;
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
