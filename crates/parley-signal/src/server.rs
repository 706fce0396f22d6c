//! HTTP/WebSocket front end: binding, routes, shared client registry, shutdown.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use axum::Router;
use parley_proto::{ClientMessage, PeerId};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use crate::accept::CappedListener;
use crate::hub::{Delivery, Hub};
use crate::iplimit::{IpLimits, Refusal};
use crate::{conn, ServerConfig, SignalError};

/// Frames that may wait in one client's outbound queue; a client whose queue is
/// full when a frame is due is disconnected (it is not reading), so one slow
/// client never holds up the others.
pub const OUTBOUND_QUEUE_CAPACITY: usize = 256;

/// How the registry reaches one authenticated connection.
#[derive(Debug)]
pub(crate) struct ClientHandle {
    /// Distinguishes successive connections of the same peer id.
    pub(crate) conn_id: u64,
    /// The connection's outbound queue of JSON text frames.
    pub(crate) tx: mpsc::Sender<String>,
    /// Tells the connection task to close (replaced, or queue overflow).
    pub(crate) kick: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Registry {
    hub: Hub,
    clients: HashMap<PeerId, ClientHandle>,
}

impl Registry {
    /// Queues each delivery on its recipient's channel without waiting; a full
    /// queue gets its connection kicked.
    fn dispatch(&self, out: Vec<Delivery>) {
        for Delivery { to, msg } in out {
            let Some(client) = self.clients.get(&to) else {
                continue;
            };
            match client.tx.try_send(msg.to_json()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(peer = %to, "outbound queue full; dropping client");
                    client.kick.notify_one();
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }
}

/// State shared by every connection task.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    registry: Mutex<Registry>,
    next_conn_id: AtomicU64,
    ip_limits: Mutex<IpLimits>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        // The registry stays consistent across a panic in another thread (every
        // mutation is a single hub call), so a poisoned lock is still usable.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh connection id.
    pub(crate) fn next_conn_id(&self) -> u64 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes `id`, speaking `protocol`, reachable through `client`; an older
    /// connection of the same id is kicked and its ringing calls end.
    pub(crate) fn register(&self, id: &PeerId, client: ClientHandle, protocol: u32) {
        let mut reg = self.lock();
        if let Some(old) = reg.clients.insert(id.clone(), client) {
            tracing::info!(peer = %id, "new connection replaces the old one");
            old.kick.notify_one();
        }
        let out = reg.hub.connect(id, protocol);
        reg.dispatch(out);
        tracing::debug!(
            online = reg.hub.online_count(),
            calls = reg.hub.call_count(),
            "registered"
        );
    }

    /// Forgets connection `conn_id` of `id`, unless a newer connection replaced it.
    /// Returns the epoch to pass to [`grace_over`](Self::grace_over) when `id`
    /// left accepted calls waiting for it.
    pub(crate) fn unregister(&self, id: &PeerId, conn_id: u64) -> Option<u64> {
        let mut reg = self.lock();
        if reg.clients.get(id).map(|c| c.conn_id) != Some(conn_id) {
            return None;
        }
        reg.clients.remove(id);
        let out = reg.hub.disconnect(id);
        reg.dispatch(out);
        reg.hub.grace_epoch(id)
    }

    /// `id`'s grace period after disconnect `epoch` ran out: its calls end if it
    /// has not come back.
    pub(crate) fn grace_over(&self, id: &PeerId, epoch: u64) {
        let mut reg = self.lock();
        let out = reg.hub.grace_over(id, epoch);
        reg.dispatch(out);
    }

    /// Admits a connection from `ip` under the per-address limits (released by
    /// [`release_ip`](Self::release_ip) when it closes).
    pub(crate) fn admit_ip(&self, ip: IpAddr, config: &ServerConfig) -> Result<(), Refusal> {
        self.ip_limits().admit(
            ip,
            config.max_connections_per_ip,
            config.max_failed_auths_per_ip,
            std::time::Instant::now(),
        )
    }

    /// A connection [`admit_ip`](Self::admit_ip) let in closed.
    pub(crate) fn release_ip(&self, ip: IpAddr) {
        self.ip_limits().release(ip);
    }

    /// A connection from `ip` failed to authenticate.
    pub(crate) fn auth_failed(&self, ip: IpAddr, config: &ServerConfig) {
        self.ip_limits().auth_failed(
            ip,
            config.max_failed_auths_per_ip,
            std::time::Instant::now(),
        );
    }

    fn ip_limits(&self) -> MutexGuard<'_, IpLimits> {
        self.ip_limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The number of the invitation of `invitee` into `call_id`, while it rings.
    pub(crate) fn ring_of(&self, call_id: &str, invitee: &PeerId) -> Option<u64> {
        self.lock().hub.ring_of(call_id, invitee)
    }

    /// The ring timeout of invitation `ring` of `invitee` into `call_id` ran
    /// out: the invitation ends if it still rings.
    pub(crate) fn ring_over(&self, call_id: &str, invitee: &PeerId, ring: u64) {
        let mut reg = self.lock();
        let out = reg.hub.ring_over(call_id, invitee, ring);
        reg.dispatch(out);
    }

    /// Handles a message from the authenticated peer `from`.
    pub(crate) fn handle(&self, from: &PeerId, msg: ClientMessage) {
        let mut reg = self.lock();
        let out = reg.hub.handle(from, msg);
        reg.dispatch(out);
    }
}

/// What every request handler and connection task gets.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) config: Arc<ServerConfig>,
    /// Becomes `true` (or closes) when the server shuts down.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Held by every connection task; shutdown waits until all clones are gone.
    pub(crate) _alive: mpsc::Sender<()>,
}

/// A running server. Call [`ServerHandle::shutdown`] to stop it and wait; merely
/// dropping the handle also stops it, without waiting.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    /// `ws`, or `wss` with TLS.
    scheme: &'static str,
    shutdown_tx: watch::Sender<bool>,
    serve_task: JoinHandle<()>,
    alive_rx: mpsc::Receiver<()>,
}

