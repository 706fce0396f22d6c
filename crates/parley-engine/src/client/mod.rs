//! The application-level engine: one signed-in user with contacts, presence, calls,
//! chat and transfers — what the desktop app shows, without any window code.
//!
//! [`Client::start`] opens the profile, connects to the configured signaling server
//! (or starts the embedded one) and spawns the task that owns the connection and the
//! current call. The app sends commands through the [`Client`] handle and renders
//! [`ClientEvent`]s; decoded video reaches it through [`FrameSlot`]s.

mod echo;
mod embedded;
mod frames;
mod members;
mod nearby;
mod outbox;
mod presence;
mod roster;
mod servers;
mod sessions;
mod task;

pub use echo::EchoPeer;
pub use embedded::{local_url, start_embedded_server};
pub use frames::{FrameSlot, PreviewSource};
pub use members::{FrameSlots, MemberInfo, MemberState, SPEAKER_HOLD_MS, SPEAKING_LEVEL};
pub use nearby::NearbyOptions;
pub use outbox::{retry_delay, MAX_ATTEMPTS, RETRY_FIRST_MS, RETRY_MAX_MS};
pub use servers::{Via, MAX_NEARBY_SERVERS, NEARBY_LEAVE_GRACE_MS};
pub use sessions::SESSION_IDLE_MS;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parley_proto::data::ChatMessage;
use parley_proto::PeerId;
use tokio::sync::{mpsc, oneshot};

use crate::call::CallError;
use crate::call::{AudioSink, LiveStats, ScreenFeed};
use crate::media::screen::{ScreenSource, ScreenTarget};
use crate::media::{AudioSource, VideoSource};
use crate::nearby::NearbyPeer;
use crate::rtc::RtcConfig;
use crate::signaling::SignalingClient;
use crate::storage::{Direction as ChatDirection, Profile};
use crate::transfer::{TransferCommand, TransferEvent};
use crate::{Error, Result};

/// Command queue capacity, commands.
pub const COMMAND_QUEUE: usize = 64;
/// Event queue capacity, events.
pub const EVENT_QUEUE: usize = 512;
/// Where the embedded signaling server listens by default: every interface, so
/// other machines on the local network can use it.
pub const EMBEDDED_LISTEN: &str = "0.0.0.0:8443";

/// Where the app gets capture devices and playback for a call.
pub trait MediaProvider: Send + Sync {
    /// The camera (or file, or pattern); `Ok(None)` sends no video.
    fn video_source(&self) -> Result<Option<Box<dyn VideoSource>>>;
    /// The microphone (or file, or tone); `Ok(None)` sends no audio.
    fn audio_source(&self) -> Result<Option<Box<dyn AudioSource>>>;
    /// Where remote audio goes (speakers); empty plays nothing.
    fn audio_sinks(&self) -> Vec<Box<dyn AudioSink>>;
    /// Echo cancellation, noise suppression and gain control for the
    /// microphone; all on unless the user turned them off.
    fn audio_processing(&self) -> crate::media::ProcessingConfig {
        crate::media::ProcessingConfig::default()
    }
}

/// No camera, microphone or speakers: a client for chat and files only
/// (calls it makes or takes carry no media from us).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMedia;

impl MediaProvider for NoMedia {
    fn video_source(&self) -> Result<Option<Box<dyn VideoSource>>> {
        Ok(None)
    }
    fn audio_source(&self) -> Result<Option<Box<dyn AudioSource>>> {
        Ok(None)
    }
    fn audio_sinks(&self) -> Vec<Box<dyn AudioSink>> {
        Vec::new()
    }
}

/// How to start a [`Client`].
pub struct ClientConfig {
    /// The open profile (identity, contacts, history).
    pub profile: Arc<Profile>,
    /// Signaling server URL; `None` starts the embedded server and uses it.
    pub server_url: Option<String>,
    /// Listen address of the embedded server (a busy port falls back to a free one).
    pub embedded_listen: SocketAddr,
    /// Peer connection settings.
    pub rtc: RtcConfig,
    /// Received files go here.
    pub download_dir: PathBuf,
    /// Capture and playback.
    pub media: Arc<dyn MediaProvider>,
    /// Where decoded remote video goes (owned by the app, so a renderer stays
    /// attached across client restarts).
    pub remote_video: FrameSlot,
    /// Where the local preview goes.
    pub local_video: FrameSlot,
    /// Where the peer's shared screen goes.
    pub remote_screen: FrameSlot,
    /// Start the built-in "Echo test" contact ([`EchoPeer`]) on the same server.
    pub echo_test: bool,
    /// Offered files wait for [`Client::transfer`] (`Accept` or `Decline`) after a
    /// [`TransferEvent::Incoming`] event instead of being accepted at once.
    pub ask_before_receiving: bool,
}

