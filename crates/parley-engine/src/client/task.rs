//! The client's owner task: signaling dispatch, presence, the current call and
//! the data sessions.

mod data_sessions;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parley_proto::{CallKind, ClientMessage, PeerId, ServerMessage};
use tokio::sync::mpsc;

use super::members::{AppSinks, FrameSlots, Levels, MemberInfo, MemberState, SpeakerPicker};
use super::nearby::{ClientNearby, NearbyOptions};
use super::roster;
use super::sessions::{Sessions, IDLE_CHECK_MS};
use super::{
    expand_paths, CallDirection, CallInfo, CallPhase, Client, ClientConfig, ClientEvent, Command,
    ConnectionInfo, DeviceKind, EchoPeer, FrameSlot, PreviewSource, ServerState, COMMAND_QUEUE,
    EVENT_QUEUE,
};
use crate::call::CallError;
use crate::call::{
    new_call_id, Call, CallCommand, CallEvent, CallOptions, CameraFeed, Direction, FileToSend,
    MicrophoneFeed, SpeakerFeed,
};
use crate::signaling::{SignalEvent, SignalingClient};
use crate::storage::{Direction as ChatDirection, Profile};
use crate::{Error, Result};

/// Signaling messages forwarded to the running call, messages.
const CALL_SIGNAL_QUEUE: usize = 256;
/// How often the active speaker is picked from the members' audio levels, ms.
const SPEAKER_CHECK_MS: u64 = 250;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(super) async fn start(
    config: ClientConfig,
    nearby: Option<NearbyOptions>,
) -> Result<(Client, mpsc::Receiver<ClientEvent>)> {
    let profile = Arc::clone(&config.profile);
    let (server, url, embedded) = match &config.server_url {
        Some(url) => (None, url.clone(), false),
        None => {
            let (handle, url) = super::start_embedded_server(config.embedded_listen).await?;
            (Some(handle), url, true)
        }
    };
    let key = profile.identity().signing_key().clone();
    let (signaling, sig_rx) = SignalingClient::connect(&url, key).await?;
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
    let task = Task {
        config,
        profile,
        signaling,
        server,
        connection,
        events: ev_tx,
        remote_video: client.remote_video.clone(),
        local_video: client.local_video.clone(),
        presence: HashMap::new(),
        echo_id: echo.as_ref().map(|e| e.id().clone()),
        pending: None,
        pending_members: Vec::new(),
        pending_sfu: false,
        member_video: client.member_video.clone(),
        levels: Levels::default(),
        speaker: SpeakerPicker::default(),
        call: None,
        sessions: Sessions::default(),
        nearby,
    };
    task.watch_contacts().await;
    tokio::spawn(task.run(sig_rx, cmd_rx));
    Ok((client, ev_rx))
}

struct Active {
    call: Call,
    info: CallInfo,
    signals: mpsc::Sender<SignalEvent>,
}

struct Task {
    config: ClientConfig,
    profile: Arc<Profile>,
    signaling: SignalingClient,
    server: Option<parley_signal::ServerHandle>,
    connection: Arc<Mutex<ConnectionInfo>>,
    events: mpsc::Sender<ClientEvent>,
    remote_video: FrameSlot,
    local_video: FrameSlot,
    presence: HashMap<PeerId, bool>,
    echo_id: Option<PeerId>,
    pending: Option<CallInfo>,
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
    /// Nearby discovery, when the client takes part.
    nearby: Option<ClientNearby>,
}

