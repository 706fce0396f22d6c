//! Our last DTLS handshake flight sent again when the peer repeats its previous
//! one (RFC 6347 §4.2.4), around webrtc-rs 0.21.1's handshake.
//!
//! A peer that repeats its last flight has not received ours; RFC 6347 §4.2.4 has
//! the receiver of such a repeat retransmit its own flight at once. rtc-dtls 0.21.1
//! instead disarms its own retransmission timer whenever any handshake record
//! arrives, and a repeat of the peer's previous flight re-arms nothing
//! (`handshaker.rs`, `wait()`). So when one flight is lost — the server's flight 4
//! (ServerHello … ServerHelloDone) or the client's flight 5 — the other side's
//! retransmission reaches the sender of the lost flight about when its own timer
//! would have fired, disarms it, and from then on only the other side retransmits,
//! into a peer that ignores it; after 7 retransmissions its handshake errs and the
//! connection never comes up (the call ends at its connect timeout). With 5 %
//! random loss that was about one call in twenty.
//!
//! [`ResendingSocket`] wraps each UDP socket webrtc-rs uses and does what §4.2.4
//! asks from outside the DTLS stack: it keeps the handshake datagrams we sent as
//! our current flight, remembers the shapes of the peer's handshake datagrams, and
//! when one arrives again before the peer has sent anything new, sends our flight
//! again: as it was, but for fresh sequence numbers on its plaintext records (a
//! peer whose handshake is complete answers only a repeat its replay window
//! accepts; see [`SEQUENCE_GAP`]). As
//! such a repeat, or part of the peer's next flight, leaves rtc-dtls with no timer
//! armed, our flight also goes again whenever the handshake has been quiet for
//! 1.5 s (neither side sent a new handshake datagram, and rtc-dtls did not
//! retransmit); else one lost resend, or a flight that arrived in part, leaves
//! both sides waiting for good. DTLS records are told from
//! STUN, RTP and TURN by their first byte (RFC 7983 §7); records inside TURN
//! ChannelData (RFC 8656 §12.4) are read as well. The first application-data
//! record or SRTP packet we send ends the watch for the socket: our handshake is
//! over and nothing more is inspected. Reproducer: docs/webrtc-rs-dtls-flights.md.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash as _, Hasher as _};
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use webrtc::runtime::{AsyncUdpSocket, RecvMeta, Transmit};

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
/// How far above the highest epoch-0 record sequence number rtc-dtls has used
/// our resends number their epoch-0 records. A verbatim copy of a record the
/// peer already has is dropped by its replay window (RFC 6347 §4.1.2.6), and a
/// peer whose handshake is complete answers only a repeat it accepts; the gap
/// keeps rtc-dtls's own next records (numbered from where it stands) unseen and
/// inside the peer's 64-record window.
const SEQUENCE_GAP: u64 = 32;
/// Largest DTLS record sequence number (48 bits).
const MAX_SEQUENCE: u64 = (1 << 48) - 1;
/// Longest sleep of a socket's resend timer while it watches and nothing is due.
const IDLE_TICK: Duration = Duration::from_secs(1);

/// A DTLS peer as seen by one socket: its address, and the TURN channel number
/// when the records travel in ChannelData through a relay.
type PeerKey = (SocketAddr, Option<u16>);

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
fn unframe(datagram: &[u8]) -> (Option<u16>, &[u8]) {
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
    /// Highest epoch-0 record sequence number rtc-dtls has sent this peer.
    max_sequence: u64,
    /// Next epoch-0 sequence number a resend may use.
    next_sequence: u64,
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
        // Fresh sequence numbers for the plaintext records; encrypted ones
        // (the Finished) keep theirs, which their authentication covers.
        let mut seq = self
            .next_sequence
            .max(self.max_sequence.saturating_add(SEQUENCE_GAP));
        let flight = self
            .ours
            .iter()
            .map(|(_, d)| {
                let mut d = d.clone();
                let payload = unframe_mut(&mut d);
                for r in records(payload) {
                    if r.epoch == 0 && seq <= MAX_SEQUENCE {
                        payload[r.at + 5..r.at + 11].copy_from_slice(&seq.to_be_bytes()[2..]);
                        seq += 1;
                    }
                }
                d
            })
            .collect();
        self.next_sequence = seq;
        Some(flight)
    }
}

/// The handshakes one socket carries, by peer (pure: no I/O).
#[derive(Debug, Default)]
struct Flights {
    peers: HashMap<PeerKey, PeerFlights>,
}

/// What one datagram means for the watch.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// Nothing to do.
    Nothing,
    /// Our handshake is over: stop watching.
    Over,
    /// Send these datagrams (our flight) back to the peer.
    Resend(Vec<Vec<u8>>),
}

