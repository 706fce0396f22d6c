//! One task per WebSocket connection: reads frames, enforces size and rate limits,
//! runs the hello/challenge/auth handshake, then hands messages to the hub and
//! writes the connection's outbound queue to the socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket};
use parley_proto::identity::{encode_b64url, NONCE_BYTES};
use parley_proto::{
    verify_challenge, verify_challenge_bound, ClientMessage, ErrorCode, PeerId, ServerMessage,
    MIN_PROTOCOL_VERSION, PROTOCOL_VERSION,
};
use rand::RngCore as _;
use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep_until, timeout, Instant};

use crate::ratelimit::TokenBucket;
use crate::server::{AppState, ClientHandle, OUTBOUND_QUEUE_CAPACITY};

/// Longest time spent flushing queued frames and the close frame to a closing
/// connection.
const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest wait for one frame to be written to a client.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most frames read (and discarded) while waiting for a client's close frame.
const MAX_DRAINED_FRAMES: usize = 16;

/// Handshake progress.
#[derive(Debug)]
enum Phase {
    AwaitHello,
    AwaitAuth {
        claimed: PeerId,
        nonce: [u8; NONCE_BYTES],
        /// The protocol version the client said it speaks.
        protocol: u32,
    },
    Authed {
        id: PeerId,
    },
}

