//! Starting the engine's client (retrying while the server is unreachable) and
//! turning its events into UI events.

use std::sync::Arc;
use std::time::Duration;

use parley_engine::client::{
    Client, ClientConfig, ClientEvent, ConnectionInfo, NearbyOptions, ServerState,
};
use parley_engine::rtc::RtcConfig;
use parley_engine::storage::Direction as ChatDirection;
use parley_engine::transfer::{TransferDirection, TransferEvent};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager};

use crate::media::AppMedia;
use crate::state::AppState;
use crate::transfers;

/// First retry delay when the server is unreachable, ms (doubles up to 8 s).
const RETRY_MIN_MS: u64 = 500;
/// Longest retry delay, ms.
const RETRY_MAX_MS: u64 = 8_000;

/// A chat message as the UI shows it (docs/ui-api.md `ChatMessage`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatView {
    /// Message id.
    pub id: String,
    /// The other party.
    pub peer: parley_proto::PeerId,
    /// Text.
    pub text: String,
    /// Sender's clock, unix ms.
    pub sent_at_ms: u64,
    /// `sent` or `received`.
    pub direction: &'static str,
    /// The peer acknowledged it (sent messages).
    pub delivered: bool,
}

/// The local address calls bind their UDP sockets to: `PARLEY_UDP_BIND`
/// (`IP:PORT`, e.g. `127.0.0.2:0` to keep a test's media on one loopback address),
/// else every interface (`0.0.0.0:0`). An unparsable value is logged and ignored.
fn udp_bind() -> Vec<std::net::SocketAddr> {
    let default = RtcConfig::default().udp_bind;
    match std::env::var("PARLEY_UDP_BIND") {
        Ok(v) => match v.parse() {
            Ok(addr) => vec![addr],
            Err(e) => {
                tracing::error!("PARLEY_UDP_BIND {v:?}: {e}; binding {default:?}");
                default
            }
        },
        Err(_) => default,
    }
}

/// Sends the full state snapshot to the UI.
pub async fn emit_state(app: &AppHandle) {
    let state = app.state::<AppState>();
    let inner = state.inner.lock().await;
    let view = state.view(&inner);
    drop(inner);
    let _ = app.emit("parley://state", view);
}

/// Emits a user-visible error.
pub fn emit_error(app: &AppHandle, code: &str, message: impl Into<String>) {
    #[derive(Serialize, Clone)]
    struct E {
        code: String,
        message: String,
    }
    let _ = app.emit(
        "parley://error",
        E {
            code: code.into(),
            message: message.into(),
        },
    );
}

/// How long the same device problem stays quiet after it was shown, ms (it would
/// otherwise come back at every call).
const DEVICE_NOTICE_QUIET_MS: u64 = 5 * 60_000;

/// Device problems as `parley://error` events, each message at most once per
/// [`DEVICE_NOTICE_QUIET_MS`]; a device switch (`device_changed`) every time,
/// since each one changes what the user hears or sends.
fn device_notice(app: AppHandle) -> crate::media::DeviceNotice {
    let shown =
        std::sync::Mutex::new(std::collections::HashMap::<String, std::time::Instant>::new());
    Arc::new(move |code, message| {
        let quiet = std::time::Duration::from_millis(DEVICE_NOTICE_QUIET_MS);
        let mut shown = shown.lock().unwrap_or_else(|p| p.into_inner());
        let repeat = shown.get(&message).is_some_and(|at| at.elapsed() < quiet);
        if repeat && code != "device_changed" {
            return;
        }
        shown.insert(message.clone(), std::time::Instant::now());
        emit_error(&app, code, message);
    })
}

