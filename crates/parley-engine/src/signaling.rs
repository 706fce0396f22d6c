//! The signaling client: one WebSocket to `parley-signal`, authenticated with our
//! Ed25519 key, reconnecting with exponential backoff.
//!
//! One task owns the socket. Callers send [`ClientMessage`]s through a bounded queue
//! ([`OUTBOUND_QUEUE`]) and read [`SignalEvent`]s from another ([`INBOUND_QUEUE`]).
//! The protocol is documented in `docs/protocol.md`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use futures_util::{SinkExt, StreamExt};
use parley_proto::identity::{decode_b64url, encode_b64url};
use parley_proto::{
    sign_challenge, sign_challenge_bound, CallKind, ClientMessage, PeerId, ResumedCall,
    ServerMessage, BOUND_AUTH_PROTOCOL_VERSION, SFU_PROTOCOL_VERSION,
};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::rtc::IceServer;
use crate::{Error, Result};

/// Outbound message queue capacity, messages.
pub const OUTBOUND_QUEUE: usize = 256;
/// Inbound event queue capacity, events.
pub const INBOUND_QUEUE: usize = 256;
/// First reconnect delay, ms; doubles up to [`MAX_BACKOFF_MS`].
pub const MIN_BACKOFF_MS: u64 = 250;
/// Longest reconnect delay, ms.
pub const MAX_BACKOFF_MS: u64 = 8_000;
/// How long connect + authentication may take, ms.
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// How often the client pings the server when it has sent nothing else, ms
/// (WebSocket ping, RFC 6455 §5.5.2).
pub const KEEPALIVE_MS: u64 = 3_000;
/// A connection that has brought nothing (no message, no pong) for this long is
/// dead and is dropped and made again, ms: a TCP connection whose local address
/// went away (the laptop changed networks) otherwise hangs for minutes.
pub const SILENCE_LIMIT_MS: u64 = 8_000;

type Ws = WebSocketStream<Box<dyn Stream>>;

/// The transport under the WebSocket: TCP for `ws://`, TLS over TCP for `wss://`.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

/// Extra CA certificates (DER) trusted for `wss://` besides the system's.
static EXTRA_ROOTS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Trusts `ders` (DER CA certificates, e.g. from
/// [`crate::rtc::load_pem_certificates`]) for `wss://` signaling servers from now
/// on in this process, besides the system's CAs: a self-hosted server with its
/// own CA, or a test CA.
pub fn trust_extra_ca(ders: Vec<Vec<u8>>) {
    *EXTRA_ROOTS.lock().unwrap_or_else(PoisonError::into_inner) = ders;
}

/// Opens TCP, and TLS for `wss://` (checking the server's certificate against
/// its host name), under the WebSocket handshake of `url`.
async fn open_ws(url: &str) -> Result<Ws> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let bad = |why: String| Error::Signaling(format!("cannot reach signaling server {url}: {why}"));
    let request = url.into_client_request().map_err(|e| bad(e.to_string()))?;
    let uri = request.uri().clone();
    let tls = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => return Err(bad("the URL must start with ws:// or wss://".into())),
    };
    let host = uri.host().ok_or_else(|| bad("no host in the URL".into()))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| bad(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = if tls {
        let roots = EXTRA_ROOTS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let config = crate::tls::client_config(&roots)?;
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| bad(format!("bad host name {host:?}: {e}")))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| bad(format!("TLS: {e}")))?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let (ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| bad(e.to_string()))?;
    Ok(ws)
}

/// How a connection treats its server: the one the user chose, or the embedded
/// server of a peer found on the network, trusted with nothing more than
/// reaching that peer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Trust {
    /// The user's own: a plain sign-in (protocol 4 is all it needs, so a server
    /// older than 5 works), its STUN/TURN servers taken.
    Chosen,
    /// The server of this owner ([`SignalingClient::join`]): the sign-in is
    /// bound to the owner (protocol 5, docs/protocol.md §3.1), so what we sign
    /// there signs us in nowhere else; the STUN/TURN servers it hands out are
    /// ignored.
    OwnedBy(PeerId),
}