impl Task {
    async fn run(
        mut self,
        mut sig_rx: mpsc::Receiver<SignalEvent>,
        mut cmd_rx: mpsc::Receiver<Command>,
    ) {
        let mut idle_check = tokio::time::interval(Duration::from_millis(IDLE_CHECK_MS));
        let mut speaker_check = tokio::time::interval(Duration::from_millis(SPEAKER_CHECK_MS));
        loop {
            tokio::select! {
                ev = sig_rx.recv() => match ev {
                    Some(ev) => self.on_signal(ev).await,
                    None => break,
                },
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
        self.signaling.close();
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    async fn emit(&self, ev: ClientEvent) {
        let _ = self.events.send(ev).await;
    }

    async fn watch_contacts(&self) {
        let ids: Vec<PeerId> = match self.profile.contacts() {
            Ok(c) => c
                .into_iter()
                .map(|c| c.id)
                .chain(self.echo_id.clone())
                .collect(),
            Err(e) => {
                tracing::warn!("contacts: {e}");
                return;
            }
        };
        let _ = self.signaling.watch(ids).await;
    }

    fn set_connection(&self, f: impl FnOnce(&mut ConnectionInfo)) -> ConnectionInfo {
        let mut c = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c);
        c.clone()
    }

    async fn on_signal(&mut self, ev: SignalEvent) {
        match ev {
            SignalEvent::Connected { .. } => {
                let info = self.set_connection(|c| {
                    c.state = ServerState::Online;
                    c.error = None;
                    c.retry_in_ms = None;
                });
                self.emit(ClientEvent::Connection(info)).await;
            }
            SignalEvent::Disconnected {
                reason,
                retry_in_ms,
            } => {
                let info = self.set_connection(|c| {
                    c.state = ServerState::Offline;
                    c.error = Some(reason);
                    c.retry_in_ms = Some(retry_in_ms);
                });
                self.emit(ClientEvent::Connection(info)).await;
            }
            SignalEvent::Message(msg) => self.on_server_message(msg).await,
        }
    }

    async fn on_server_message(&mut self, msg: ServerMessage) {
        if let Some(active) = &self.call {
            if msg.call_id() == Some(active.info.call_id.as_str()) {
                let _ = active.signals.send(SignalEvent::Message(msg)).await;
                return;
            }
        }
        if let Some(session) = msg.call_id().and_then(|id| self.sessions.by_call_id(id)) {
            let _ = session.signals.send(SignalEvent::Message(msg)).await;
            return;
        }
        match msg {
            ServerMessage::Presence { id, online } => {
                self.presence.insert(id.clone(), online);
                if !online {
                    // Its sessions cannot carry anything any more; the server
                    // normally says so with a hangup, this covers a lost one.
                    self.sessions.hang_up_peer(&id).await;
                }
                self.emit(ClientEvent::Presence { id, online }).await;
            }
            ServerMessage::Invite {
                call_id,
                from,
                kind: CallKind::Data,
                ..
            } => self.on_data_invite(call_id, from).await,
            ServerMessage::Invite {
                call_id,
                from,
                members,
                sfu,
                ..
            } => {
                if self.call.is_some() || self.pending.is_some() {
                    let _ = self
                        .signaling
                        .send(ClientMessage::Decline {
                            call_id,
                            reason: Some("busy".into()),
                        })
                        .await;
                    return;
                }
                let _ = self
                    .signaling
                    .send(ClientMessage::Ringing {
                        call_id: call_id.clone(),
                    })
                    .await;
                let mut info = new_info(call_id, from, CallDirection::In, CallPhase::RingingIn);
                for m in members.iter().filter(|m| **m != info.peer) {
                    info.members
                        .push(MemberInfo::new(m.clone(), MemberState::Connecting));
                }
                self.pending = Some(info.clone());
                self.pending_members = members;
                self.pending_sfu = sfu;
                self.emit(ClientEvent::IncomingCall(info)).await;
            }
            ServerMessage::Cancel { call_id, .. } | ServerMessage::Hangup { call_id, .. }
                if self.pending.as_ref().is_some_and(|p| p.call_id == call_id) =>
            {
                let mut info = self.pending.take().expect("checked");
                info.state = CallPhase::Ended;
                info.end_reason = Some("cancelled".into());
                self.emit(ClientEvent::Call(info)).await;
            }
            ServerMessage::Error {
                code,
                message,
                call_id: None,
            } => {
                tracing::warn!("server: {} {message}", code.as_str());
            }
            _ => {}
        }
    }

    async fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Call(peer, reply) => {
                let r = self
                    .start_call(Direction::Outgoing {
                        to: peer,
                        call_id: new_call_id(),
                    })
                    .await;
                let _ = reply.send(r);
            }
            Command::Accept(call_id, reply) => {
                let r = match self.pending.take() {
                    Some(p) if p.call_id == call_id => {
                        let members = std::mem::take(&mut self.pending_members);
                        let direction = if members.is_empty() {
                            Direction::Incoming {
                                call_id,
                                from: p.peer,
                            }
                        } else {
                            Direction::Join {
                                call_id,
                                from: p.peer,
                                members,
                            }
                        };
                        self.start_call(direction).await
                    }
                    other => {
                        self.pending = other;
                        Err(CallError::NotRinging.into())
                    }
                };
                let _ = reply.send(r);
            }
            Command::Decline(call_id) => {
                if self.pending.as_ref().is_some_and(|p| p.call_id == call_id) {
                    let mut info = self.pending.take().expect("checked");
                    let _ = self
                        .signaling
                        .send(ClientMessage::Decline {
                            call_id,
                            reason: None,
                        })
                        .await;
                    info.state = CallPhase::Ended;
                    info.end_reason = Some("declined".into());
                    self.emit(ClientEvent::Call(info)).await;
                }
            }
            Command::Hangup => {
                if let Some(a) = &self.call {
                    let _ = a.call.command(CallCommand::Hangup).await;
                }
            }
            Command::ShareScreen(feed, name, reply) => {
                let r = match &mut self.call {
                    Some(a) if a.info.state == CallPhase::Connected => {
                        let _ = a.call.command(CallCommand::ShareScreen(feed)).await;
                        a.info.sharing_screen = true;
                        a.info.sharing_name = name;
                        Ok(a.info.clone())
                    }
                    _ => {
                        // Closing a capture (a portal session) may wait a moment:
                        // not on this task.
                        tokio::task::spawn_blocking(move || drop(feed));
                        Err(CallError::NotConnected.into())
                    }
                };
                let _ = reply.send(r);
            }
            Command::StopScreenShare(reply) => {
                let r = match &mut self.call {
                    Some(a) => {
                        let _ = a.call.command(CallCommand::StopScreenShare).await;
                        a.info.sharing_screen = false;
                        a.info.sharing_name = None;
                        Ok(a.info.clone())
                    }
                    None => Err(CallError::NotInCall.into()),
                };
                let _ = reply.send(r);
            }
            Command::SetMuted(audio, video, reply) => {
                let r = match &mut self.call {
                    Some(a) => {
                        let _ = a.call.command(CallCommand::SetMuted { audio, video }).await;
                        a.info.muted_audio = audio;
                        a.info.muted_video = video;
                        Ok(a.info.clone())
                    }
                    None => Err(CallError::NotInCall.into()),
                };
                if let Ok(info) = &r {
                    self.emit(ClientEvent::Call(info.clone())).await;
                }
                let _ = reply.send(r);
            }
            Command::Invite(peer, reply) => {
                let r = self.invite(peer).await;
                if let Ok(info) = &r {
                    self.emit(ClientEvent::Call(info.clone())).await;
                }
                let _ = reply.send(r);
            }
            Command::Chat(peer, text, reply) => {
                let r = self
                    .send_to_peer(&peer, vec![CallCommand::Chat(text)])
                    .await;
                let _ = reply.send(r);
            }
            Command::SendFiles(peer, paths, reply) => {
                let files = expand_paths(&paths);
                let r = if files.is_empty() {
                    Err(Error::Invalid("nothing to send there".into()))
                } else {
                    let commands = files
                        .into_iter()
                        .map(|path| {
                            CallCommand::SendFile(FileToSend {
                                path,
                                name: None,
                                to: Some(peer.clone()),
                            })
                        })
                        .collect();
                    self.send_to_peer(&peer, commands).await
                };
                let _ = reply.send(r);
            }
            Command::Transfer(command, reply) => {
                // Transfer ids are unique: whichever call or session has it acts.
                let in_call = match &self.call {
                    Some(a) => a
                        .call
                        .command(CallCommand::Transfer(command.clone()))
                        .await
                        .is_ok(),
                    None => false,
                };
                let in_session = self
                    .sessions
                    .broadcast(|| CallCommand::Transfer(command.clone()))
                    .await;
                let r = if in_call || in_session {
                    Ok(())
                } else {
                    Err(CallError::NoSuchTransfer.into())
                };
                let _ = reply.send(r);
            }
            Command::SwitchDevice(kind, reply) => {
                let r = match &self.call {
                    Some(a) => match self.switch_command(kind) {
                        Ok(Some(command)) => a.call.command(command).await,
                        Ok(None) => Ok(()),
                        Err(e) => Err(e),
                    },
                    None => Ok(()),
                };
                let _ = reply.send(r);
            }
            Command::SetNearbyVisible(on, reply) => {
                let r = self.nearby.as_mut().map_or(Ok(()), |n| n.set_visible(on));
                let _ = reply.send(r);
            }
            Command::SetNearbyName(name) => {
                if let Some(nearby) = &mut self.nearby {
                    nearby.set_name(name).await;
                }
            }
            Command::Watch => self.watch_contacts().await,
            Command::Shutdown(_) => {}
        }
    }

