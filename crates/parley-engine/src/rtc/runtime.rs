//! A tokio runtime for webrtc-rs whose UDP sockets get large kernel buffers.
//!
//! With Linux's default UDP buffers (about 208 KiB) a fast SCTP sender overflows the
//! receiver's socket, packets are dropped and SCTP stalls for up to a second on each
//! retransmission timeout: 27–39 MB/s on loopback. With 4 MiB buffers the same
//! channel carries 280–335 MB/s (measured on the 2-core reference machine, see
//! `docs/architecture.md`). webrtc-rs's [`Runtime`] trait hands every socket to
//! `wrap_udp_socket` before use, so this wrapper sets `SO_RCVBUF`/`SO_SNDBUF` there and
//! delegates everything else to [`TokioRuntime`].
//!
//! It also caps the peer connection driver's sleep at [`DRIVER_WAKE_MS`] (at
//! [`SETUP_WAKE_MS`] while the connection sets up, see [`WakePace`]). webrtc-rs
//! 0.21.1 queues some packets without waking its event loop: TURN requests, every
//! packet sent through a TURN relay, replies to relayed checks, the DTLS ClientHello
//! after the selected pair changes. They leave only at the loop's next timer wake, up
//! to 200 ms later for each hop, so a relayed connectivity check and its answer take
//! 400 ms or more, a TURN request always leaves together with its own retransmission,
//! and relayed pairs behind symmetric NATs run out of checks before the TURN
//! permissions they need exist. The driver's timer is the only long sleeper (the
//! other uses are a 50 ms backstop and `close()`'s 100 ms wait, which is passed
//! through unchanged), and every wake re-checks its own deadlines, so waking early is
//! safe. Reproducer: docs/webrtc-rs-driver-wake.md.
//!
//! Each socket is also wrapped in a [`ResendingSocket`](super::dtls_resend), which
//! sends our DTLS flight again when the peer repeats its own (RFC 6347 §4.2.4): a
//! single lost handshake flight otherwise stalls webrtc-rs 0.21.1's handshake.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
    TokioRuntime,
};

/// Default requested socket buffer size, bytes (the kernel may cap it at
/// `net.core.rmem_max` / `wmem_max`).
pub const DEFAULT_SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// Longest sleep of the peer connection's event loop, ms: queued packets leave
/// within this bound (see the module docs).
pub const DRIVER_WAKE_MS: u64 = 5;

/// Longest sleep of the event loop while the connection sets up, ms: from when
/// it starts (or starts again) to connect, for at most [`SETUP_FAST_MS`], and
/// [`SETTLE_MS`] after it is connected. Each setup step (an ICE check and its
/// answer, the nomination, each DTLS flight, SCTP's INIT and COOKIE) is one
/// queued packet waiting for a wake: with [`DRIVER_WAKE_MS`] a data channel took
/// 20–28 ms to open on loopback, with this 8–10 ms (Chromium: 10–17 ms;
/// BENCHMARKS.md, "Setup against Chromium"). Not for the whole call: each
/// wake costs CPU.
pub const SETUP_WAKE_MS: u64 = 1;

/// How long after the connection comes up the event loop keeps
/// [`SETUP_WAKE_MS`], ms: the data channels' SCTP handshake follows DTLS.
pub const SETTLE_MS: u64 = 500;

/// Longest time the event loop keeps [`SETUP_WAKE_MS`] while a connection is
/// not up, ms: a connection that takes longer (a dead path) is not worth the
/// wakes.
pub const SETUP_FAST_MS: u64 = 5_000;

/// How fast the event loop of one peer connection wakes: at
/// [`SETUP_WAKE_MS`] while it sets up, at [`DRIVER_WAKE_MS`] otherwise. Shared
/// by the runtime and the peer connection's event handler, which reports the
/// connection state.
#[derive(Debug)]
pub struct WakePace {
    start: std::time::Instant,
    /// Until when (ms since `start`) the loop wakes fast.
    fast_until_ms: std::sync::atomic::AtomicU64,
}