impl Trust {
    fn takes_ice_servers(&self) -> bool {
        matches!(self, Trust::Chosen)
    }
}

/// What the signaling connection reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignalEvent {
    /// (Re)connected and authenticated as `id`.
    Connected {
        /// Our peer id, as the server confirmed it.
        id: PeerId,
    },
    /// The connection dropped; a reconnect is scheduled in `retry_in_ms`.
    Disconnected {
        /// Why.
        reason: String,
        /// Delay before the next attempt, ms.
        retry_in_ms: u64,
    },
    /// A message from the server.
    Message(ServerMessage),
}

/// Handle to the signaling connection. Cloning shares it; when every handle is dropped
/// (or [`close`](Self::close) is called) the connection task closes the socket and ends.
#[derive(Clone)]
pub struct SignalingClient {
    out: mpsc::Sender<ClientMessage>,
    id: PeerId,
    watch: watch::Sender<Vec<PeerId>>,
    stop: watch::Sender<bool>,
    ice: watch::Receiver<Vec<IceServer>>,
    /// Network changes the connection has acted on (see `network_changes`).
    net_handled: watch::Receiver<u64>,
    held: HeldCalls,
    key: Arc<SigningKey>,
}

/// The accepted calls this client holds, by call id: listed in `resume` after
/// every (re)connect.
type HeldCalls = Arc<Mutex<HashMap<String, ResumedCall>>>;

/// While alive, a call is listed in the `resume` sent after every reconnect, so
/// the server keeps it (or re-creates it after a restart) and still relays its
/// hangup, offers and candidates. Drop it when the call ends.
#[must_use = "the call is listed only while the hold lives"]
pub struct CallHold {
    held: HeldCalls,
    call_id: String,
}

impl Drop for CallHold {
    fn drop(&mut self) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.call_id);
    }
}

impl SignalingClient {
    /// Connects to `url` (`ws://host:port/ws`, or `wss://` with TLS checked against
    /// the system's CAs and [`trust_extra_ca`]), authenticates with `key` and keeps the
    /// connection up, reconnecting with backoff if it drops.
    ///
    /// Errors: [`Error::Signaling`] if the first connection or authentication fails
    /// (server unreachable, wrong protocol version, refused key): a caller learns at once
    /// that the server is unusable instead of waiting on retries.
    pub async fn connect(
        url: &str,
        key: SigningKey,
    ) -> Result<(SignalingClient, mpsc::Receiver<SignalEvent>)> {
        Self::connect_as(url, key, Trust::Chosen).await
    }

    /// As [`SignalingClient::connect`], for the embedded server of `owner` found
    /// on the local network, trusted only to reach its owner: as
    /// [`SignalingClient::join`] (sign-in bound to `owner`, its STUN/TURN servers
    /// ignored), but waiting for the first sign-in. Errors: as `connect`; a
    /// server not run by `owner` refuses the sign-in.
    pub async fn connect_nearby(
        url: &str,
        key: SigningKey,
        owner: PeerId,
    ) -> Result<(SignalingClient, mpsc::Receiver<SignalEvent>)> {
        Self::connect_as(url, key, Trust::OwnedBy(owner)).await
    }

    async fn connect_as(
        url: &str,
        key: SigningKey,
        trust: Trust,
    ) -> Result<(SignalingClient, mpsc::Receiver<SignalEvent>)> {
        let ws = tokio::time::timeout(
            Duration::from_millis(CONNECT_TIMEOUT_MS),
            connect_and_auth(url, &key, &trust),
        )
        .await
        .map_err(|_| Error::Signaling(format!("{url}: timed out connecting")))??;
        Ok(Self::spawn(url, key, Some(ws), trust))
    }