    /// Opens the device of `kind` for a running call; `None` when there is none
    /// to switch to (no microphone: the call keeps what it has).
    fn switch_command(&self, kind: DeviceKind) -> Result<Option<CallCommand>> {
        let media = &self.config.media;
        Ok(match kind {
            DeviceKind::Camera => media.video_source()?.map(|v| {
                let preview = PreviewSource::new(v, self.config.local_video.clone());
                CallCommand::SwitchCamera(CameraFeed(Box::new(preview)))
            }),
            DeviceKind::Microphone => media
                .audio_source()?
                .map(|a| CallCommand::SwitchMicrophone(MicrophoneFeed(a))),
            // The call's AppSinks open each member's new speakers themselves
            // (with its level meter): the feed carries none.
            DeviceKind::Speaker => Some(CallCommand::SwitchSpeakers(SpeakerFeed(Vec::new()))),
        })
    }

    /// The current call when `peer` is a member of it.
    fn call_with(&self, peer: &PeerId) -> Option<&Active> {
        self.call
            .as_ref()
            .filter(|a| a.info.peer == *peer || a.info.members.iter().any(|m| m.id == *peer))
    }

    async fn start_call(&mut self, direction: Direction) -> Result<CallInfo> {
        if self.call.is_some() {
            return Err(CallError::AlreadyInCall.into());
        }
        let media = Arc::clone(&self.config.media);
        let video = media
            .video_source()?
            .map(|v| Box::new(PreviewSource::new(v, self.local_video.clone())) as _);
        self.member_video.clear();
        self.levels.clear();
        self.speaker = SpeakerPicker::default();
        let sinks = AppSinks {
            slots: self.member_video.clone(),
            first_video: Some(self.remote_video.clone()),
            screen: self.config.remote_screen.clone(),
            media: Arc::clone(&media),
            levels: self.levels.clone(),
        };
        let options = CallOptions {
            rtc: self.config.rtc.clone(),
            video_source: video,
            audio_source: media.audio_source()?,
            remote_sinks: Some(Box::new(sinks)),
            receive_dir: Some(self.config.download_dir.clone()),
            ask_before_receiving: self.config.ask_before_receiving,
            profile: Some(Arc::clone(&self.profile)),
            via_sfu: !matches!(direction, Direction::Outgoing { .. })
                && std::mem::take(&mut self.pending_sfu),
            ..Default::default()
        };
        let info = match &direction {
            Direction::Outgoing { to, call_id } => new_info(
                call_id.clone(),
                to.clone(),
                CallDirection::Out,
                CallPhase::RingingOut,
            ),
            Direction::Incoming { call_id, from } | Direction::Join { call_id, from, .. } => {
                new_info(
                    call_id.clone(),
                    from.clone(),
                    CallDirection::In,
                    CallPhase::Connecting,
                )
            }
        };
        let mut info = info;
        if let Direction::Join { from, members, .. } = &direction {
            for m in members.iter().filter(|m| *m != from) {
                info.members
                    .push(MemberInfo::new(m.clone(), MemberState::Connecting));
            }
        }
        let (sig_tx, sig_rx) = mpsc::channel(CALL_SIGNAL_QUEUE);
        let call = Call::start(self.signaling.clone(), sig_rx, direction, options);
        self.call = Some(Active {
            call,
            info: info.clone(),
            signals: sig_tx,
        });
        self.emit(ClientEvent::Call(info.clone())).await;
        Ok(info)
    }

