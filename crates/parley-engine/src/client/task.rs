//! The client's owner task: signaling dispatch, presence, the current call,
//! the data sessions and the queue of files to send.

mod call;
mod commands;
mod data_sessions;
mod outbox;
mod servers;
mod signal;

pub(super) use self::call::new_info;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use parley_proto::PeerId;
use tokio::sync::{mpsc, watch};

use super::members::{FrameSlots, Levels, SpeakerPicker};
use super::nearby::{ClientNearby, NearbyOptions};
use super::outbox::OutboxState;
use super::presence::Presence;
use super::servers::{Servers, Tagged, Via};
use super::sessions::{Sessions, IDLE_CHECK_MS};
use super::{
    CallInfo, Client, ClientConfig, ClientEvent, Command, ConnectionInfo, EchoPeer, FrameSlot,
    ServerState, COMMAND_QUEUE, EVENT_QUEUE,
};
use crate::call::Call;
use crate::nearby::NearbyPeer;
use crate::signaling::{SignalEvent, SignalingClient};
use crate::storage::Profile;
use crate::Result;

/// Signaling messages forwarded to the running call, messages.
const CALL_SIGNAL_QUEUE: usize = 256;
/// How often the active speaker is picked from the members' audio levels, ms.
const SPEAKER_CHECK_MS: u64 = 250;
/// How often the nearby servers joined are checked against the list (to leave
/// those whose owners are gone), ms.
const SERVERS_CHECK_MS: u64 = 1_000;

pub(super) async fn start(
    config: ClientConfig,
    nearby: Option<NearbyOptions>,
) -> Result<(Client, mpsc::Receiver<ClientEvent>)> {
    let profile = Arc::clone(&config.profile);
    let (server, url, embedded) = match &config.server_url {
        Some(url) => (None, url.clone(), false),
        None => {
            let owner = profile.identity().id();
            let (handle, url) = super::start_embedded_server(config.embedded_listen, owner).await?;
            (Some(handle), url, true)
        }
    };
    let key = profile.identity().signing_key().clone();
    let (signaling, sig_rx) = SignalingClient::connect(&url, key.clone()).await?;
    let echo = if config.echo_test {
        let owner = profile.identity().id();
        match EchoPeer::start(&url, owner, config.rtc.clone()).await {
            Ok(e) => Some(Arc::new(e)),
            Err(e) => {
                tracing::warn!("echo test contact: {e}");
                None
            }
        }
    } else {
        None
    };
    let connection = Arc::new(Mutex::new(ConnectionInfo {
        state: ServerState::Online,
        url: url.clone(),
        embedded,
        error: None,
        retry_in_ms: None,
    }));
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
    let client = Client {
        cmd: cmd_tx,
        profile: Arc::clone(&profile),
        signaling: signaling.clone(),
        connection: Arc::clone(&connection),
        remote_video: config.remote_video.clone(),
        local_video: config.local_video.clone(),
        remote_screen: config.remote_screen.clone(),
        member_video: FrameSlots::default(),
        echo: echo.clone(),
    };
    // The embedded server's port is what Nearby announces; 0: another server.
    let port = server.as_ref().map_or(0, |s| s.local_addr().port());
    let nearby = match nearby {
        Some(opts) => Some(ClientNearby::start(&profile, opts, port, ev_tx.clone()).await),
        None => None,
    };
    let nearby_list = nearby.as_ref().map(ClientNearby::subscribe);
    let (servers, tagged_rx) = Servers::new(signaling, sig_rx, url, port, key);
    let task = Task {
        config,
        profile,
        servers,
        nearby_list,
        server,
        connection,
        events: ev_tx,
        remote_video: client.remote_video.clone(),
        local_video: client.local_video.clone(),
        presence: Presence::default(),
        echo_id: echo.as_ref().map(|e| e.id().clone()),
        pending: None,
        pending_via: Via::Home,
        pending_members: Vec::new(),
        pending_sfu: false,
        member_video: client.member_video.clone(),
        levels: Levels::default(),
        speaker: SpeakerPicker::default(),
        call: None,
        sessions: Sessions::default(),
        outbox: OutboxState::default(),
        nearby,
    };
    task.watch_contacts().await;
    tokio::spawn(task.run(tagged_rx, cmd_rx));
    Ok((client, ev_rx))
}