/// What the read loop does next.
#[derive(Debug)]
enum Flow {
    Continue,
    /// Flush queued frames, send a close frame with this code and reason, read
    /// and discard what the peer still sends until its close frame (the closing
    /// handshake of RFC 6455 §7.1.1: closing with unread bytes makes the kernel
    /// reset the connection, and the peer may lose our close frame), end.
    Close(u16, &'static str),
    /// As `Close`, but without reading on: for a frame whose header announced more
    /// than the hard limit (its unread rest is not pulled into memory), a server
    /// shutdown and a replaced or too slow connection.
    Abort(u16, &'static str),
    /// The peer is gone: end without writing.
    Gone,
}

struct Conn {
    state: AppState,
    remote: SocketAddr,
    conn_id: u64,
    tx: mpsc::Sender<String>,
    kick: Arc<Notify>,
    phase: Phase,
    /// Frames this connection may send; when empty the socket is not read
    /// (TCP flow control then slows the sender; nothing is dropped).
    bucket: TokenBucket,
    /// Set when this connection's own queue overflowed.
    overflowed: bool,
    /// When the client gets fresh TURN credentials next (authenticated, TURN
    /// configured).
    ice_refresh_at: Option<Instant>,
}

/// Releases the connection's place under the per-address limit when it ends.
struct Admitted {
    state: AppState,
    ip: std::net::IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.state.shared.release_ip(self.ip);
    }
}

/// Serves one upgraded WebSocket until it closes, is kicked, or the server stops.
pub(crate) async fn run(mut socket: WebSocket, remote: SocketAddr, state: AppState) {
    if let Err(refusal) = state.shared.admit_ip(remote.ip(), &state.config) {
        tracing::warn!(%remote, "refused: {}", refusal.message());
        let error = ServerMessage::error(ErrorCode::RateLimited, refusal.message(), None);
        let refuse = async {
            socket.send(Message::Text(error.to_json().into())).await?;
            socket
                .send(Message::Close(Some(CloseFrame {
                    code: close_code::POLICY,
                    reason: "too many connections or failed sign-ins".into(),
                })))
                .await
        };
        let _ = timeout(CLOSE_FLUSH_TIMEOUT, refuse).await;
        return;
    }
    let _admitted = Admitted {
        state: state.clone(),
        ip: remote.ip(),
    };
    let conn_id = state.shared.next_conn_id();
    let (tx, mut rx) = mpsc::channel::<String>(OUTBOUND_QUEUE_CAPACITY);
    let config = Arc::clone(&state.config);
    let mut shutdown = state.shutdown.clone();
    let auth_deadline = Instant::now() + config.auth_timeout;
    let mut conn = Conn {
        remote,
        conn_id,
        tx,
        kick: Arc::new(Notify::new()),
        phase: Phase::AwaitHello,
        bucket: TokenBucket::new(
            config.rate_limit_per_sec,
            config.rate_burst,
            Instant::now().into(),
        ),
        overflowed: false,
        ice_refresh_at: None,
        state,
    };
    tracing::info!(%remote, conn_id, "connected");
    let kick = Arc::clone(&conn.kick);
    let mut kicked = false;

    let flow = loop {
        // Read only when a frame may be taken; otherwise wake when one may.
        let read_wait = conn.bucket.wait(std::time::Instant::now());
        tokio::select! {
            biased;
            () = stopped(&mut shutdown) => {
                // No wait for the client's close: shutdown is not held up by
                // clients that do not read.
                break Flow::Abort(close_code::AWAY, "server shutting down");
            }
            () = kick.notified() => {
                kicked = true;
                break Flow::Abort(close_code::POLICY, "replaced by a newer connection or too slow");
            }
            () = sleep_until(auth_deadline), if !conn.is_authed() => {
                conn.state.shared.auth_failed(remote.ip(), &conn.state.config);
                conn.reply(ServerMessage::error(ErrorCode::AuthFailed, "authentication timed out", None));
                break Flow::Close(close_code::POLICY, "authentication timed out");
            }
            () = sleep_until(conn.ice_refresh_at.unwrap_or(auth_deadline)), if conn.ice_refresh_at.is_some() => {
                conn.send_ice_servers();
            }
            Some(text) = rx.recv() => {
                // A client that stops reading must not hold this task (and with it
                // the sign-in timeout, kicks and shutdown) forever.
                match timeout(WRITE_TIMEOUT, socket.send(Message::Text(text.into()))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break Flow::Gone,
                    Err(_) => {
                        tracing::info!(%remote, "not reading; dropped");
                        break Flow::Gone;
                    }
                }
            }
            () = tokio::time::sleep(read_wait), if !read_wait.is_zero() => {}
            inbound = socket.recv(), if read_wait.is_zero() => match conn.on_inbound(inbound) {
                Flow::Continue => {}
                end => break end,
            },
        }
    };

    if let Flow::Close(code, reason) | Flow::Abort(code, reason) = flow {
        let drain = matches!(flow, Flow::Close(..));
        let flush = async {
            // A kicked client may be the slow one: do not replay its queue.
            if !kicked {
                while let Ok(text) = rx.try_recv() {
                    socket.send(Message::Text(text.into())).await?;
                }
            }
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            socket.send(Message::Close(Some(frame))).await?;
            // Every frame is at most the hard limit (4 × max_frame_bytes), so this
            // holds at most one frame at a time.
            if drain {
                // A few frames may still be on their way before the close reply;
                // a client that keeps streaming is cut off rather than read on.
                for _ in 0..MAX_DRAINED_FRAMES {
                    match socket.recv().await {
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                        Some(Ok(_)) => {}
                    }
                }
            }
            Ok::<(), axum::Error>(())
        };
        let _ = timeout(CLOSE_FLUSH_TIMEOUT, flush).await;
    }
    if let Phase::Authed { id } = &conn.phase {
        if let Some(epoch) = conn.state.shared.unregister(id, conn_id) {
            wait_for_return(conn.state.clone(), id.clone(), epoch);
        }
        tracing::info!(%remote, peer = %id, "disconnected");
    } else {
        tracing::info!(%remote, conn_id, "disconnected before authenticating");
    }
}

/// Keeps `id`'s accepted calls for [`crate::ServerConfig::call_grace`] after it
/// disconnected (its media flows peer to peer meanwhile), then ends them unless it
/// came back; ends early, doing nothing, when the server shuts down.
fn wait_for_return(state: AppState, id: parley_proto::PeerId, epoch: u64) {
    tokio::spawn(async move {
        let mut shutdown = state.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(state.config.call_grace) => state.shared.grace_over(&id, epoch),
            () = stopped(&mut shutdown) => {}
        }
    });
}

/// Resolves once the server is shutting down (or its handle is gone).
async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Whether a receive error is the size limit tripping.
fn is_too_large(e: &axum::Error) -> bool {
    // axum boxes tungstenite's `Error::Capacity(MessageTooLong { .. })`, displayed
    // as "Space limit exceeded: Message too long: N > MAX". tests/oversized.rs
    // guards this against dependency upgrades.
    let text = e.to_string();
    text.contains("Space limit exceeded") || text.contains("too long")
}

impl Conn {
    fn is_authed(&self) -> bool {
        matches!(self.phase, Phase::Authed { .. })
    }