    async fn on_call_event(&mut self, ev: Option<CallEvent>) {
        let Some(active) = self.call.as_mut() else {
            return;
        };
        let Some(ev) = ev else {
            self.end_call().await;
            return;
        };
        let change = roster::apply(&mut active.info, &ev, now_ms());
        let peer = active.info.peer.clone();
        if let Some(gone) = &change.left {
            self.member_video.remove_peer(gone);
            self.levels.remove(gone);
        }
        if change.changed {
            let info = active.info.clone();
            self.emit(ClientEvent::Call(info)).await;
        }
        match ev {
            CallEvent::InviteFailed { peer: who, reason } => {
                let name = who.as_ref().map(|p| self.name_of(p));
                let message = match name {
                    Some(name) => format!("{name} did not join: {reason}"),
                    None => format!("The invitation failed: {reason}"),
                };
                self.emit(ClientEvent::Error {
                    code: "invite_failed",
                    message,
                })
                .await
            }
            CallEvent::ChatReceived { peer, message } => {
                self.emit(ClientEvent::Chat {
                    peer,
                    message,
                    direction: ChatDirection::Received,
                })
                .await
            }
            CallEvent::ChatSent(message) => {
                self.emit(ClientEvent::Chat {
                    peer,
                    message,
                    direction: ChatDirection::Sent,
                })
                .await
            }
            CallEvent::ChatDelivered { id, .. } => {
                self.emit(ClientEvent::ChatDelivered { id }).await
            }
            CallEvent::Transfer { peer, event } => {
                self.emit(ClientEvent::Transfer { peer, event }).await
            }
            // The overlay shows the link to the first member.
            CallEvent::Stats { stats, peer: from } if from == peer => {
                self.emit(ClientEvent::Stats(stats)).await
            }
            CallEvent::Ended { .. } => self.end_call().await,
            _ => {}
        }
    }