    /// Starts signing in to the embedded server of `owner`, found on the local
    /// network at `url` (`ws://ip:port/ws`), and returns at once:
    /// [`SignalEvent::Connected`] arrives when the sign-in succeeds,
    /// [`SignalEvent::Disconnected`] for each failed attempt (it keeps trying
    /// with backoff until closed). The sign-in is bound to `owner`
    /// (docs/protocol.md §3.1), and the STUN/TURN servers it hands out are
    /// ignored ([`SignalingClient::ice_servers`] stays empty): such a server is
    /// trusted only to reach its owner.
    pub fn join(
        url: &str,
        key: SigningKey,
        owner: PeerId,
    ) -> (SignalingClient, mpsc::Receiver<SignalEvent>) {
        Self::spawn(url, key, None, Trust::OwnedBy(owner))
    }

    /// Starts the connection task, on `first` if already signed in.
    fn spawn(
        url: &str,
        key: SigningKey,
        first: Option<Ws>,
        trust: Trust,
    ) -> (SignalingClient, mpsc::Receiver<SignalEvent>) {
        let id = PeerId::from_public_key(&key.verifying_key());
        let signer = Arc::new(key.clone());
        let (out_tx, out_rx) = mpsc::channel(OUTBOUND_QUEUE);
        let (ev_tx, ev_rx) = mpsc::channel(INBOUND_QUEUE);
        let (watch_tx, watch_rx) = watch::channel(Vec::new());
        let (stop_tx, stop_rx) = watch::channel(false);
        let (ice_tx, ice_rx) = watch::channel(Vec::new());
        let held = HeldCalls::default();
        let net = crate::netwatch::subscribe();
        let (net_handled_tx, net_handled) = watch::channel(*net.borrow());
        if first.is_some() {
            let _ = ev_tx.try_send(SignalEvent::Connected { id: id.clone() });
        }
        let task = ConnectionTask {
            url: url.to_owned(),
            key,
            trust,
            out_rx,
            events: ev_tx,
            watch: watch_rx,
            stop: stop_rx,
            ice: ice_tx,
            held: Arc::clone(&held),
            net,
            net_handled: net_handled_tx,
        };
        tokio::spawn(task.run(first));
        (
            SignalingClient {
                out: out_tx,
                id,
                watch: watch_tx,
                stop: stop_tx,
                ice: ice_rx,
                net_handled,
                held,
                key: signer,
            },
            ev_rx,
        )
    }

    /// Our peer id.
    pub fn id(&self) -> &PeerId {
        &self.id
    }

    /// Our identity key, which signs our session descriptions (docs/protocol.md §6.3).
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The STUN/TURN servers the server handed out last (`ice_servers`,
    /// docs/protocol.md §5.1), with TURN credentials that are still fresh; empty
    /// when it sent none. A peer connection uses them unless its user set their own.
    pub fn ice_servers(&self) -> Vec<IceServer> {
        self.ice.borrow().clone()
    }

    /// Waits up to `timeout` for the server's `ice_servers` (sent right after
    /// `welcome` by a server that has any) and returns them; empty if none came.
    pub async fn wait_for_ice_servers(&self, timeout: Duration) -> Vec<IceServer> {
        let mut rx = self.ice.clone();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|v| !v.is_empty())).await;
        self.ice_servers()
    }

    /// Queues a message for the server. Messages queued while disconnected are sent
    /// after the reconnect.
    ///
    /// Errors: [`Error::Signaling`] once the connection task has ended.
    pub async fn send(&self, msg: ClientMessage) -> Result<()> {
        self.out
            .send(msg)
            .await
            .map_err(|_| Error::Signaling("signaling connection closed".into()))
    }

    /// Local network changes (an address went away, [`crate::netwatch`]) that
    /// this connection has acted on, counted from the start of the process: it
    /// moves once the socket that may have been bound to the old address is
    /// dropped, so a message sent after seeing it goes out on a new connection.
    /// Calls restart ICE on it.
    pub fn network_changes(&self) -> watch::Receiver<u64> {
        let mut rx = self.net_handled.clone();
        // Changes before this call are not news to the caller.
        rx.mark_unchanged();
        rx
    }

    /// Sets the contact ids whose presence we watch; re-sent after every reconnect.
    pub async fn watch(&self, ids: Vec<PeerId>) -> Result<()> {
        self.watch.send_replace(ids.clone());
        self.send(ClientMessage::Watch { ids }).await
    }

    /// Lists the accepted call `call_id` with `peer` in every `resume` until the
    /// returned hold is dropped (docs/protocol.md §6.2).
    pub fn hold_call(&self, call_id: &str, peer: &PeerId, kind: CallKind) -> CallHold {
        let call = ResumedCall {
            call_id: call_id.to_owned(),
            peer: peer.clone(),
            kind,
        };
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(call_id.to_owned(), call);
        CallHold {
            held: Arc::clone(&self.held),
            call_id: call_id.to_owned(),
        }
    }

    /// Closes the socket (after sending what is queued) and stops reconnecting.
    pub fn close(&self) {
        let _ = self.stop.send(true);
    }
}

