//! TURN over TCP and TLS for webrtc-rs 0.21.1, which speaks TURN over UDP only
//! (it skips `turns:` and `?transport=tcp` URLs: webrtc-rs/webrtc#848).
//!
//! Each such URL (RFC 7065: `turn:host[:port]?transport=tcp`, `turns:host[:port]`)
//! becomes a local UDP socket on 127.0.0.1 that webrtc-rs is told is a plain UDP
//! TURN server. For every local socket of webrtc-rs that talks to it, the shim
//! opens one TCP (or TLS over TCP) connection to the real server and carries the
//! datagrams over it unchanged: STUN messages as they are, ChannelData messages
//! padded to a multiple of 4 bytes (RFC 8656 §12.5; RFC 5766 §11.5), which is the
//! stream framing of RFC 8656 §3.1. The server sees one TURN client per
//! connection, as with any TURN-over-TCP client; the allocation's relayed
//! address is still UDP, so the remote peer reaches it as usual.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufWriter};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::IceServer;
use crate::{Error, Result};

/// Time allowed for the TCP connect and, with TLS, the handshake, ms.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Datagrams queued per connection while it connects or the stream is slow; more
/// are dropped as a congested UDP path would drop them.
const QUEUE: usize = 1024;
/// Kernel buffer of the shim's UDP socket, bytes.
const SOCKET_BUFFER_BYTES: usize = 4 << 20;

/// How the shim reaches the TURN server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamTransport {
    /// TURN over TCP (`?transport=tcp`).
    Tcp,
    /// TURN over TLS over TCP (`turns:`).
    Tls,
}

impl StreamTransport {
    /// The W3C webrtc-stats `relayProtocol` name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            StreamTransport::Tcp => "tcp",
            StreamTransport::Tls => "tls",
        }
    }
}

/// A TURN URL the shim serves: transport, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamTurnUrl {
    pub transport: StreamTransport,
    pub host: String,
    pub port: u16,
}

/// What an ICE server URL names (RFC 7064, RFC 7065).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceUrlKind {
    /// `stun:` (UDP).
    Stun,
    /// `turn:` over UDP.
    TurnUdp,
    /// `turn:…?transport=tcp`.
    TurnTcp,
    /// `turns:` (TLS over TCP).
    TurnTls,
}

/// An ICE server URL taken apart: kind, host (IPv6 without brackets) and port
/// (RFC 7065 defaults: 3478, 5349 for `turns:`). `None` for a URL that
/// [`super::check_ice_url`] refuses.
pub fn parse_ice_url(url: &str) -> Option<(IceUrlKind, String, u16)> {
    super::check_ice_url(url).ok()?;
    let (scheme, rest) = url.split_once(':')?;
    let (hostport, query) = match rest.split_once('?') {
        Some((hp, q)) => (hp, Some(q.to_ascii_lowercase())),
        None => (rest, None),
    };
    let (kind, default_port) = match (scheme.to_ascii_lowercase().as_str(), query.as_deref()) {
        ("stun", _) => (IceUrlKind::Stun, 3478),
        ("turn", Some("transport=tcp")) => (IceUrlKind::TurnTcp, 3478),
        ("turn", _) => (IceUrlKind::TurnUdp, 3478),
        ("turns", _) => (IceUrlKind::TurnTls, 5349),
        _ => return None,
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, tail) = v6.split_once(']')?;
        (h, tail.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    Some((kind, host.to_owned(), port))
}

/// Parses `url` if it is a TURN URL over TCP or TLS; `None` for every other URL
/// (UDP TURN, STUN), which webrtc-rs handles itself.
pub(crate) fn stream_turn_url(url: &str) -> Option<StreamTurnUrl> {
    let (kind, host, port) = parse_ice_url(url)?;
    let transport = match kind {
        IceUrlKind::TurnTcp => StreamTransport::Tcp,
        IceUrlKind::TurnTls => StreamTransport::Tls,
        IceUrlKind::Stun | IceUrlKind::TurnUdp => return None,
    };
    Some(StreamTurnUrl {
        transport,
        host,
        port,
    })
}

/// One running shim: the server it reaches, its local port, its task.
struct Shim {
    target: StreamTurnUrl,
    port: u16,
    task: JoinHandle<()>,
}

/// The running shims of one peer connection. Dropping it stops them and closes
/// their connections.
///
/// A shim holds no TURN credentials: webrtc-rs puts them in the TURN messages
/// (MESSAGE-INTEGRITY, RFC 8489 §14.5), which the shim carries unchanged, so
/// refreshed credentials need no change here ([`StreamTurnShims::map`] keeps
/// each server's shim and so its URL).
pub(crate) struct StreamTurnShims {
    /// CA certificates (DER) trusted for TLS besides the system's.
    extra_roots: Vec<Vec<u8>>,
    inner: std::sync::Mutex<Shims>,
}

/// What [`StreamTurnShims`] keeps behind its lock.
#[derive(Default)]
struct Shims {
    running: Vec<Shim>,
    /// The TLS client configuration, made when a `turns:` URL first needs it.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Drop for StreamTurnShims {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        for shim in &inner.running {
            shim.task.abort();
        }
    }
}