impl Flights {
    /// A datagram we send to `to` at `now`. Application data or SRTP from us
    /// ends the watch (what the peer sends does not: its handshake may be over
    /// before ours).
    fn sent(&mut self, to: SocketAddr, datagram: &[u8], now: Instant) -> Seen {
        let (channel, payload) = unframe(datagram);
        let id = match classify(payload) {
            Content::Secured => return Seen::Over,
            Content::Other => return Seen::Nothing,
            Content::Handshake(id) => id,
        };
        let peer = self.peers.entry((to, channel)).or_default();
        if peer.peer_moved_on {
            *peer = PeerFlights {
                seen: std::mem::take(&mut peer.seen),
                max_sequence: peer.max_sequence,
                next_sequence: peer.next_sequence,
                ..PeerFlights::default()
            };
        }
        for r in records(payload) {
            if r.epoch == 0 {
                peer.max_sequence = peer.max_sequence.max(r.sequence);
            }
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
    fn received(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) -> Seen {
        let (channel, payload) = unframe(datagram);
        let Content::Handshake(id) = classify(payload) else {
            return Seen::Nothing;
        };
        let peer = self.peers.entry((from, channel)).or_default();
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
    fn next_due(&self) -> Option<Instant> {
        self.peers.values().filter_map(|p| p.next_resend).min()
    }

    /// The resends due at `now`: each peer's address and our flight.
    fn due(&mut self, now: Instant) -> Vec<(SocketAddr, Vec<Vec<u8>>)> {
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

/// A UDP socket that sends our DTLS flight again when the peer repeats its own
/// (see the module docs); everything else passes through to `inner` unchanged.
#[derive(Debug)]
pub(super) struct ResendingSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    /// False once the handshake is over: the hot path then costs one load.
    watching: AtomicBool,
    flights: Mutex<Flights>,
}

impl ResendingSocket {
    /// Wraps `inner`; inside a tokio runtime a task sends the resends that fall
    /// due (waking when the next one does, or after [`IDLE_TICK`]), until the
    /// watch ends or the socket is dropped.
    pub(super) fn new(inner: Arc<dyn AsyncUdpSocket>) -> Arc<Self> {
        let socket = Arc::new(Self {
            inner,
            watching: AtomicBool::new(true),
            flights: Mutex::new(Flights::default()),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&socket);
            rt.spawn(async move {
                let mut wake = Instant::now() + IDLE_TICK;
                loop {
                    tokio::time::sleep_until(wake.into()).await;
                    let Some(socket) = weak.upgrade() else { break };
                    if !socket.watching.load(Ordering::Relaxed) {
                        break;
                    }
                    let now = Instant::now();
                    let (due, next) = {
                        let mut flights = socket.lock();
                        let due = flights.due(now);
                        (due, flights.next_due())
                    };
                    for (to, flight) in due {
                        socket.resend(to, &flight);
                    }
                    // A resend a datagram plans meanwhile goes at most
                    // IDLE_TICK late.
                    wake = next.map_or(now + IDLE_TICK, |t| t.min(now + IDLE_TICK));
                }
            });
        }
        socket
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Flights> {
        self.flights.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `see` to the watch unless it has ended; ends it on [`Seen::Over`].
    fn watch(&self, see: impl FnOnce(&mut Flights) -> Seen) -> Option<Vec<Vec<u8>>> {
        if !self.watching.load(Ordering::Relaxed) {
            return None;
        }
        let mut flights = self.lock();
        match see(&mut flights) {
            Seen::Nothing => None,
            Seen::Resend(datagrams) => Some(datagrams),
            Seen::Over => {
                self.watching.store(false, Ordering::Relaxed);
                flights.peers.clear();
                None
            }
        }
    }

    /// Sends `datagrams` to `to` now if the socket can take them; a resend that
    /// would block is dropped (the peer repeats its flight again).
    fn resend(&self, to: SocketAddr, datagrams: &[Vec<u8>]) {
        let mut cx = Context::from_waker(Waker::noop());
        for d in datagrams {
            let transmit = Transmit {
                destination: to,
                ecn: None,
                contents: d,
                segment_size: None,
                src_ip: None,
            };
            if let Poll::Ready(Err(e)) = self.inner.poll_send(&mut cx, &transmit) {
                tracing::debug!("resending a DTLS flight to {to}: {e}");
            }
        }
        tracing::debug!("DTLS flight sent again to {to}");
    }
}

impl AsyncUdpSocket for ResendingSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        if self.watching.load(Ordering::Relaxed) {
            let step = transmit
                .segment_size
                .unwrap_or(transmit.contents.len())
                .max(1);
            for datagram in transmit.contents.chunks(step) {
                self.watch(|f| f.sent(transmit.destination, datagram, Instant::now()));
            }
        }
        self.inner.poll_send(cx, transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let ready = self.inner.poll_recv(cx, bufs, meta);
        if let Poll::Ready(Ok(n)) = ready {
            if self.watching.load(Ordering::Relaxed) {
                let now = Instant::now();
                for (buf, m) in bufs.iter().zip(meta.iter()).take(n) {
                    let Some(filled) = buf.get(..m.len) else {
                        continue;
                    };
                    for datagram in filled.chunks(m.stride.max(1)) {
                        if let Some(ours) = self.watch(|f| f.received(m.addr, datagram, now)) {
                            self.resend(m.addr, &ours);
                        }
                    }
                }
            }
        }
        ready
    }

    fn max_gso_segments(&self) -> usize {
        self.inner.max_gso_segments()
    }

    fn max_gro_segments(&self) -> usize {
        self.inner.max_gro_segments()
    }
}

#[cfg(test)]
#[path = "dtls_resend_tests.rs"]
mod tests;