/// A kind of capture or playback device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// The camera ([`MediaProvider::video_source`]).
    Camera,
    /// The microphone ([`MediaProvider::audio_source`]).
    Microphone,
    /// The speakers ([`MediaProvider::audio_sinks`]).
    Speaker,
}

/// The signaling connection as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    /// Where the connection stands.
    pub state: ServerState,
    /// The server URL.
    pub url: String,
    /// Whether that is the embedded server.
    pub embedded: bool,
    /// Why we are offline, if we are.
    pub error: Option<String>,
    /// Next reconnect attempt in this many ms, when offline.
    pub retry_in_ms: Option<u64>,
}

/// Where the signaling connection stands; serialised `connecting`, `online` or
/// `offline` (docs/ui-api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerState {
    /// Not signed in yet (the first attempt is under way).
    Connecting,
    /// Signed in.
    Online,
    /// Not connected; a reconnect is scheduled.
    Offline,
}

/// Who placed a call; serialised `out` (we called) or `in` (docs/ui-api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum CallDirection {
    /// We called.
    #[serde(rename = "out")]
    Out,
    /// They called us.
    #[serde(rename = "in")]
    In,
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallPhase {
    /// We invited; the peer's client rings (or not yet).
    RingingOut,
    /// The peer invites us; we have not answered.
    RingingIn,
    /// Accepted; ICE/DTLS in progress.
    Connecting,
    /// Media flowing.
    Connected,
    /// Over.
    Ended,
}

/// The current call, as the app shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallInfo {
    /// The call id.
    pub call_id: String,
    /// The other party.
    pub peer: PeerId,
    /// Who placed the call.
    pub direction: CallDirection,
    /// Where it stands.
    pub state: CallPhase,
    /// When media started flowing, unix ms.
    pub started_at_ms: Option<u64>,
    /// Our microphone muted.
    pub muted_audio: bool,
    /// Our camera off.
    pub muted_video: bool,
    /// The peer's microphone muted.
    pub remote_muted_audio: bool,
    /// The peer's camera off.
    pub remote_muted_video: bool,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// We are sharing a screen or window.
    pub sharing_screen: bool,
    /// What we share (monitor name or window title).
    pub sharing_name: Option<String>,
    /// A member (in a one-to-one call: the peer) is sharing its screen (frames
    /// in [`Client::remote_screen`]).
    pub remote_sharing: bool,
    /// The connection was lost mid-call and is being brought back (ICE restart);
    /// the call ends if it does not come back in time.
    pub reconnecting: bool,
    /// Every other member of the call, in the order they came in (a one-to-one
    /// call: `peer` alone). For an incoming group invitation: who is already in
    /// the call.
    pub members: Vec<MemberInfo>,
    /// The member heard loudest just now (audio level at or above
    /// [`SPEAKING_LEVEL`], held [`SPEAKER_HOLD_MS`] through pauses).
    pub active_speaker: Option<PeerId>,
    /// Our media goes through the group call's SFU, which terminates
    /// DTLS-SRTP and so can see it; `false`: peer to peer, end-to-end encrypted.
    pub via_sfu: bool,
}

/// What the client reports.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The signaling connection changed.
    Connection(ConnectionInfo),
    /// A watched contact came online (on any server we are signed in to) or
    /// went offline (on all of them).
    Presence {
        /// The contact.
        id: PeerId,
        /// Online now.
        online: bool,
    },
    /// Someone calls us.
    IncomingCall(CallInfo),
    /// The current call changed (state, mute, end).
    Call(CallInfo),
    /// A chat message was sent or received (already stored).
    Chat {
        /// The other party.
        peer: PeerId,
        /// The message.
        message: ChatMessage,
        /// Sent or received.
        direction: ChatDirection,
    },
    /// The peer acknowledged our chat message.
    ChatDelivered {
        /// Message id.
        id: String,
    },
    /// Transfer progress, completion or failure.
    Transfer {
        /// The other party.
        peer: PeerId,
        /// What happened.
        event: TransferEvent,
    },
    /// Live call statistics (once a second).
    Stats(LiveStats),
    /// The Parleys found on the local network (never us), sorted by name, then
    /// id: sent when discovery starts and whenever the list changes (clients
    /// started with [`Client::start_with_nearby`] only).
    Nearby(Vec<NearbyPeer>),
    /// The server a contact is reached through changed: calls, chat and files
    /// to them go through `via` (docs/nearby-plan.md).
    Reach {
        /// The contact.
        id: PeerId,
        /// Their own home server, a nearby computer's, or `None` when offline.
        via: Option<Via>,
    },
    /// Something went wrong that the user should see.
    Error {
        /// Machine-readable code (docs/ui-api.md).
        code: &'static str,
        /// For display.
        message: String,
    },
}