    /// Invites `peer` into the connected call; it shows as ringing.
    async fn invite(&mut self, peer: PeerId) -> Result<CallInfo> {
        let Some(active) = self.call.as_mut() else {
            return Err(CallError::NotInCall.into());
        };
        if active.info.state != CallPhase::Connected {
            return Err(CallError::NotConnected.into());
        }
        if active.info.members.iter().any(|m| m.id == peer) {
            return Err(Error::Invalid(format!("{peer} is already in the call")));
        }
        active
            .call
            .command(CallCommand::Invite(peer.clone()))
            .await?;
        active
            .info
            .members
            .push(MemberInfo::new(peer, MemberState::Ringing));
        Ok(active.info.clone())
    }

    /// Marks the loudest member as the active speaker when that changed.
    async fn check_speaker(&mut self) {
        let levels = self.levels.snapshot();
        let Some(active) = self.call.as_mut() else {
            return;
        };
        let speaker = self.speaker.pick(&levels, std::time::Instant::now());
        if active.info.active_speaker != speaker {
            active.info.active_speaker = speaker;
            let info = active.info.clone();
            self.emit(ClientEvent::Call(info)).await;
        }
    }

    /// Waits for the current call's task and reports its end.
    async fn end_call(&mut self) {
        let Some(active) = self.call.take() else {
            return;
        };
        let _ = active.call.command(CallCommand::Hangup).await;
        let mut info = active.info;
        let result = active.call.finish().await;
        self.member_video.clear();
        self.levels.clear();
        info.active_speaker = None;
        info.state = CallPhase::Ended;
        info.end_reason = Some(match &result {
            Ok(report) => report.end_reason.clone(),
            Err(e) => e.to_string(),
        });
        if let Err(e) = result {
            self.emit(ClientEvent::Error {
                // A call that broke for a reason without its own code is shown
                // as "call failed", not "something went wrong".
                code: match e.code() {
                    "internal" => "call_failed",
                    code => code,
                },
                message: e.to_string(),
            })
            .await;
        }
        self.emit(ClientEvent::Call(info)).await;
    }
}

/// A call's first view: `peer` its only other member, ringing or connecting.
pub(super) fn new_info(
    call_id: String,
    peer: PeerId,
    direction: CallDirection,
    state: CallPhase,
) -> CallInfo {
    let member_state = match state {
        CallPhase::RingingOut => MemberState::Ringing,
        _ => MemberState::Connecting,
    };
    CallInfo {
        members: vec![MemberInfo::new(peer.clone(), member_state)],
        active_speaker: None,
        via_sfu: false,
        call_id,
        peer,
        direction,
        state,
        started_at_ms: None,
        muted_audio: false,
        muted_video: false,
        remote_muted_audio: false,
        remote_muted_video: false,
        end_reason: None,
        sharing_screen: false,
        sharing_name: None,
        remote_sharing: false,
        reconnecting: false,
    }
}