async fn connect_and_auth(url: &str, key: &SigningKey, trust: &Trust) -> Result<Ws> {
    let mut ws = open_ws(url).await?;
    let hello = ClientMessage::Hello {
        protocol: match trust {
            Trust::Chosen => SFU_PROTOCOL_VERSION,
            Trust::OwnedBy(_) => BOUND_AUTH_PROTOCOL_VERSION,
        },
        public_key: encode_b64url(key.verifying_key().as_bytes()),
    };
    send_ws(&mut ws, &hello).await?;
    let nonce = match recv_ws(&mut ws).await? {
        ServerMessage::Challenge { nonce, .. } => decode_b64url(&nonce)
            .map_err(|e| Error::Signaling(format!("bad challenge from server: {e}")))?,
        ServerMessage::Error { code, message, .. } => {
            return Err(Error::Refused {
                code: code.as_str().to_owned(),
                message,
            })
        }
        other => {
            return Err(Error::Signaling(format!(
                "expected challenge, got {}",
                other.type_name()
            )))
        }
    };
    let auth = match trust {
        Trust::OwnedBy(owner) => ClientMessage::Auth {
            signature: sign_challenge_bound(key, &nonce, owner),
            owner: Some(owner.clone()),
        },
        Trust::Chosen => ClientMessage::Auth {
            signature: sign_challenge(key, &nonce),
            owner: None,
        },
    };
    send_ws(&mut ws, &auth).await?;
    match recv_ws(&mut ws).await? {
        ServerMessage::Welcome { .. } => Ok(ws),
        ServerMessage::Error { code, message, .. } => Err(Error::Refused {
            code: code.as_str().to_owned(),
            message,
        }),
        other => Err(Error::Signaling(format!(
            "expected welcome, got {}",
            other.type_name()
        ))),
    }
}

async fn send_ws(ws: &mut Ws, msg: &ClientMessage) -> Result<()> {
    ws.send(Message::text(msg.to_json()))
        .await
        .map_err(|e| Error::Signaling(format!("send: {e}")))
}

async fn recv_ws(ws: &mut Ws) -> Result<ServerMessage> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                return ServerMessage::parse(&t)
                    .map_err(|e| Error::Signaling(format!("bad message from server: {e}")))
            }
            Some(Ok(Message::Close(_))) | None => {
                return Err(Error::Signaling("server closed the connection".into()))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(Error::Signaling(format!("receive: {e}"))),
        }
    }
}

