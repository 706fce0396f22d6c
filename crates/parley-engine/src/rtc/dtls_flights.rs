//! The pure part of [`super::dtls_resend`]: DTLS records read from datagrams
//! (RFC 6347 §4.1; RFC 7983 §7; TURN ChannelData, RFC 8656 §12.4), what each
//! side's handshake flights look like to one socket, when ours must go again,
//! and the epoch-0 record numbers we send. No I/O, no clock reads.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash as _, Hasher as _};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// DTLS record content types (RFC 6347 §4.1; RFC 5246 §6.2.1).
const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
/// DTLS record header length, bytes (type, version, epoch, sequence number, length).
const RECORD_HEADER: usize = 13;
/// Datagrams kept as our current flight (a flight is a few datagrams).
const MAX_FLIGHT_DATAGRAMS: usize = 16;
/// Shapes of the peer's datagrams remembered per peer.
const MAX_SEEN: usize = 64;
/// Resends of one flight at most: about 20 s of them, within a call's 30 s
/// connect timeout.
const MAX_RESENDS: u32 = 20;
/// Shortest time between two resends of our flight: the datagrams of one
/// repeated flight arrive together and call for one resend.
const RESEND_SPACING: Duration = Duration::from_millis(250);
/// Our flight goes again when neither we nor the peer sent a handshake
/// datagram for this long: longer than rtc-dtls's own retransmission interval
/// (1 s), so this only acts when its timer has been disarmed.
const RESEND_INTERVAL: Duration = Duration::from_millis(1500);
/// Peers one socket follows the handshake of; datagrams from others are not
/// looked at (a socket talks DTLS to one peer; this bounds what a stranger
/// sending handshake-shaped datagrams can make it keep).
const MAX_PEERS: usize = 8;

/// A DTLS peer as seen by one socket: its address, and the TURN channel number
/// when the records travel in ChannelData through a relay.
pub(super) type PeerKey = (SocketAddr, Option<u16>);

/// What a datagram holds, as far as the handshake goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    /// Handshake or ChangeCipherSpec records; the value identifies the datagram
    /// up to record sequence numbers (the same flight sent again has the same
    /// one).
    Handshake(u64),
    /// Application data, or (S)RTP/RTCP: sent by us, our handshake is over.
    Secured,
    /// Anything else (STUN, an alert, a malformed record).
    Other,
}

/// The payload of a datagram sent or received on an ICE socket and the TURN
/// channel it was framed in, if any (ChannelData: channel number 0x4000-0x4FFF,
/// length, then the data).
pub(super) fn unframe(datagram: &[u8]) -> (Option<u16>, &[u8]) {
    if let [hi @ 0x40..=0x4F, lo, l1, l0, rest @ ..] = datagram {
        let len = usize::from(u16::from_be_bytes([*l1, *l0]));
        if let Some(data) = rest.get(..len) {
            return (Some(u16::from_be_bytes([*hi, *lo])), data);
        }
    }
    (None, datagram)
}

/// The payload of `datagram` as [`unframe`] finds it, writable.
fn unframe_mut(datagram: &mut [u8]) -> &mut [u8] {
    let (channel, payload) = unframe(datagram);
    let (start, len) = (usize::from(channel.is_some()) * 4, payload.len());
    &mut datagram[start..start + len]
}

/// One whole DTLS record of a payload (RFC 6347 §4.1).
#[derive(Debug, Clone, Copy)]
struct Record {
    /// Offset of its header in the payload, bytes.
    at: usize,
    kind: u8,
    epoch: u16,
    sequence: u64,
    /// Length of its body, bytes.
    len: usize,
}

/// The whole DTLS records of `payload`, in order; a truncated one ends the list.
fn records(payload: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut at = 0;
    while payload.len() >= at + RECORD_HEADER {
        let h = &payload[at..at + RECORD_HEADER];
        let len = usize::from(u16::from_be_bytes([h[11], h[12]]));
        if payload.len() < at + RECORD_HEADER + len {
            break;
        }
        let mut sequence = [0u8; 8];
        sequence[2..].copy_from_slice(&h[5..11]);
        out.push(Record {
            at,
            kind: h[0],
            epoch: u16::from_be_bytes([h[3], h[4]]),
            sequence: u64::from_be_bytes(sequence),
            len,
        });
        at += RECORD_HEADER + len;
    }
    out
}