/// (Re)starts the client with the current settings: stops the old one, then tries
/// until it is up, reporting the connection state meanwhile.
pub async fn restart_client(app: AppHandle) {
    let state = app.state::<AppState>();
    let old = {
        let mut inner = state.inner.lock().await;
        // The new client's discovery reports its own list.
        inner.nearby.clear();
        inner.client.take()
    };
    if let Some(old) = old {
        old.shutdown().await;
    }
    let mut delay = RETRY_MIN_MS;
    loop {
        let settings = state.inner.lock().await.settings.clone();
        let server_url = std::env::var("PARLEY_SERVER")
            .ok()
            .or(settings.server_url.clone());
        let config = ClientConfig {
            profile: Arc::clone(&state.profile),
            server_url: server_url.clone(),
            embedded_listen: std::env::var("PARLEY_EMBEDDED_LISTEN")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| {
                    parley_engine::client::EMBEDDED_LISTEN
                        .parse()
                        .expect("valid")
                }),
            rtc: RtcConfig {
                ice_servers: settings.ice_servers.clone(),
                udp_bind: udp_bind(),
                ..Default::default()
            },
            download_dir: state.download_dir(&settings),
            media: Arc::new(AppMedia {
                settings: Arc::clone(&state.media_settings),
                notice: device_notice(app.clone()),
            }),
            remote_video: state.remote_video.clone(),
            local_video: state.local_video.clone(),
            remote_screen: state.remote_screen.clone(),
            echo_test: true,
            ask_before_receiving: true,
        };
        // Nobody is announced before the first-start name is chosen
        // (setup_profile switches it on then).
        let nearby = NearbyOptions {
            visible: settings.nearby_visible && !settings.display_name.is_empty(),
            name: settings.display_name.clone(),
        };
        // `PARLEY_NEARBY=off`: no mDNS at all (tests that must not touch the
        // machine's real network).
        let started = if std::env::var("PARLEY_NEARBY").is_ok_and(|v| v == "off") {
            Client::start(config).await
        } else {
            Client::start_with_nearby(config, nearby.clone()).await
        };
        match started {
            Ok((client, events)) => {
                let (name, visible) = {
                    let mut inner = state.inner.lock().await;
                    inner.connection = Some(client.connection());
                    inner.client = Some(client.clone());
                    let s = &inner.settings;
                    (
                        s.display_name.clone(),
                        s.nearby_visible && !s.display_name.is_empty(),
                    )
                };
                // The first-start name may have been chosen while the client
                // started (setup_profile found no client to tell): announce now.
                if name != nearby.name || visible != nearby.visible {
                    client.set_nearby_name(&name).await;
                    if let Err(e) = client.set_nearby_visible(visible).await {
                        tracing::warn!("nearby: {e}");
                    }
                }
                emit_state(&app).await;
                tauri::async_runtime::spawn(forward(app.clone(), events));
                return;
            }
            Err(e) => {
                tracing::warn!("cannot start the client: {e}");
                {
                    let mut inner = state.inner.lock().await;
                    inner.connection = Some(ConnectionInfo {
                        state: ServerState::Offline,
                        url: server_url.unwrap_or_default(),
                        embedded: settings.server_url.is_none(),
                        error: Some(e.to_string()),
                        retry_in_ms: Some(delay),
                    });
                }
                emit_state(&app).await;
                tokio::time::sleep(Duration::from_millis(delay)).await;
                delay = (delay * 2).min(RETRY_MAX_MS);
                // Settings may have changed meanwhile (a new URL): a newer restart
                // owns the client then.
                if state.inner.lock().await.client.is_some() {
                    return;
                }
            }
        }
    }
}