impl StreamTurnShims {
    /// Starts a shim for every TCP or TLS TURN URL in `servers` and returns the
    /// servers webrtc-rs should use instead: the same list, with each such URL
    /// replaced by `turn:127.0.0.1:PORT` (same username and credential).
    ///
    /// `extra_roots`: CA certificates (DER) trusted for TLS besides the system's.
    ///
    /// Errors: [`Error::Rtc`] if a local socket cannot be bound; [`Error::Invalid`]
    /// if an extra CA certificate cannot be parsed.
    pub(crate) async fn start(
        servers: &[IceServer],
        extra_roots: &[Vec<u8>],
    ) -> Result<(Vec<IceServer>, Self)> {
        let shims = Self {
            extra_roots: extra_roots.to_vec(),
            inner: std::sync::Mutex::new(Shims::default()),
        };
        let out = shims.map(servers)?;
        Ok((out, shims))
    }

    /// The servers webrtc-rs should use for `servers`, as [`StreamTurnShims::start`]
    /// returns them: each TCP or TLS TURN URL replaced by `turn:127.0.0.1:PORT` of
    /// the shim that reaches that server. A server a running shim already reaches
    /// keeps it (and so its URL: webrtc-rs then sees the same TURN URL with new
    /// credentials); another gets a new shim. The shims no longer named keep
    /// running until the peer connection ends (a live allocation may use them).
    ///
    /// Errors: [`Error::Rtc`] if a new shim's socket cannot be bound;
    /// [`Error::Invalid`] if an extra CA certificate cannot be parsed.
    pub(crate) fn map(&self, servers: &[IceServer]) -> Result<Vec<IceServer>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Shims { running, tls } = &mut *inner;
        let mut out = Vec::with_capacity(servers.len());
        // Ports given out in this list: a URL named twice gets two shims, as before.
        let mut used: Vec<u16> = Vec::new();
        for server in servers {
            let mut kept = server.clone();
            kept.urls.clear();
            for url in &server.urls {
                let Some(target) = stream_turn_url(url) else {
                    kept.urls.push(url.clone());
                    continue;
                };
                let reused = running
                    .iter()
                    .find(|s| s.target == target && !used.contains(&s.port));
                let port = match reused {
                    Some(shim) => shim.port,
                    None => {
                        let tls = match target.transport {
                            StreamTransport::Tcp => None,
                            StreamTransport::Tls => {
                                if tls.is_none() {
                                    *tls = Some(crate::tls::client_config(&self.extra_roots)?);
                                }
                                tls.clone()
                            }
                        };
                        let socket = local_socket()?;
                        let port = socket.local_addr().map_err(shim_error)?.port();
                        tracing::debug!(
                            "TURN over {} to {url}: shim on 127.0.0.1:{port}",
                            target.transport.name()
                        );
                        let task = tokio::spawn(run_shim(Arc::new(socket), target.clone(), tls));
                        running.push(Shim { target, port, task });
                        port
                    }
                };
                used.push(port);
                out.push(IceServer {
                    urls: vec![format!("turn:127.0.0.1:{port}?transport=udp")],
                    username: server.username.clone(),
                    credential: server.credential.clone(),
                });
            }
            if !kept.urls.is_empty() {
                out.push(kept);
            }
        }
        Ok(out)
    }

    /// The transport behind a relay candidate's TURN URL as webrtc-rs reports it
    /// (`turn:127.0.0.1:PORT…` for a shim), or `None` if it is not one of ours.
    pub(crate) fn transport_of(&self, url: &str) -> Option<StreamTransport> {
        let rest = url.split_once(':')?.1;
        let port: u16 = rest
            .strip_prefix("127.0.0.1:")?
            .split(['?', '/'])
            .next()?
            .parse()
            .ok()?;
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .running
            .iter()
            .find(|s| s.port == port)
            .map(|s| s.target.transport)
    }
}