pub(crate) enum Command {
    Call(PeerId, oneshot::Sender<Result<CallInfo>>),
    Accept(String, oneshot::Sender<Result<CallInfo>>),
    Decline(String),
    Hangup,
    SetMuted(bool, bool, oneshot::Sender<Result<CallInfo>>),
    ShareScreen(
        ScreenFeed,
        Option<String>,
        oneshot::Sender<Result<CallInfo>>,
    ),
    StopScreenShare(oneshot::Sender<Result<CallInfo>>),
    Invite(PeerId, oneshot::Sender<Result<CallInfo>>),
    Chat(PeerId, String, oneshot::Sender<Result<()>>),
    SendFiles(PeerId, Vec<PathBuf>, oneshot::Sender<Result<Vec<String>>>),
    Transfer(TransferCommand, oneshot::Sender<Result<()>>),
    SwitchDevice(DeviceKind, oneshot::Sender<Result<()>>),
    SetNearbyVisible(bool, oneshot::Sender<Result<()>>),
    SetNearbyName(String),
    Watch,
    Shutdown(oneshot::Sender<()>),
}

/// Handle to the running client. Cloning shares it.
#[derive(Clone)]
pub struct Client {
    cmd: mpsc::Sender<Command>,
    profile: Arc<Profile>,
    signaling: SignalingClient,
    connection: Arc<std::sync::Mutex<ConnectionInfo>>,
    /// Decoded remote video of the current call.
    pub remote_video: FrameSlot,
    /// Our own camera, as sent.
    pub local_video: FrameSlot,
    /// The peer's shared screen, decoded.
    pub remote_screen: FrameSlot,
    /// Each member's camera and screen, decoded, by (peer, track).
    pub member_video: FrameSlots,
    echo: Option<Arc<EchoPeer>>,
}

impl Client {
    /// Opens the profile, connects signaling (starting the embedded server when no
    /// URL is configured) and starts the client task.
    ///
    /// Errors: the profile cannot be opened; the configured server is unreachable
    /// (the app shows it and lets the user fix the URL); the embedded server cannot
    /// bind.
    pub async fn start(config: ClientConfig) -> Result<(Client, mpsc::Receiver<ClientEvent>)> {
        task::start(config, None).await
    }

    /// Like [`Client::start`], and takes part in Nearby (issue 16): browses the
    /// local network for other Parleys all the time (the list arrives as
    /// [`ClientEvent::Nearby`]) and, when the embedded server is used and
    /// `nearby.visible`, announces it so they can find us. When mDNS cannot
    /// start (no multicast), a warning is logged and the list stays empty.
    /// Stops with the client.
    ///
    /// Errors: as [`Client::start`].
    pub async fn start_with_nearby(
        config: ClientConfig,
        nearby: NearbyOptions,
    ) -> Result<(Client, mpsc::Receiver<ClientEvent>)> {
        task::start(config, Some(nearby)).await
    }

    /// The profile (identity, contacts, settings, history).
    pub fn profile(&self) -> &Arc<Profile> {
        &self.profile
    }

    /// The id of the built-in "Echo test" contact, when it runs (it answers our
    /// calls with our own media; a new id at every start).
    pub fn echo_id(&self) -> Option<&PeerId> {
        self.echo.as_deref().map(EchoPeer::id)
    }

    /// The signaling connection's current state.
    pub fn connection(&self) -> ConnectionInfo {
        self.connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(make(tx))
            .await
            .map_err(|_| Error::from(CallError::ClientStopped))?;
        rx.await
            .map_err(|_| Error::from(CallError::ClientStopped))?
    }

    /// Calls a contact. Errors: a call is already running; signaling is down.
    pub async fn call(&self, id: PeerId) -> Result<CallInfo> {
        self.ask(|tx| Command::Call(id, tx)).await
    }

    /// Accepts the ringing incoming call `call_id`.
    pub async fn accept(&self, call_id: &str) -> Result<CallInfo> {
        let id = call_id.to_owned();
        self.ask(|tx| Command::Accept(id, tx)).await
    }

    /// Declines the ringing incoming call `call_id`.
    pub async fn decline(&self, call_id: &str) {
        let _ = self.cmd.send(Command::Decline(call_id.to_owned())).await;
    }