impl ServerHandle {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The WebSocket URL clients connect to: `ws://ADDR/ws`, or `wss://ADDR/ws`
    /// with TLS.
    pub fn url(&self) -> String {
        format!("{}://{}/ws", self.scheme, self.local_addr)
    }

    /// Stops accepting, closes every WebSocket (close code 1001) and waits for
    /// every connection task to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Err(e) = (&mut self.serve_task).await {
            tracing::error!(error = %e, "server task failed");
        }
        // Every connection task holds an `_alive` sender: `None` means all ended.
        while self.alive_rx.recv().await.is_some() {}
        tracing::info!("signaling server stopped");
    }
}

/// Binds `config.listen` and serves `GET /ws` (WebSocket) and `GET /healthz` in the
/// background on the current tokio runtime.
///
/// Errors: [`SignalError::InvalidConfig`] (see [`ServerConfig::validate`]),
/// [`SignalError::Bind`] if the address cannot be bound.
pub async fn start(config: ServerConfig) -> Result<ServerHandle, SignalError> {
    config.validate()?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
        _ => None,
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| SignalError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr()?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (alive_tx, alive_rx) = mpsc::channel(1);
    // 0 means no limit, below the WebSocket as above it.
    let tcp_cap = match config.max_connections_per_ip {
        0 => u32::MAX,
        n => n.saturating_add(crate::accept::TCP_SLACK_PER_IP),
    };
    let state = AppState {
        shared: Arc::new(Shared::default()),
        config: Arc::new(config),
        shutdown: shutdown_rx.clone(),
        _alive: alive_tx,
    };
    let app = Router::new()
        .route("/ws", get(ws_handler))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state);
    let mut signal = shutdown_rx;
    // Ends on `true` or when the handle is dropped.
    let stop = async move {
        let _ = signal.wait_for(|stop| *stop).await;
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let listener = CappedListener::new(listener, tcp_cap);
    let serve_task = match tls {
        None => spawn_serve(listener, app, stop),
        Some(tls) => spawn_serve(crate::tls::TlsListener::new(listener, tls)?, app, stop),
    };
    tracing::info!(addr = %local_addr, scheme, "signaling server listening");
    Ok(ServerHandle {
        local_addr,
        scheme,
        shutdown_tx,
        serve_task,
        alive_rx,
    })
}

/// Serves `app` on `listener` in a task until `stop` resolves.
fn spawn_serve<L>(
    listener: L,
    app: Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> JoinHandle<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    // `tap_io` makes the listener's address the connection info (axum implements
    // that for tapped listeners).
    let serve = axum::serve(
        listener.tap_io(|_| {}),
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop);
    tokio::spawn(async move {
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "signaling server failed");
        }
    })
}

/// Bytes read from a socket at a time. tungstenite fills its whole read buffer
/// with zeros before each read, so its default (128 KiB) is resident for every
/// connection, idle or not; 8 KiB keeps 10,000 idle clients small (BENCHMARKS.md).
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// The hard frame limit as a multiple of `max_frame_bytes`: the most read into
/// memory for one frame before it is refused.
const HARD_FRAME_FACTOR: usize = 4;

async fn ws_handler(
    ws: WebSocketUpgrade,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    State(state): State<AppState>,
) -> Response {
    // Frames up to the hard limit are read whole and refused by the connection
    // (`too_large`, then a clean 1009 close); a frame announcing more is refused
    // at its header without reading its payload.
    let hard = state
        .config
        .max_frame_bytes
        .saturating_mul(HARD_FRAME_FACTOR);
    ws.max_message_size(hard)
        .max_frame_size(hard)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_failed_upgrade(move |e| tracing::debug!(%remote, error = %e, "upgrade failed"))
        .on_upgrade(move |socket| conn::run(socket, remote, state))
}