impl Default for WakePace {
    fn default() -> Self {
        Self {
            start: std::time::Instant::now(),
            fast_until_ms: std::sync::atomic::AtomicU64::new(SETUP_FAST_MS),
        }
    }
}

impl WakePace {
    /// The connection is up (`true`: wake fast for [`SETTLE_MS`] more) or is
    /// setting up again (`false`: wake fast until it is up, at most
    /// [`SETUP_FAST_MS`]).
    pub fn connected(&self, up: bool) {
        let until = self.elapsed_ms() + if up { SETTLE_MS } else { SETUP_FAST_MS };
        self.fast_until_ms
            .store(until, std::sync::atomic::Ordering::Relaxed);
    }

    /// The connection failed or closed: no more fast wakes.
    pub fn stopped(&self) {
        self.fast_until_ms
            .store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// The longest sleep now.
    fn cap(&self) -> Duration {
        let fast = self.elapsed_ms()
            < self
                .fast_until_ms
                .load(std::sync::atomic::Ordering::Relaxed);
        Duration::from_millis(if fast { SETUP_WAKE_MS } else { DRIVER_WAKE_MS })
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// `close()`'s wait for the driver to hand over its TURN releases
/// (`DRIVER_STOP_TIMEOUT` in webrtc-rs 0.21.1): a real timeout, not a loop timer.
const CLOSE_WAIT: Duration = Duration::from_millis(100);

/// [`TokioRuntime`] plus socket buffer sizing, the driver wake cap and DTLS flight
/// resends.
#[derive(Debug)]
pub struct BufferedRuntime {
    inner: TokioRuntime,
    buffer_bytes: usize,
    /// The DTLS record numbering all this runtime's sockets share (one runtime
    /// serves one peer connection).
    numbering: Arc<std::sync::Mutex<super::dtls_flights::Numbering>>,
    /// How long the driver may sleep now.
    pace: Arc<WakePace>,
}

impl BufferedRuntime {
    /// A runtime whose UDP sockets request `buffer_bytes` of send and receive
    /// buffer, its driver waking as `pace` says.
    pub fn new(buffer_bytes: usize, pace: Arc<WakePace>) -> Arc<Self> {
        Arc::new(Self {
            inner: TokioRuntime,
            buffer_bytes,
            numbering: Arc::default(),
            pace,
        })
    }
}

impl Runtime for BufferedRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let sock = socket2::SockRef::from(&socket);
        // Best effort: a kernel that refuses a size still gives a working socket.
        if let Err(e) = sock.set_recv_buffer_size(self.buffer_bytes) {
            tracing::debug!("SO_RCVBUF {}: {e}", self.buffer_bytes);
        }
        if let Err(e) = sock.set_send_buffer_size(self.buffer_bytes) {
            tracing::debug!("SO_SNDBUF {}: {e}", self.buffer_bytes);
        }
        Ok(super::dtls_resend::ResendingSocket::new(
            self.inner.wrap_udp_socket(socket)?,
            Arc::clone(&self.numbering),
        ))
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> std::time::Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        if duration == CLOSE_WAIT {
            return self.inner.sleep(duration);
        }
        self.inner.sleep(duration.min(self.pace.cap()))
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio+buffers"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_wakes_fast_only_while_the_connection_sets_up() {
        let fast = Duration::from_millis(SETUP_WAKE_MS);
        let slow = Duration::from_millis(DRIVER_WAKE_MS);
        let pace = WakePace::default();
        assert_eq!(pace.cap(), fast, "a new connection sets up");
        pace.connected(true);
        assert_eq!(pace.cap(), fast, "settling");
        pace.fast_until_ms
            .store(0, std::sync::atomic::Ordering::Relaxed); // settled
        assert_eq!(pace.cap(), slow);
        pace.connected(false);
        assert_eq!(pace.cap(), fast, "setting up again (an ICE restart)");
        pace.stopped();
        assert_eq!(pace.cap(), slow, "failed or closed");
    }
}