    /// Invites the contact `id` into the current call (a group call from then
    /// on; docs/protocol.md §6.4). The member shows as ringing in
    /// [`CallInfo::members`] until it joins; a refusal comes as a
    /// [`ClientEvent::Error`] (`invite_failed`) and the member goes away.
    /// Errors: not in a connected call; `id` is already in it.
    pub async fn invite(&self, id: PeerId) -> Result<CallInfo> {
        self.ask(|tx| Command::Invite(id, tx)).await
    }

    /// Ends (or cancels) the current call.
    pub async fn hangup(&self) {
        let _ = self.cmd.send(Command::Hangup).await;
    }

    /// Mutes the microphone / turns the camera off in the current call.
    pub async fn set_muted(&self, audio: bool, video: bool) -> Result<CallInfo> {
        self.ask(|tx| Command::SetMuted(audio, video, tx)).await
    }

    /// Shares the monitor or window `source_id` ([`ScreenSourceInfo::id`] from
    /// [`crate::media::screen::list_screen_sources`]) in the current call, replacing
    /// what was shared before.
    ///
    /// On Wayland (`portal`) this shows the desktop's dialog first and waits for
    /// the user's answer.
    ///
    /// Errors: [`Error::Media`] when the source is gone or cannot be captured, or
    /// the user cancelled the dialog; [`CallError`] when not in a call.
    ///
    /// [`ScreenSourceInfo::id`]: crate::media::screen::ScreenSourceInfo::id
    pub async fn share_screen(&self, source_id: &str) -> Result<CallInfo> {
        let target = ScreenTarget::Id(source_id.to_owned());
        let source = tokio::task::spawn_blocking(move || ScreenSource::open(&target))
            .await
            .map_err(|e| {
                Error::from(CallError::TaskFailed {
                    what: "screen capture",
                    cause: e.to_string(),
                })
            })??;
        // What the desktop's dialog picked has no name we know.
        let info = source.info();
        let name = (info.id != crate::media::screen::PORTAL_ID).then(|| info.name.clone());
        let feed = ScreenFeed(Box::new(source));
        self.ask(|tx| Command::ShareScreen(feed, name, tx)).await
    }

    /// Stops sharing the screen in the current call (a no-op when not sharing).
    ///
    /// Errors: [`CallError`] when not in a call.
    pub async fn stop_screen_share(&self) -> Result<CallInfo> {
        self.ask(Command::StopScreenShare).await
    }

    /// Sends a chat message to `peer`, peer to peer: on the call's chat channel
    /// when in a call with them, else on a data session with them (opened now if
    /// needed; docs/protocol.md §6.1). It is announced as a sent
    /// [`ClientEvent::Chat`] once it has left; a session that cannot be opened is
    /// reported as [`ClientEvent::Error`] `peer_unreachable`.
    ///
    /// Errors: [`CallError`] when `peer` is known to be offline.
    pub async fn send_chat(&self, peer: PeerId, text: String) -> Result<()> {
        self.ask(|tx| Command::Chat(peer, text, tx)).await
    }

    /// Offers files (folders are expanded) to `peer`, in a call with them or
    /// outside one, like [`Client::send_chat`]. They are queued in the profile
    /// until they arrive: when the connection drops or either app quits, they
    /// are offered again (same transfer ids) once `peer` is reachable, and the
    /// receiver resumes from what it holds. A declined or cancelled file leaves
    /// the queue; see [`Client::queued_files`].
    ///
    /// Errors: [`Error::Invalid`] when the paths hold no file; [`CallError`] when
    /// `peer` is known to be offline.
    pub async fn send_files(&self, peer: PeerId, paths: Vec<PathBuf>) -> Result<()> {
        self.queue_files(peer, paths).await.map(drop)
    }

    /// [`Client::send_files`], returning the transfer ids of the files and
    /// empty folders it queued (or found queued already), in order: each
    /// ends with a [`TransferEvent::Completed`] or [`TransferEvent::Failed`]
    /// event (a failure that will be tried again leaves it queued).
    ///
    /// Errors: as [`Client::send_files`].
    pub async fn queue_files(&self, peer: PeerId, paths: Vec<PathBuf>) -> Result<Vec<String>> {
        self.ask(|tx| Command::SendFiles(peer, paths, tx)).await
    }

    /// The files queued for `peer` (for everyone: `None`) that have not
    /// arrived yet, oldest first.
    ///
    /// Errors: [`Error::Storage`].
    pub fn queued_files(&self, peer: Option<&PeerId>) -> Result<Vec<crate::storage::OutboxEntry>> {
        self.profile.outbox(peer)
    }

