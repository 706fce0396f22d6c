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
//! It also caps the peer connection driver's sleep at [`DRIVER_WAKE_MS`]. webrtc-rs
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
}

impl BufferedRuntime {
    /// A runtime whose UDP sockets request `buffer_bytes` of send and receive buffer.
    pub fn new(buffer_bytes: usize) -> Arc<Self> {
        Arc::new(Self {
            inner: TokioRuntime,
            buffer_bytes,
            numbering: Arc::default(),
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
        self.inner
            .sleep(duration.min(Duration::from_millis(DRIVER_WAKE_MS)))
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