struct ConnectionTask {
    url: String,
    key: SigningKey,
    trust: Trust,
    out_rx: mpsc::Receiver<ClientMessage>,
    events: mpsc::Sender<SignalEvent>,
    watch: watch::Receiver<Vec<PeerId>>,
    stop: watch::Receiver<bool>,
    ice: watch::Sender<Vec<IceServer>>,
    held: HeldCalls,
    /// Local network changes ([`crate::netwatch`]).
    net: watch::Receiver<u64>,
    /// The last of them acted on: the old socket is gone, so what is sent from
    /// now on goes out on a new connection.
    net_handled: watch::Sender<u64>,
}

/// The engine's form of the ICE servers in an `ice_servers` frame, keeping only
/// the URLs it can use ([`crate::rtc::check_ice_url`]).
fn ice_servers_from(servers: &[parley_proto::IceServerInfo]) -> Vec<IceServer> {
    servers
        .iter()
        .filter_map(|s| {
            let urls: Vec<String> = s
                .urls
                .iter()
                .filter(|u| match crate::rtc::check_ice_url(u) {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::debug!("skipping a server-provided ICE URL: {e}");
                        false
                    }
                })
                .cloned()
                .collect();
            (!urls.is_empty()).then(|| IceServer {
                urls,
                username: s.username.clone(),
                credential: s.credential.clone(),
            })
        })
        .collect()
}

enum Ended {
    Stopped,
    Dropped(String),
    /// A local address went away: reconnect at once.
    NetworkChanged,
}