/// Turns client events into UI events until the client stops.
async fn forward(app: AppHandle, mut events: tokio::sync::mpsc::Receiver<ClientEvent>) {
    let state = app.state::<AppState>();
    while let Some(ev) = events.recv().await {
        match ev {
            ClientEvent::Connection(c) => {
                state.inner.lock().await.connection = Some(c);
                emit_state(&app).await;
            }
            ClientEvent::Presence { id, online } => {
                state.inner.lock().await.presence.insert(id, online);
                emit_state(&app).await;
            }
            ClientEvent::IncomingCall(info) => {
                state.inner.lock().await.call = Some(info.clone());
                let _ = app.emit("parley://incoming-call", state.call_view(info));
                emit_state(&app).await;
            }
            ClientEvent::Call(info) => {
                let mut inner = state.inner.lock().await;
                // A call that ended stops its tiles' pumps. A member who left
                // does not: the UI detaches its tile, and an older update still
                // in this queue (without a member just invited) must not stop
                // the pump of a tile attached since.
                if info.state == parley_engine::client::CallPhase::Ended {
                    for (_, pump) in inner.member_pumps.drain() {
                        pump.abort();
                    }
                }
                inner.call = Some(info);
                drop(inner);
                emit_state(&app).await;
            }
            ClientEvent::Chat {
                peer,
                message,
                direction,
            } => {
                let view = ChatView {
                    id: message.id,
                    peer,
                    text: message.text,
                    sent_at_ms: message.sent_at_ms,
                    direction: match direction {
                        ChatDirection::Sent => "sent",
                        ChatDirection::Received => "received",
                    },
                    delivered: false,
                };
                let _ = app.emit("parley://chat", view);
            }
            ClientEvent::ChatDelivered { id } => {
                let _ = app.emit("parley://chat-delivered", id);
            }
            ClientEvent::Transfer { peer, event } => {
                let view = {
                    let mut inner = state.inner.lock().await;
                    let inner = &mut *inner;
                    keep_received_folder_file(&state.profile, &inner.batches, &event);
                    // A file of a dropped folder shows as the folder.
                    match inner.batches.apply(&peer, &event) {
                        Some(folder) => {
                            if let Some(v) = &folder {
                                inner.transfers.insert(v.transfer_id.clone(), v.clone());
                            }
                            folder
                        }
                        None => transfers::apply(&mut inner.transfers, &peer, &event),
                    }
                };
                // A finished transfer goes into the history.
                if let Some(record) = view.as_ref().and_then(transfers::record) {
                    if let Err(e) = state.profile.record_transfer(&record) {
                        tracing::warn!("transfer history: {e}");
                    }
                    // A folder's own rows are no longer needed once it is
                    // over; one that failed (a dropped connection) goes on
                    // when the sender offers the rest again.
                    let folder = view
                        .as_ref()
                        .filter(|v| v.files_total.is_some() && v.state != "failed");
                    if let Some(v) = folder {
                        if let Err(e) = state.profile.folder_files_forget(&v.transfer_id) {
                            tracing::warn!("received folder files: {e}");
                        }
                    }
                }
                if let Some(v) = view {
                    let _ = app.emit("parley://transfer", v);
                }
            }
            ClientEvent::Stats(s) => {
                let _ = app.emit("parley://stats", s);
            }
            ClientEvent::Reach { id, via } => {
                {
                    let mut inner = state.inner.lock().await;
                    match via {
                        Some(via) => inner.reach.insert(id, via),
                        None => inner.reach.remove(&id),
                    };
                }
                emit_state(&app).await;
            }
            ClientEvent::Nearby(peers) => {
                state.inner.lock().await.nearby = peers;
                emit_state(&app).await;
            }
            ClientEvent::Error { code, message } => emit_error(&app, code, message),
            _ => {}
        }
    }
}

/// Keeps a file of a folder we receive that arrived (`ev`) in the profile, so
/// the folder still counts it after a restart ([`crate::batches::Batches::add_received`]).
fn keep_received_folder_file(
    profile: &parley_engine::storage::Profile,
    batches: &crate::batches::Batches,
    ev: &TransferEvent,
) {
    let TransferEvent::Completed {
        transfer_id,
        name,
        path,
        bytes,
        direction: TransferDirection::Receiving,
        ..
    } = ev
    else {
        return;
    };
    let Some((batch, peer)) = batches.receiving_folder_of(transfer_id) else {
        return;
    };
    let file = parley_engine::storage::ReceivedFolderFile {
        transfer_id: transfer_id.clone(),
        peer: peer.clone(),
        batch: batch.clone(),
        name: name.clone(),
        path: path.clone(),
        bytes: *bytes,
    };
    if let Err(e) = profile.folder_file_received(&file) {
        tracing::warn!("received folder files: {e}");
    }
}