/// Reads the CA certificates of a PEM file (`-----BEGIN CERTIFICATE-----` blocks)
/// for [`super::RtcConfig::turn_tls_roots`]; returns each as DER.
///
/// Errors: [`Error::Invalid`] naming the file if it cannot be read, holds a broken
/// PEM block, or holds no certificate.
pub fn load_pem_certificates(path: &std::path::Path) -> Result<Vec<Vec<u8>>> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::CertificateDer;
    let invalid = |why: String| Error::Invalid(format!("{}: {why}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| invalid(e.to_string()))?
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid(
            "no PEM certificate (BEGIN CERTIFICATE) in it".into(),
        ));
    }
    Ok(certs)
}

fn shim_error(e: io::Error) -> Error {
    Error::Rtc(format!("TURN over TCP/TLS: local socket: {e}"))
}

fn local_socket() -> Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(shim_error)?;
    // Best effort: the kernel may cap these.
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    s.set_nonblocking(true).map_err(shim_error)?;
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .map_err(shim_error)?;
    UdpSocket::from_std(s.into()).map_err(shim_error)
}

/// Receives webrtc-rs's datagrams and hands each to the connection of the local
/// socket it came from, opening that connection on first use (and again after it
/// broke).
async fn run_shim(
    socket: Arc<UdpSocket>,
    target: StreamTurnUrl,
    tls: Option<Arc<rustls::ClientConfig>>,
) {
    let target = Arc::new(target);
    let mut conns: HashMap<SocketAddr, mpsc::Sender<Bytes>> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                // An ICMP error from an earlier send; the socket itself is fine.
                tracing::trace!("TURN shim: {e}");
                continue;
            }
        };
        let tx = match conns.get(&from) {
            Some(tx) if !tx.is_closed() => tx,
            _ => {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(connection(
                    Arc::clone(&target),
                    tls.clone(),
                    from,
                    Arc::clone(&socket),
                    rx,
                ));
                conns.insert(from, tx);
                &conns[&from]
            }
        };
        if tx.try_send(Bytes::copy_from_slice(&buf[..n])).is_err() {
            tracing::trace!("TURN shim: queue to {} full, datagram dropped", target.host);
        }
    }
}