/// Classifies a datagram's payload. The identity of a handshake datagram hashes
/// each record's type, version, epoch and length, and the content of epoch-0
/// (plaintext) records; not the sequence numbers, which change with every
/// retransmission, nor encrypted content, which changes with them.
fn classify(payload: &[u8]) -> Content {
    match payload.first() {
        Some(20..=63) => {}
        Some(128..=191) => return Content::Secured,
        _ => return Content::Other,
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut handshake = false;
    for r in records(payload) {
        match r.kind {
            APPLICATION_DATA => return Content::Secured,
            CHANGE_CIPHER_SPEC | HANDSHAKE => handshake = true,
            _ => {}
        }
        payload[r.at..r.at + 5].hash(&mut hasher);
        r.len.hash(&mut hasher);
        if r.epoch == 0 {
            payload[r.at + RECORD_HEADER..r.at + RECORD_HEADER + r.len].hash(&mut hasher);
        }
    }
    if handshake {
        Content::Handshake(hasher.finish())
    } else {
        Content::Other
    }
}

/// The handshake as one socket has seen it with one peer.
#[derive(Debug, Default)]
struct PeerFlights {
    /// Our current flight: each datagram's identity and its bytes as sent.
    ours: Vec<(u64, Vec<u8>)>,
    /// The peer sent something new since our flight: the next handshake datagram
    /// we send starts a new flight, and a repeat now is not a request for ours.
    peer_moved_on: bool,
    /// Identities of the peer's handshake datagrams, oldest first.
    seen: VecDeque<u64>,
    last_resend: Option<Instant>,
    /// When our flight goes again if the handshake stays quiet until then.
    next_resend: Option<Instant>,
    resends: u32,
}

impl PeerFlights {
    /// Our flight, counted as a resend at `now`, or `None` when the budget is
    /// spent or there is nothing to send.
    fn resend(&mut self, now: Instant) -> Option<Vec<Vec<u8>>> {
        if self.ours.is_empty() || self.resends >= MAX_RESENDS {
            self.next_resend = None;
            return None;
        }
        self.resends += 1;
        self.last_resend = Some(now);
        self.next_resend = Some(now + RESEND_INTERVAL);
        Some(self.ours.iter().map(|(_, d)| d.clone()).collect())
    }
}

/// The handshakes one socket carries, by peer.
#[derive(Debug, Default)]
pub(super) struct Flights {
    peers: HashMap<PeerKey, PeerFlights>,
    /// We have sent application data or SRTP: our handshake is complete.
    sent_secured: bool,
    /// The peer has: its handshake is complete too.
    received_secured: bool,
}

/// What one datagram means for the watch.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Seen {
    /// Nothing to do.
    Nothing,
    /// Both handshakes are over: stop watching.
    Over,
    /// Send these datagrams (our flight) back to the peer.
    Resend(Vec<Vec<u8>>),
}

impl Flights {
    /// The peer's entry, unless the socket already follows [`MAX_PEERS`] others.
    fn peer(&mut self, key: PeerKey) -> Option<&mut PeerFlights> {
        if self.peers.len() >= MAX_PEERS && !self.peers.contains_key(&key) {
            return None;
        }
        Some(self.peers.entry(key).or_default())
    }

    /// Application data or SRTP went one way: the watch ends once it has gone
    /// both ways (the DTLS server's handshake completes a flight before the
    /// client's, and its flight 6 may still be lost when it starts sending).
    fn secured(&mut self, by_us: bool) -> Seen {
        if by_us {
            self.sent_secured = true;
        } else {
            self.received_secured = true;
        }
        if self.sent_secured && self.received_secured {
            Seen::Over
        } else {
            Seen::Nothing
        }
    }

    /// A datagram we send to `to` at `now`.
    pub(super) fn sent(&mut self, to: SocketAddr, datagram: &[u8], now: Instant) -> Seen {
        let (channel, payload) = unframe(datagram);
        let id = match classify(payload) {
            Content::Secured => return self.secured(true),
            Content::Other => return Seen::Nothing,
            Content::Handshake(id) => id,
        };
        let Some(peer) = self.peer((to, channel)) else {
            return Seen::Nothing;
        };
        if peer.peer_moved_on {
            *peer = PeerFlights {
                seen: std::mem::take(&mut peer.seen),
                ..PeerFlights::default()
            };
        }
        if let Some(kept) = peer.ours.iter_mut().find(|(k, _)| *k == id) {
            // Our own retransmission: keep its fresher sequence numbers.
            kept.1 = datagram.to_vec();
        } else if peer.ours.len() < MAX_FLIGHT_DATAGRAMS {
            peer.ours.push((id, datagram.to_vec()));
        }
        peer.next_resend = Some(now + RESEND_INTERVAL);
        Seen::Nothing
    }

