//! The TCP accept loop's own limit: open TCP connections per address, counted
//! from `accept` until the socket closes, whatever the connection does (a TLS
//! handshake, an HTTP request, a WebSocket). The WebSocket-level limit
//! ([`crate::ServerConfig::max_connections_per_ip`], answered with the documented
//! `rate_limited` error) only sees connections that got as far as an upgrade; this
//! one also bounds those that never send a request, or stall in a TLS handshake.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Connections one address may hold open beyond the WebSocket-level limit: room
/// for the over-limit connection that is told `rate_limited`, and for health checks.
pub(crate) const TCP_SLACK_PER_IP: u32 = 16;

/// Open TCP connections per address.
type Counts = Arc<Mutex<HashMap<IpAddr, u32>>>;

/// A TCP listener that closes at once a connection from an address that already
/// holds `cap` open ones.
pub(crate) struct CappedListener {
    tcp: TcpListener,
    cap: u32,
    counts: Counts,
}

impl CappedListener {
    /// Wraps `tcp`, allowing `cap` open connections per address.
    pub(crate) fn new(tcp: TcpListener, cap: u32) -> CappedListener {
        CappedListener {
            tcp,
            cap,
            counts: Counts::default(),
        }
    }

    /// The next connection within the limit (refused ones are closed and logged).
    pub(crate) async fn accept(&mut self) -> (Counted, SocketAddr) {
        loop {
            let (stream, remote) = match self.tcp.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors, typically: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            if let Some(slot) = Slot::take(&self.counts, remote.ip(), self.cap) {
                return (
                    Counted {
                        stream,
                        _slot: slot,
                    },
                    remote,
                );
            }
            tracing::warn!(%remote, cap = self.cap, "refused: too many open connections");
        }
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

impl axum::serve::Listener for CappedListener {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        CappedListener::accept(self).await
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        CappedListener::local_addr(self)
    }
}

/// One address's place under the cap, given back on drop.
struct Slot {
    counts: Counts,
    ip: IpAddr,
}

impl Slot {
    fn take(counts: &Counts, ip: IpAddr, cap: u32) -> Option<Slot> {
        let mut map = counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Slot {
            counts: Arc::clone(counts),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// A TCP stream that holds its address's place until it is dropped.
pub(crate) struct Counted {
    stream: TcpStream,
    _slot: Slot,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_capped_per_address_and_given_back() {
        let counts = Counts::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = Slot::take(&counts, a, 2).unwrap();
        let _second = Slot::take(&counts, a, 2).unwrap();
        assert!(Slot::take(&counts, a, 2).is_none());
        let _other = Slot::take(&counts, b, 2).expect("another address has its own places");
        drop(first);
        let _again = Slot::take(&counts, a, 2).expect("a closed connection frees its place");
        drop(_again);
        drop(_second);
        assert!(
            !counts.lock().unwrap().contains_key(&a),
            "empty entries are removed"
        );
    }
}
