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
//! again. As such a repeat, or part of the peer's next flight, leaves rtc-dtls
//! with no timer armed, our flight also goes again whenever the handshake has been
//! quiet for 1.5 s (neither side sent a new handshake datagram, and rtc-dtls did
//! not retransmit); else one lost resend, or a flight that arrived in part, leaves
//! both sides waiting for good. Every plaintext record we send is numbered by the
//! socket ([`Numbering`]), so a resend is never a replay to the peer and rtc-dtls's
//! own records are never left behind the peer's replay window. DTLS records are
//! told from STUN, RTP and TURN by their first byte (RFC 7983 §7); records inside
//! TURN ChannelData (RFC 8656 §12.4) are read as well. Once application data or
//! SRTP has gone both ways, both handshakes are over and the watch ends: from then
//! on a datagram costs a look at its first bytes. The pure part is
//! [`super::dtls_flights`]. Reproducer: docs/webrtc-rs-dtls-flights.md.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use webrtc::runtime::{AsyncUdpSocket, RecvMeta, Transmit};

use super::dtls_flights::{Flights, Numbering, Seen};

/// Longest sleep of a socket's resend timer while nothing is planned.
const IDLE_WAIT: Duration = Duration::from_secs(30);

/// A UDP socket that sends our DTLS flight again when the peer repeats its own
/// or the handshake goes quiet, and numbers our plaintext DTLS records (see the
/// module docs); everything else passes through to `inner` unchanged.
#[derive(Debug)]
pub(super) struct ResendingSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    /// False once the handshakes are over.
    watching: AtomicBool,
    flights: Mutex<Flights>,
    /// Shared by the sockets of one peer connection.
    numbering: Arc<Mutex<Numbering>>,
    /// Wakes the resend timer when a resend is planned, the watch ends or the
    /// socket is dropped (the timer holds only this and a weak reference).
    planned: Arc<Notify>,
    /// The waker of the last `poll_send` that found the socket full. While the
    /// watch lasts, sends hold this lock across the inner send, so a resend that
    /// finds the socket full (and so displaces the registered waker: tokio
    /// keeps one) wakes the right one.
    blocked_sender: Mutex<Option<Waker>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ResendingSocket {
    /// Wraps `inner`, numbering plaintext records with `numbering` (one per peer
    /// connection); inside a tokio runtime a task sends the resends that fall
    /// due, until the watch ends or the socket is dropped.
    pub(super) fn new(
        inner: Arc<dyn AsyncUdpSocket>,
        numbering: Arc<Mutex<Numbering>>,
    ) -> Arc<Self> {
        let socket = Arc::new(Self {
            inner,
            watching: AtomicBool::new(true),
            flights: Mutex::new(Flights::default()),
            numbering,
            planned: Arc::new(Notify::new()),
            blocked_sender: Mutex::new(None),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let planned = Arc::clone(&socket.planned);
            rt.spawn(resend_timer(Arc::downgrade(&socket), planned));
        }
        socket
    }

    /// Applies `see` to the watch unless it has ended; ends it on [`Seen::Over`].
    fn watch(&self, see: impl FnOnce(&mut Flights) -> Seen) -> Option<Vec<Vec<u8>>> {
        if !self.watching.load(Ordering::Relaxed) {
            return None;
        }
        let mut flights = lock(&self.flights);
        match see(&mut flights) {
            Seen::Nothing => None,
            Seen::Resend(datagrams) => Some(datagrams),
            Seen::Over => {
                self.watching.store(false, Ordering::Relaxed);
                *flights = Flights::default();
                drop(flights);
                self.planned.notify_one();
                None
            }
        }
    }

    /// Sends `datagrams` (our flight, numbered afresh) to `to` now if the socket
    /// can take them; one that would block is dropped (the handshake goes quiet
    /// and it goes again).
    fn resend(&self, to: SocketAddr, datagrams: Vec<Vec<u8>>) {
        let mut cx = Context::from_waker(Waker::noop());
        let mut blocked_sender = lock(&self.blocked_sender);
        let mut blocked = false;
        for mut d in datagrams {
            lock(&self.numbering).number(&mut d);
            let transmit = Transmit {
                destination: to,
                ecn: None,
                contents: &d,
                segment_size: None,
                src_ip: None,
            };
            match self.inner.poll_send(&mut cx, &transmit) {
                Poll::Ready(Err(e)) => tracing::debug!("resending a DTLS flight to {to}: {e}"),
                Poll::Pending => blocked = true,
                Poll::Ready(Ok(_)) => {}
            }
        }
        if blocked {
            if let Some(waker) = blocked_sender.take() {
                waker.wake();
            }
        }
        drop(blocked_sender);
        self.planned.notify_one();
        tracing::debug!("DTLS flight sent again to {to}");
    }

    /// `inner.poll_send`, noting the waker of a send that finds the socket full.
    fn send_inner(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        if !self.watching.load(Ordering::Relaxed) {
            return self.inner.poll_send(cx, transmit);
        }
        let mut blocked_sender = lock(&self.blocked_sender);
        let result = self.inner.poll_send(cx, transmit);
        if result.is_pending() {
            *blocked_sender = Some(cx.waker().clone());
        }
        result
    }
}

impl Drop for ResendingSocket {
    fn drop(&mut self) {
        // Lets the timer see the socket gone now rather than after IDLE_WAIT.
        self.planned.notify_one();
    }
}

/// Sends the resends of `socket` as they fall due; ends with the watch or the
/// socket. Holds the socket only while it sends.
async fn resend_timer(socket: std::sync::Weak<ResendingSocket>, planned: Arc<Notify>) {
    loop {
        let wait = {
            let Some(s) = socket.upgrade() else { return };
            if !s.watching.load(Ordering::Relaxed) {
                return;
            }
            let now = Instant::now();
            let (due, next) = {
                let mut flights = lock(&s.flights);
                (flights.due(now), flights.next_due())
            };
            for (to, flight) in due {
                s.resend(to, flight);
            }
            next.map_or(IDLE_WAIT, |t| t.saturating_duration_since(now))
        };
        // A notify_one meanwhile left a permit: no plan is missed.
        let _ = tokio::time::timeout(wait, planned.notified()).await;
    }
}

impl AsyncUdpSocket for ResendingSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        let step = transmit
            .segment_size
            .unwrap_or(transmit.contents.len())
            .max(1);
        let to = transmit.destination;
        // Plaintext DTLS (the handshake only) is numbered in a copy.
        let numbered = transmit
            .contents
            .chunks(step)
            .any(Numbering::concerns)
            .then(|| {
                let mut copy = transmit.contents.to_vec();
                let mut numbering = lock(&self.numbering);
                for d in copy.chunks_mut(step) {
                    numbering.number(d);
                }
                copy
            });
        let contents = numbered.as_deref().unwrap_or(transmit.contents);
        if self.watching.load(Ordering::Relaxed) {
            let now = Instant::now();
            let mut planned = false;
            for datagram in contents.chunks(step) {
                self.watch(|f| f.sent(to, datagram, now));
                planned |= Numbering::concerns(datagram);
            }
            if planned {
                self.planned.notify_one();
            }
        }
        match &numbered {
            Some(copy) => self.send_inner(
                cx,
                &Transmit {
                    destination: to,
                    ecn: transmit.ecn,
                    contents: copy,
                    segment_size: transmit.segment_size,
                    src_ip: transmit.src_ip,
                },
            ),
            None => self.send_inner(cx, transmit),
        }
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
                            self.resend(m.addr, ours);
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