/// Whether `url` names this host (`localhost`, 127.0.0.0/8, `::1`): a connection
/// to it does not depend on the network's addresses.
fn is_local_url(url: &str) -> bool {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let Ok(request) = url.into_client_request() else {
        return false;
    };
    let Some(host) = request.uri().host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl ConnectionTask {
    async fn run(mut self, first: Option<Ws>) {
        let mut ws = first;
        let mut backoff = MIN_BACKOFF_MS;
        loop {
            let conn = match ws.take() {
                Some(c) => c,
                None => {
                    match tokio::time::timeout(
                        Duration::from_millis(CONNECT_TIMEOUT_MS),
                        connect_and_auth(&self.url, &self.key, &self.trust),
                    )
                    .await
                    {
                        Ok(Ok(c)) => {
                            backoff = MIN_BACKOFF_MS;
                            let id = PeerId::from_public_key(&self.key.verifying_key());
                            let _ = self.events.send(SignalEvent::Connected { id }).await;
                            let ids = self.watch.borrow().clone();
                            let mut c = c;
                            if !ids.is_empty()
                                && send_ws(&mut c, &ClientMessage::Watch { ids })
                                    .await
                                    .is_err()
                            {
                                continue;
                            }
                            c
                        }
                        Ok(Err(e)) => {
                            if !self.wait_backoff(&mut backoff, e.to_string()).await {
                                return;
                            }
                            continue;
                        }
                        Err(_) => {
                            if !self.wait_backoff(&mut backoff, "timed out".into()).await {
                                return;
                            }
                            continue;
                        }
                    }
                }
            };
            // First after `welcome`: the calls we hold, so the server keeps them
            // (or re-creates them after a restart) and ends any others of ours.
            let mut conn = conn;
            let calls: Vec<ResumedCall> = self
                .held
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .cloned()
                .collect();
            if let Err(e) = send_ws(&mut conn, &ClientMessage::Resume { calls }).await {
                if !self.wait_backoff(&mut backoff, e.to_string()).await {
                    return;
                }
                continue;
            }
            match self.pump(conn).await {
                Ended::Stopped => return,
                Ended::Dropped(reason) => {
                    if !self.wait_backoff(&mut backoff, reason).await {
                        return;
                    }
                }
                Ended::NetworkChanged => {
                    tracing::info!("the network changed; connecting to the server again");
                    backoff = MIN_BACKOFF_MS;
                    let _ = self
                        .events
                        .send(SignalEvent::Disconnected {
                            reason: "the network changed".into(),
                            retry_in_ms: 0,
                        })
                        .await;
                    self.net_handled.send_replace(*self.net.borrow_and_update());
                }
            }
        }
    }

    /// Reports the disconnect and sleeps; false if we were stopped meanwhile.
    async fn wait_backoff(&mut self, backoff: &mut u64, reason: String) -> bool {
        let delay = *backoff + rand::random::<u64>() % (*backoff / 4 + 1);
        *backoff = (*backoff * 2).min(MAX_BACKOFF_MS);
        tracing::info!("signaling disconnected ({reason}); retrying in {delay} ms");
        let _ = self
            .events
            .send(SignalEvent::Disconnected {
                reason,
                retry_in_ms: delay,
            })
            .await;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(delay)) => true,
            _ = crate::stop::stopped(&mut self.stop) => false,
            // A new network may reach the server: try it now.
            Ok(()) = self.net.changed() => {
                self.net_handled.send_replace(*self.net.borrow_and_update());
                true
            }
        }
    }

    async fn pump(&mut self, mut ws: Ws) -> Ended {
        let mut keepalive = tokio::time::interval(Duration::from_millis(KEEPALIVE_MS));
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = tokio::time::Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = crate::stop::stopped(&mut self.stop) => {
                    while let Ok(msg) = self.out_rx.try_recv() {
                        let _ = send_ws(&mut ws, &msg).await;
                    }
                    let _ = ws.close(None).await;
                    return Ended::Stopped;
                }
                Ok(()) = self.net.changed() => {
                    let gen = *self.net.borrow_and_update();
                    if is_local_url(&self.url) {
                        self.net_handled.send_replace(gen);
                    } else {
                        // The socket may be bound to the address that went away
                        // (no error would come for seconds): drop it unread.
                        return Ended::NetworkChanged;
                    }
                }
                msg = self.out_rx.recv() => match msg {
                    Some(msg) => {
                        if let Err(e) = send_ws(&mut ws, &msg).await {
                            return Ended::Dropped(e.to_string());
                        }
                    }
                    None => {
                        let _ = ws.close(None).await;
                        return Ended::Stopped;
                    }
                },
                _ = keepalive.tick() => {
                    if last_heard.elapsed() > Duration::from_millis(SILENCE_LIMIT_MS) {
                        return Ended::Dropped(format!(
                            "no reply from the server for {} s",
                            SILENCE_LIMIT_MS / 1000
                        ));
                    }
                    if let Err(e) = ws.send(Message::Ping(Default::default())).await {
                        return Ended::Dropped(e.to_string());
                    }
                }
                incoming = ws.next() => {
                    last_heard = tokio::time::Instant::now();
                    match incoming {
                    Some(Ok(Message::Text(t))) => match ServerMessage::parse(&t) {
                        Ok(m) => {
                            if let ServerMessage::IceServers { ice_servers, .. } = &m {
                                if self.trust.takes_ice_servers() {
                                    self.ice.send_replace(ice_servers_from(ice_servers));
                                }
                            }
                            if self.events.send(SignalEvent::Message(m)).await.is_err() {
                                let _ = ws.close(None).await;
                                return Ended::Stopped;
                            }
                        }
                        Err(e) => tracing::warn!("ignoring bad server message: {e}"),
                    },
                    Some(Ok(Message::Close(_))) | None => {
                        return Ended::Dropped("server closed the connection".into())
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Ended::Dropped(e.to_string()),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_local_url;

    #[test]
    fn a_server_on_this_host_does_not_follow_the_network() {
        for (url, local) in [
            ("ws://127.0.0.1:8443/ws", true),
            ("ws://127.3.0.1:8443/ws", true),
            ("wss://localhost:8443/ws", true),
            ("ws://[::1]:8443/ws", true),
            ("ws://198.51.100.1:8443/ws", false),
            ("wss://parley.example.org/ws", false),
            ("not a url", false),
        ] {
            assert_eq!(is_local_url(url), local, "{url}");
        }
    }
}