/// One local socket's connection to the TURN server.
async fn connection(
    target: Arc<StreamTurnUrl>,
    tls: Option<Arc<rustls::ClientConfig>>,
    client: SocketAddr,
    socket: Arc<UdpSocket>,
    rx: mpsc::Receiver<Bytes>,
) {
    let what = format!(
        "TURN over {} to {}:{}",
        target.transport.name(),
        target.host,
        target.port
    );
    let started = Instant::now();
    let connected = tokio::time::timeout(
        Duration::from_millis(CONNECT_TIMEOUT_MS),
        connect(&target, tls),
    )
    .await
    .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")));
    let stream = match connected {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("{what}: cannot connect: {e}");
            return;
        }
    };
    tracing::info!("{what}: connected in {} ms", started.elapsed().as_millis());
    let result = match stream {
        Stream::Tcp(s) => pump(s, client, &socket, rx).await,
        Stream::Tls(s) => pump(*s, client, &socket, rx).await,
    };
    match result {
        Ok(()) => tracing::debug!("{what}: closed"),
        Err(e) => tracing::warn!("{what}: connection lost: {e}"),
    }
}

enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

async fn connect(
    target: &StreamTurnUrl,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> io::Result<Stream> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port)).await?;
    tcp.set_nodelay(true)?;
    let Some(config) = tls else {
        return Ok(Stream::Tcp(tcp));
    };
    let name = rustls::pki_types::ServerName::try_from(target.host.clone())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    Ok(Stream::Tls(Box::new(stream)))
}

/// Carries datagrams both ways until either side ends. `Ok` when the shim stops.
async fn pump<S: AsyncRead + AsyncWrite>(
    stream: S,
    client: SocketAddr,
    socket: &UdpSocket,
    mut rx: mpsc::Receiver<Bytes>,
) -> io::Result<()> {
    let (mut reader, writer) = tokio::io::split(stream);
    let mut writer = BufWriter::new(writer);
    let upstream = async {
        while let Some(datagram) = rx.recv().await {
            write_frame(&mut writer, &datagram).await?;
            // Batch what is already queued into one flush.
            while let Ok(more) = rx.try_recv() {
                write_frame(&mut writer, &more).await?;
            }
            writer.flush().await?;
        }
        Ok(())
    };
    let downstream = async {
        let mut buf = Vec::with_capacity(65_536 + 4);
        loop {
            let n = read_frame(&mut reader, &mut buf).await?;
            // A full loopback receive buffer drops the datagram, as UDP would.
            let _ = socket.send_to(&buf[..n], client).await;
        }
    };
    tokio::select! {
        r = upstream => r,
        r = downstream => r,
    }
}

/// Bytes of zero padding a datagram needs on a stream: ChannelData (first two bits
/// 01) is padded to a multiple of 4 (RFC 8656 §12.5); STUN messages already are.
pub(crate) fn stream_padding(datagram: &[u8]) -> usize {
    if datagram.first().is_some_and(|b| b >> 6 == 1) {
        (4 - datagram.len() % 4) % 4
    } else {
        0
    }
}

/// The framing of a message on a stream from its first 4 bytes: (bytes on the
/// stream, bytes of the message without padding).
///
/// Errors: [`io::ErrorKind::InvalidData`] if it is neither STUN nor ChannelData.
pub(crate) fn frame_len(head: [u8; 4]) -> io::Result<(usize, usize)> {
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    match head[0] >> 6 {
        // STUN: 20-byte header + attributes (RFC 8489 §5).
        0 => Ok((20 + len, 20 + len)),
        // ChannelData: 4-byte header + data, padded on streams.
        1 => Ok((4 + len.next_multiple_of(4), 4 + len)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "TURN server sent neither STUN nor ChannelData (first byte {:#04x})",
                head[0]
            ),
        )),
    }
}

async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, datagram: &[u8]) -> io::Result<()> {
    w.write_all(datagram).await?;
    let pad = stream_padding(datagram);
    if pad > 0 {
        w.write_all(&[0u8; 3][..pad]).await?;
    }
    Ok(())
}

/// Reads one framed message into `buf`; returns its length without padding.
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut head = [0u8; 4];
    r.read_exact(&mut head).await?;
    let (on_stream, message) = frame_len(head)?;
    buf.clear();
    buf.extend_from_slice(&head);
    buf.resize(on_stream, 0);
    r.read_exact(&mut buf[4..]).await?;
    Ok(message)
}

#[cfg(test)]
mod tests;