    /// Accepts or declines an offered file, or cancels a transfer either way (in
    /// the call or a data session, whichever carries it); the outcome arrives as
    /// [`ClientEvent::Transfer`] events (a transfer that already ended is left
    /// alone).
    ///
    /// Errors: [`CallError`] when there is neither a call nor a data session.
    pub async fn transfer(&self, command: TransferCommand) -> Result<()> {
        self.ask(|tx| Command::Transfer(command, tx)).await
    }

    /// Re-opens the device of `kind` from the [`MediaProvider`] (after the user
    /// picked another one) and switches the current call over to it without a new
    /// offer/answer; outside a call there is nothing to do (the next call opens
    /// the new device anyway).
    ///
    /// Errors: [`Error::Media`] when the device cannot be opened (the call keeps
    /// the old one).
    pub async fn switch_device(&self, kind: DeviceKind) -> Result<()> {
        self.ask(|tx| Command::SwitchDevice(kind, tx)).await
    }

    /// Shows us to people on this network (announces the embedded server over
    /// mDNS) or stops (withdraws the announcement with goodbye packets, so they
    /// drop us within about a second). Browsing goes on either way. With another
    /// server, or without Nearby, there is nothing to announce: the choice is
    /// only remembered.
    ///
    /// Errors: the mDNS daemon refused ([`Error::Nearby`]).
    pub async fn set_nearby_visible(&self, visible: bool) -> Result<()> {
        self.ask(|tx| Command::SetNearbyVisible(visible, tx)).await
    }

    /// Announces `name` nearby from now on (after the user renamed themselves;
    /// discovery restarts, so the list is rebuilt within a second or so). A
    /// no-op without Nearby or when the name is the same.
    pub async fn set_nearby_name(&self, name: &str) {
        let _ = self.cmd.send(Command::SetNearbyName(name.to_owned())).await;
    }

    /// Re-reads the contact list and watches their presence.
    pub async fn refresh_contacts(&self) {
        let _ = self.cmd.send(Command::Watch).await;
    }

    /// The signaling client (for the invite link, diagnostics).
    pub fn signaling(&self) -> &SignalingClient {
        &self.signaling
    }

    /// Ends any call, stops Nearby, closes signaling and stops the embedded
    /// server.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// What a drop of `paths` sends: each file as itself (name `None`: its own
/// name), and each folder as the files below it, named by their path from the
/// folder's parent with `/` (`photos/2024/a.jpg`), plus an entry named
/// `photos/empty/` for every empty folder, so the folder arrives as a folder
/// (docs/protocol.md §8.3). Depth-first, sorted; symlinks are not followed
/// (skipped), nor is anything that is neither a file nor a folder. Each
/// dropped folder is one [`Batch`](crate::transfer::Batch) (a new random id,
/// its name, the number of entries and their total size, bytes), so the
/// receiver is asked once for all of it.
pub fn expand_dropped(paths: &[PathBuf]) -> Vec<crate::storage::ToQueue> {
    type Entries = Vec<(PathBuf, Option<String>, u64)>;
    fn walk(dir: &Path, rel: &str, out: &mut Entries) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        entries.sort();
        if entries.is_empty() {
            out.push((dir.to_path_buf(), Some(format!("{rel}/")), 0));
        }
        for p in entries {
            let Some(name) = p.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            let rel = format!("{rel}/{name}");
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => walk(&p, &rel, out),
                Ok(m) if m.is_file() => out.push((p, Some(rel), m.len())),
                _ => {}
            }
        }
    }
    use crate::storage::ToQueue;
    let mut out = Vec::new();
    for p in paths {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => {
                let name = p
                    .file_name()
                    .map_or_else(|| "folder".to_owned(), |n| n.to_string_lossy().into_owned());
                let mut entries = Vec::new();
                walk(p, &name, &mut entries);
                let batch = crate::transfer::Batch {
                    id: parley_proto::data::transfer_id_to_hex(&rand::random()),
                    name,
                    files: entries.len() as u64,
                    size: entries.iter().map(|e| e.2).sum(),
                };
                out.extend(entries.into_iter().map(|(path, name, size)| ToQueue {
                    path,
                    name,
                    batch: Some(batch.clone()),
                    size,
                }));
            }
            Ok(m) if m.is_file() => out.push(ToQueue {
                path: p.clone(),
                name: None,
                batch: None,
                size: m.len(),
            }),
            _ => {}
        }
    }
    out
}