    /// A datagram received from `from` at `now`.
    pub(super) fn received(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) -> Seen {
        let (channel, payload) = unframe(datagram);
        let id = match classify(payload) {
            Content::Secured => return self.secured(false),
            Content::Other => return Seen::Nothing,
            Content::Handshake(id) => id,
        };
        let Some(peer) = self.peer((from, channel)) else {
            return Seen::Nothing;
        };
        if !peer.seen.contains(&id) {
            if peer.seen.len() == MAX_SEEN {
                peer.seen.pop_front();
            }
            peer.seen.push_back(id);
            peer.peer_moved_on = true;
            // Part of the peer's next flight may be all that came: if nothing
            // more does, ours goes again and the peer repeats its own.
            if peer.next_resend.is_some() {
                peer.next_resend = Some(now + RESEND_INTERVAL);
            }
            return Seen::Nothing;
        }
        // A repeat of a flight the peer sent before ours: it lacks ours.
        let spaced = peer
            .last_resend
            .is_none_or(|t| now.duration_since(t) >= RESEND_SPACING);
        let answer = !peer.peer_moved_on && spaced;
        match answer.then(|| peer.resend(now)).flatten() {
            Some(flight) => Seen::Resend(flight),
            None => Seen::Nothing,
        }
    }

    /// When the next resend falls due, if one is planned.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.peers.values().filter_map(|p| p.next_resend).min()
    }

    /// The resends due at `now`: each peer's address and our flight.
    pub(super) fn due(&mut self, now: Instant) -> Vec<(SocketAddr, Vec<Vec<u8>>)> {
        let mut out = Vec::new();
        for ((addr, _), peer) in &mut self.peers {
            if peer.next_resend.is_some_and(|t| t <= now) {
                if let Some(flight) = peer.resend(now) {
                    out.push((*addr, flight));
                }
            }
        }
        out
    }
}

/// The epoch-0 (plaintext) record numbers one peer connection sends: one
/// numbering shared by all its sockets (its one DTLS association may move
/// between them when ICE changes the pair), kept for its life.
///
/// A resent record needs a number the peer has not seen: a verbatim copy of one
/// it has is dropped by its replay window (RFC 6347 §4.1.2.6), and a peer whose
/// handshake is complete answers only a repeat it accepts. rtc-dtls numbers from
/// its own counter, which our resends do not move; so every epoch-0 record we
/// send, rtc-dtls's included, is numbered here: its own number, or one past the
/// last one sent if that is higher. The peer then never sees a number twice nor
/// one far behind its window. Encrypted records keep theirs (their
/// authentication covers them).
#[derive(Debug, Default)]
pub(super) struct Numbering {
    /// The lowest number the next epoch-0 record may carry.
    next: u64,
}

/// Largest DTLS record sequence number (48 bits).
const MAX_SEQUENCE: u64 = (1 << 48) - 1;

impl Numbering {
    /// Whether `datagram` holds a plaintext DTLS record, the only kind this
    /// numbers: a look at a few bytes, for the hot path.
    pub(super) fn concerns(datagram: &[u8]) -> bool {
        let payload = match datagram.first() {
            Some(20..=63) => datagram,
            Some(0x40..=0x4F) => unframe(datagram).1,
            _ => return false,
        };
        matches!(payload, [20..=63, _, _, 0, 0, ..])
    }

    /// Numbers the epoch-0 records of `datagram` in place.
    pub(super) fn number(&mut self, datagram: &mut [u8]) {
        let payload = unframe_mut(datagram);
        for r in records(payload).into_iter().filter(|r| r.epoch == 0) {
            let seq = r.sequence.max(self.next).min(MAX_SEQUENCE);
            if seq != r.sequence {
                payload[r.at + 5..r.at + 11].copy_from_slice(&seq.to_be_bytes()[2..]);
            }
            self.next = seq + 1;
        }
    }
}

#[cfg(test)]
#[path = "dtls_flights_tests.rs"]
mod tests;