struct Active {
    call: Call,
    info: CallInfo,
    signals: mpsc::Sender<SignalEvent>,
    /// The server the call runs through.
    via: Via,
}

struct Task {
    config: ClientConfig,
    profile: Arc<Profile>,
    /// Our server and the nearby servers joined.
    servers: Servers,
    /// The people found nearby, while discovery runs.
    nearby_list: Option<watch::Receiver<Vec<NearbyPeer>>>,
    server: Option<parley_signal::ServerHandle>,
    connection: Arc<Mutex<ConnectionInfo>>,
    events: mpsc::Sender<ClientEvent>,
    remote_video: FrameSlot,
    local_video: FrameSlot,
    /// Presence merged over the servers.
    presence: Presence,
    echo_id: Option<PeerId>,
    pending: Option<CallInfo>,
    /// The server `pending` came through.
    pending_via: Via,
    /// The members of the group call `pending` invites us into (empty for a
    /// one-to-one call).
    pending_members: Vec<PeerId>,
    /// Whether `pending`'s media goes through an SFU (its invite said so).
    pending_sfu: bool,
    /// Each member's decoded video (shared with [`Client::member_video`]).
    member_video: FrameSlots,
    /// Each member's audio level, for the active speaker.
    levels: Levels,
    speaker: SpeakerPicker,
    call: Option<Active>,
    /// Data sessions: chat and files outside a call.
    sessions: Sessions,
    /// Queued files to send on their way or waiting for their next attempt.
    outbox: OutboxState,
    /// Nearby discovery, when the client takes part.
    nearby: Option<ClientNearby>,
}

impl Task {
    async fn run(
        mut self,
        mut tagged_rx: mpsc::Receiver<Tagged>,
        mut cmd_rx: mpsc::Receiver<Command>,
    ) {
        let mut idle_check = tokio::time::interval(Duration::from_millis(IDLE_CHECK_MS));
        let mut speaker_check = tokio::time::interval(Duration::from_millis(SPEAKER_CHECK_MS));
        let mut servers_check = tokio::time::interval(Duration::from_millis(SERVERS_CHECK_MS));
        loop {
            tokio::select! {
                ev = tagged_rx.recv() => match ev {
                    Some((via, Some(ev))) => self.on_signal(via, ev).await,
                    // The home connection is gone for good.
                    Some((Via::Home, None)) | None => break,
                    Some((via, None)) => self.on_server_gone(&via).await,
                },
                Ok(()) = async { self.nearby_list.as_mut().expect("guarded").changed().await },
                    if self.nearby_list.is_some() => self.sync_servers().await,
                _ = servers_check.tick(), if self.nearby_list.is_some() => {
                    self.sync_servers().await
                }
                cmd = cmd_rx.recv() => match cmd {
                    Some(Command::Shutdown(done)) => {
                        self.stop().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(cmd) => self.on_command(cmd).await,
                    None => break,
                },
                ev = async { self.call.as_mut().expect("guarded").call.next_event().await },
                    if self.call.is_some() => self.on_call_event(ev).await,
                (call_id, ev) = self.sessions.next_event(), if !self.sessions.is_empty() => {
                    self.on_session_event(call_id, ev).await
                }
                _ = idle_check.tick() => self.sessions.hang_up_idle().await,
                _ = async {
                    match self.outbox.next_due() {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                } => self.retry_due().await,
                _ = speaker_check.tick(), if self.call.is_some() => self.check_speaker().await,
            }
        }
        self.stop().await;
    }

    /// Ends the call and the sessions, withdraws our Nearby announcement,
    /// closes signaling and stops the embedded server.
    async fn stop(&mut self) {
        self.end_call().await;
        self.end_sessions().await;
        if let Some(mut nearby) = self.nearby.take() {
            nearby.stop().await;
        }
        self.servers.close_all();
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    async fn emit(&self, ev: ClientEvent) {
        let _ = self.events.send(ev).await;
    }

    fn set_connection(&self, f: impl FnOnce(&mut ConnectionInfo)) -> ConnectionInfo {
        let mut c = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c);
        c.clone()
    }
}
