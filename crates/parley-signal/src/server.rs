//! HTTP/WebSocket front end: binding, routes, shared client registry, the SFU
//! task's wiring, shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use axum::Router;
use parley_proto::MAX_CALL_MEMBERS;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::accept::CappedListener;
use crate::sfu::Sfu;
use crate::sfu_task::SFU_COMMAND_QUEUE;
use crate::{conn, ServerConfig, SignalError};

mod shared;

pub(crate) use shared::{ClientHandle, Shared};

/// Frames that may wait in one client's outbound queue; a client whose queue is
/// full when a frame is due is disconnected (it is not reading), so one slow
/// client never holds up the others.
pub const OUTBOUND_QUEUE_CAPACITY: usize = 256;

/// How long [`ServerHandle::shutdown`] waits for the SFU task to finish its
/// current request and close the rooms still open before it stops it.
const SFU_STOP_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// The SFU task, when the server has an SFU.
    sfu_task: Option<JoinHandle<()>>,
    /// The Janus the SFU talks to, when the server started it
    /// ([`ServerHandle::keep_alive`]); killed when the handle goes.
    janus: Option<KeptJanus>,
}

/// A Janus kept running as long as a [`ServerHandle`].
struct KeptJanus(parley_janus::JanusProcess);

impl std::fmt::Debug for KeptJanus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JanusProcess")
            .field("pid", &self.0.pid())
            .field("url", &self.0.url())
            .finish_non_exhaustive()
    }
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

    /// Keeps `janus` (the Janus the server's SFU talks to, started for it)
    /// running as long as the server: it is killed when the handle is shut
    /// down (after the SFU task closed its rooms) or dropped. A Janus kept
    /// before is killed now.
    pub fn keep_alive(&mut self, janus: parley_janus::JanusProcess) {
        self.janus = Some(KeptJanus(janus));
    }

    /// Stops accepting, closes every WebSocket (close code 1001) and waits for
    /// every connection task to end; with an SFU, also for the SFU task to
    /// close the rooms still open (at most 10 s, then it is stopped), and then
    /// a Janus kept by [`keep_alive`](Self::keep_alive) is killed.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Err(e) = (&mut self.serve_task).await {
            tracing::error!(error = %e, "server task failed");
        }
        // Every connection task holds an `_alive` sender: `None` means all ended.
        while self.alive_rx.recv().await.is_some() {}
        if let Some(mut task) = self.sfu_task.take() {
            if tokio::time::timeout(SFU_STOP_TIMEOUT, &mut task)
                .await
                .is_err()
            {
                tracing::warn!("the sfu task did not stop in time; stopping it");
                task.abort();
            }
        }
        // Janus goes only once its rooms are closed.
        drop(self.janus.take());
        tracing::info!("signaling server stopped");
    }
}

/// Binds `config.listen` and serves `GET /ws` (WebSocket) and `GET /healthz` in the
/// background on the current tokio runtime. No SFU: every call is a mesh.
///
/// Errors: [`SignalError::InvalidConfig`] (see [`ServerConfig::validate`]),
/// [`SignalError::Bind`] if the address cannot be bound.
pub async fn start(config: ServerConfig) -> Result<ServerHandle, SignalError> {
    start_with_sfu(config, None).await
}

/// [`start`], with an SFU for group calls: with `sfu` = (`sfu`, `sfu_from`),
/// a media call runs through `sfu` once it has `sfu_from` members (invited
/// ones included) and all speak protocol 4 (docs/protocol.md §6.5). One task
/// owns `sfu` and runs the rooms' lifecycle (open, admit, revoke, close) in
/// order, at most [`SFU_COMMAND_QUEUE`] commands waiting; it stops with the
/// server, closing the rooms still open. `None`: as [`start`].
///
/// Errors: as [`start`]; [`SignalError::InvalidConfig`] also when `sfu_from`
/// is outside 2..=[`MAX_CALL_MEMBERS`] (16).
pub async fn start_with_sfu(
    config: ServerConfig,
    sfu: Option<(Box<dyn Sfu>, usize)>,
) -> Result<ServerHandle, SignalError> {
    config.validate()?;
    if let Some((_, sfu_from)) = &sfu {
        if !(2..=MAX_CALL_MEMBERS).contains(sfu_from) {
            return Err(SignalError::InvalidConfig {
                reason: format!("sfu_from must be 2 to {MAX_CALL_MEMBERS}, not {sfu_from}"),
            });
        }
    }
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
    let (shared, sfu_task) = match sfu {
        None => (Arc::new(Shared::new(None)), None),
        Some((sfu, sfu_from)) => {
            let (tx, rx) = mpsc::channel(SFU_COMMAND_QUEUE);
            let shared = Arc::new(Shared::new(Some((sfu_from, tx))));
            let weak = Arc::downgrade(&shared);
            let task = crate::sfu_task::spawn(sfu, weak, rx, shutdown_rx.clone());
            tracing::info!(sfu_from, "group calls run through the sfu");
            (shared, Some(task))
        }
    };
    let state = AppState {
        shared,
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
        sfu_task,
        janus: None,
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