    /// Queues `ice_servers` with credentials for the authenticated peer (nothing
    /// when the server has no ICE servers) and schedules the next refresh.
    fn send_ice_servers(&mut self) {
        let Phase::Authed { id } = &self.phase else {
            return;
        };
        let ice = &self.state.config.ice;
        if ice.is_empty() {
            return;
        }
        let now_unix_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (ice_servers, ttl_s) = ice.servers_for(id, now_unix_s);
        self.ice_refresh_at = ice.refresh_interval().map(|every| Instant::now() + every);
        self.reply(ServerMessage::IceServers { ice_servers, ttl_s });
    }

    /// Queues a frame for this connection without waiting.
    fn reply(&mut self, msg: ServerMessage) {
        if self.tx.try_send(msg.to_json()).is_err() {
            self.overflowed = true;
        }
    }

    fn error(&mut self, code: ErrorCode, message: impl Into<String>) {
        self.reply(ServerMessage::error(code, message, None));
    }

    fn on_inbound(&mut self, inbound: Option<Result<Message, axum::Error>>) -> Flow {
        let flow = match inbound {
            None => Flow::Gone,
            Some(Err(e)) if is_too_large(&e) => {
                tracing::info!(remote = %self.remote, error = %e, "frame over the hard limit");
                self.too_large();
                Flow::Abort(close_code::SIZE, "frame too large")
            }
            Some(Err(e)) => {
                tracing::debug!(remote = %self.remote, error = %e, "websocket error");
                self.error(ErrorCode::Malformed, format!("websocket error: {e}"));
                Flow::Close(close_code::PROTOCOL, "websocket protocol error")
            }
            // tungstenite answers pings and close frames itself; after a close the
            // next read returns `None`.
            Some(Ok(Message::Close(_))) => Flow::Continue,
            // WebSocket pings cost a token like any frame: tungstenite answers them.
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                self.take_token();
                Flow::Continue
            }
            Some(Ok(Message::Binary(_))) => {
                self.take_token();
                self.error(ErrorCode::Malformed, "binary frames are not supported");
                Flow::Continue
            }
            Some(Ok(Message::Text(text))) if text.len() > self.state.config.max_frame_bytes => {
                tracing::info!(remote = %self.remote, bytes = text.len(), "frame too large");
                self.too_large();
                Flow::Close(close_code::SIZE, "frame too large")
            }
            Some(Ok(Message::Text(text))) => {
                self.take_token();
                self.on_text(text.as_str())
            }
        };
        match flow {
            Flow::Continue if self.overflowed => {
                tracing::warn!(remote = %self.remote, "outbound queue full; closing");
                Flow::Close(close_code::POLICY, "outbound queue full")
            }
            flow => flow,
        }
    }

    /// Spends the token this frame was read with.
    fn take_token(&mut self) {
        // A token was there when the read began; time only adds tokens.
        let _ = self.bucket.try_take(std::time::Instant::now());
    }

    /// Queues `too_large` for a frame over `max_frame_bytes`.
    fn too_large(&mut self) {
        let max = self.state.config.max_frame_bytes;
        self.error(ErrorCode::TooLarge, format!("frame exceeds {max} bytes"));
    }

    fn on_text(&mut self, text: &str) -> Flow {
        let msg = match ClientMessage::parse(text) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::debug!(remote = %self.remote, error = %e, "bad frame");
                self.error(e.code(), e.to_string());
                return Flow::Continue;
            }
        };
        if let ClientMessage::Ping = msg {
            self.reply(ServerMessage::Pong);
            return Flow::Continue;
        }
        match std::mem::replace(&mut self.phase, Phase::AwaitHello) {
            Phase::AwaitHello => self.on_hello(msg),
            Phase::AwaitAuth {
                claimed,
                nonce,
                protocol,
            } => self.on_auth(msg, claimed, nonce, protocol),
            Phase::Authed { id } => {
                let invitation = match &msg {
                    ClientMessage::Invite { call_id, to, .. }
                    | ClientMessage::Add { call_id, to } => Some((call_id.clone(), to.clone())),
                    _ => None,
                };
                self.state.shared.handle(&id, msg);
                // A timer for the invitation the hub made (none if refused).
                if let Some((call_id, to)) = invitation {
                    if let Some(ring) = self.state.shared.ring_of(&call_id, &to) {
                        self.ring_timer(call_id, to, ring);
                    }
                }
                self.phase = Phase::Authed { id };
                Flow::Continue
            }
        }
    }

    /// Ends invitation `ring` of `invitee` into `call_id` if it still rings
    /// after the ring timeout (the hub ignores it once answered, declined, gone
    /// or replaced by a later invitation).
    fn ring_timer(&self, call_id: String, invitee: PeerId, ring: u64) {
        let (shared, wait) = (
            Arc::clone(&self.state.shared),
            self.state.config.ring_timeout,
        );
        let mut shutdown = self.state.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(wait) => shared.ring_over(&call_id, &invitee, ring),
                () = stopped(&mut shutdown) => {}
            }
        });
    }

    fn on_hello(&mut self, msg: ClientMessage) -> Flow {
        let ClientMessage::Hello {
            protocol,
            public_key,
        } = msg
        else {
            self.error(ErrorCode::NotAuthenticated, "send hello first");
            return Flow::Continue;
        };
        if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&protocol) {
            self.error(
                ErrorCode::UnsupportedVersion,
                format!(
                    "protocol {protocol} unsupported; this server speaks \
                     {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION}"
                ),
            );
            return Flow::Close(close_code::POLICY, "unsupported protocol version");
        }
        let claimed = match PeerId::parse(&public_key) {
            Ok(id) => id,
            Err(e) => {
                self.state
                    .shared
                    .auth_failed(self.remote.ip(), &self.state.config);
                self.error(ErrorCode::AuthFailed, format!("bad public key: {e}"));
                return Flow::Close(close_code::POLICY, "authentication failed");
            }
        };
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // The version both speak: the client's.
        self.reply(ServerMessage::Challenge {
            protocol,
            nonce: encode_b64url(&nonce),
        });
        self.phase = Phase::AwaitAuth {
            claimed,
            nonce,
            protocol,
        };
        Flow::Continue
    }

    /// Checks `auth`'s signature: of the plain payload, or, with `owner`, of the
    /// payload bound to it, which must be this server's owner (docs/protocol.md
    /// §3.1). Errors: why the sign-in fails, for `auth_failed`.
    fn check_signature(
        &self,
        claimed: &PeerId,
        nonce: &[u8],
        signature: &str,
        owner: Option<&PeerId>,
    ) -> Result<(), String> {
        let Some(named) = owner else {
            return verify_challenge(claimed, nonce, signature).map_err(|e| e.to_string());
        };
        if self.state.config.owner.as_ref() != Some(named) {
            return Err("the sign-in is bound to another server's owner".into());
        }
        verify_challenge_bound(claimed, nonce, named, signature).map_err(|e| e.to_string())
    }

    fn on_auth(
        &mut self,
        msg: ClientMessage,
        claimed: PeerId,
        nonce: [u8; NONCE_BYTES],
        protocol: u32,
    ) -> Flow {
        let ClientMessage::Auth { signature, owner } = msg else {
            self.error(
                ErrorCode::NotAuthenticated,
                "send auth to answer the challenge",
            );
            self.phase = Phase::AwaitAuth {
                claimed,
                nonce,
                protocol,
            };
            return Flow::Continue;
        };
        if let Err(e) = self.check_signature(&claimed, &nonce, &signature, owner.as_ref()) {
            tracing::info!(remote = %self.remote, peer = %claimed, error = %e, "authentication failed");
            self.state
                .shared
                .auth_failed(self.remote.ip(), &self.state.config);
            self.error(ErrorCode::AuthFailed, e);
            return Flow::Close(close_code::POLICY, "authentication failed");
        }
        tracing::info!(remote = %self.remote, peer = %claimed, "authenticated");
        // Welcome and the ICE servers go into the queue before registration, so
        // they precede anything other peers send to this id.
        self.reply(ServerMessage::Welcome {
            id: claimed.clone(),
        });
        self.phase = Phase::Authed {
            id: claimed.clone(),
        };
        self.send_ice_servers();
        self.state.shared.register(
            &claimed,
            ClientHandle {
                conn_id: self.conn_id,
                tx: self.tx.clone(),
                kick: Arc::clone(&self.kick),
            },
            protocol,
        );
        Flow::Continue
    }
}
