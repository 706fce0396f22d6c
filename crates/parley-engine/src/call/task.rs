//! The task that owns a call from invite to hangup.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_proto::binding::DescriptionType;
use parley_proto::data::{ControlFrame, CHAT_LABEL, CONTROL_LABEL, FILE_LABEL};
use parley_proto::{ClientMessage, PeerId, ServerMessage};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::data::{self, Internal};
use super::devices;
use super::media::{self, Counters, Mute, VideoRole};
use super::negotiate::{self, RingOutcome};
use super::{
    CallCommand, CallEvent, CallOptions, CallReport, Direction, LiveStats, CAMERA_TRACK_ID,
    CONNECT_TIMEOUT_MS, SCREEN_TRACK_ID,
};
use crate::channel::DcMessage;
use crate::media::{AudioSource, VideoSource};
use crate::rtc::{
    ConnectionState, DataChannel, IceCandidate, LocalTrack, MediaKind, PeerConnection, RtcEvent,
};
use crate::signaling::{SignalEvent, SignalingClient};
use crate::transfer::{TransferDirection, TransferEvent};
use crate::{Error, Result};

/// Internal queue capacity between the call's subtasks and its owner, messages.
const INTERNAL_QUEUE: usize = 64;
/// Period of [`CallEvent::Stats`], ms.
const LIVE_STATS_INTERVAL_MS: u64 = 1_000;
/// How long the end of a call waits for its subtasks, ms.
const SHUTDOWN_GRACE_MS: u64 = 1_500;
/// Control frames waiting for the control channel to open, frames.
const CONTROL_QUEUE: usize = 16;

/// The screen being shared: its number (to ignore late news of an earlier share)
/// and the switch that stops its pipeline.
struct SharedScreen {
    generation: u64,
    stop: watch::Sender<bool>,
}

struct Live {
    sig: SignalingClient,
    call_id: String,
    peer: PeerId,
    pc: PeerConnection,
    events: mpsc::Sender<CallEvent>,
    internal_tx: mpsc::Sender<Internal>,
    stop_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    counters: Arc<Counters>,
    mute: Arc<Mute>,
    report: CallReport,
    accepted_at: Instant,
    remote_description_set: bool,
    pending_candidates: Vec<IceCandidate>,
    chat_more: Option<mpsc::Sender<String>>,
    files_more: Option<mpsc::UnboundedSender<super::FileToSend>>,
    transfer_commands: Option<mpsc::Sender<crate::transfer::TransferCommand>>,
    control: Option<DataChannel>,
    control_tx: mpsc::Sender<ControlFrame>,
    control_rx: Option<mpsc::Receiver<ControlFrame>>,
    local_tracks: Vec<Arc<LocalTrack>>,
    screen_track: Arc<LocalTrack>,
    screen: Option<SharedScreen>,
    screen_generation: u64,
    video_track: Option<Arc<LocalTrack>>,
    audio_track: Option<Arc<LocalTrack>>,
    camera: Option<devices::Running>,
    microphone: Option<devices::Running>,
    speakers_tx: Option<mpsc::Sender<Vec<Box<dyn super::AudioSink>>>>,
    chat_done: bool,
    files_done: bool,
    sends_done_reported: bool,
    failure: Option<Error>,
}

pub(super) async fn run(
    sig: SignalingClient,
    mut sig_rx: mpsc::Receiver<SignalEvent>,
    direction: Direction,
    mut opts: CallOptions,
    mut cmd_rx: mpsc::Receiver<CallCommand>,
    events: mpsc::Sender<CallEvent>,
) -> Result<CallReport> {
    // The user's own ICE servers win; otherwise those the signaling server handed out.
    if opts.rtc.ice_servers.is_empty() {
        opts.rtc.ice_servers = sig.ice_servers();
    }
    if opts.rtc.certificate.is_none() {
        opts.rtc.certificate = opts.profile.as_ref().map(|p| p.dtls_certificate().clone());
    }
    let (pc, mut rtc_rx) = PeerConnection::new(&opts.rtc).await?;
    // Every call has the same three transceivers in the same order on both sides
    // (docs/protocol.md §8.4), so the screen can start and stop mid-call without
    // renegotiation; a track without a source sends nothing.
    let video_track = Arc::new(
        pc.add_track(MediaKind::Video, "parley", CAMERA_TRACK_ID)
            .await?,
    );
    let audio_track = Arc::new(
        pc.add_track(MediaKind::Audio, "parley", "microphone")
            .await?,
    );
    let screen_track = Arc::new(
        pc.add_track(MediaKind::Video, "parley-screen", SCREEN_TRACK_ID)
            .await?,
    );
    let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE);
    let (internal_tx, mut internal_rx) = mpsc::channel(INTERNAL_QUEUE);
    let (stop_tx, _) = watch::channel(false);

    let (call_id, peer, offerer) = match &direction {
        Direction::Outgoing { to, call_id } => (call_id.clone(), to.clone(), true),
        Direction::Incoming { call_id, from } => (call_id.clone(), from.clone(), false),
    };
    let mut live = Live {
        sig: sig.clone(),
        call_id: call_id.clone(),
        peer: peer.clone(),
        pc: pc.clone(),
        events: events.clone(),
        internal_tx,
        stop_tx,
        tasks: Vec::new(),
        counters: Arc::new(Counters::default()),
        mute: Arc::new(Mute::default()),
        report: CallReport {
            call_id: call_id.clone(),
            ..Default::default()
        },
        accepted_at: Instant::now(),
        remote_description_set: false,
        pending_candidates: Vec::new(),
        chat_more: None,
        files_more: None,
        transfer_commands: None,
        control: None,
        control_tx,
        control_rx: Some(control_rx),
        local_tracks: vec![
            Arc::clone(&video_track),
            Arc::clone(&audio_track),
            Arc::clone(&screen_track),
        ],
        screen_track,
        screen: None,
        screen_generation: 0,
        video_track: None,
        audio_track: None,
        camera: None,
        microphone: None,
        speakers_tx: None,
        chat_done: opts.chat.is_empty(),
        files_done: opts.send_files.is_empty(),
        sends_done_reported: false,
        failure: None,
    };

    // The offerer creates the channels; the answerer receives them as events.
    let mut own_channels = Vec::new();
    if offerer {
        for label in [CHAT_LABEL, FILE_LABEL, CONTROL_LABEL] {
            own_channels.push(pc.create_data_channel(label).await?);
        }
    }

    match &direction {
        Direction::Outgoing { to, .. } => {
            match negotiate::ring(
                &sig,
                &mut sig_rx,
                &mut cmd_rx,
                &events,
                &call_id,
                to,
                &mut opts,
            )
            .await
            {
                Ok(RingOutcome::Accepted) => {}
                Ok(RingOutcome::CancelledByUs) => {
                    pc.close().await;
                    live.report.end_reason = "cancelled".into();
                    let _ = events
                        .send(CallEvent::Ended {
                            reason: "cancelled".into(),
                        })
                        .await;
                    return Ok(live.report);
                }
                Err(e) => {
                    pc.close().await;
                    return Err(e);
                }
            }
        }
        Direction::Incoming { call_id, .. } => {
            sig.send(ClientMessage::Ringing {
                call_id: call_id.clone(),
            })
            .await?;
            sig.send(ClientMessage::Accept {
                call_id: call_id.clone(),
            })
            .await?;
        }
    }
    live.accepted_at = Instant::now();
    // Listed in `resume` after a signaling reconnect until the call ends.
    let _hold = sig.hold_call(&call_id, &peer, opts.kind);
    let _ = events.send(CallEvent::Accepted).await;

    for (dc, rx) in own_channels {
        live.attach_channel(dc, rx, &mut opts);
    }
    if offerer {
        let sdp = pc.create_offer().await?;
        let signature =
            negotiate::sign_description(&sig, &call_id, &peer, DescriptionType::Offer, &sdp)?;
        sig.send(ClientMessage::Offer {
            call_id: call_id.clone(),
            sdp,
            sig: Some(signature),
        })
        .await?;
    }

    let connect_deadline = tokio::time::sleep(Duration::from_millis(CONNECT_TIMEOUT_MS));
    tokio::pin!(connect_deadline);
    let mut connected = false;
    let mut stats_tick = tokio::time::interval(Duration::from_millis(LIVE_STATS_INTERVAL_MS));
    let mut stats_prev = (0u64, 0u64, Instant::now());
    let end_reason: String = loop {
        tokio::select! {
            _ = stats_tick.tick(), if connected => {
                let s = live.live_stats(&mut stats_prev).await;
                let _ = events.try_send(CallEvent::Stats(s));
            }
            _ = &mut connect_deadline, if !connected => {
                live.failure = Some(Error::Call("the connection did not come up in time".into()));
                break "connection timed out".into();
            }
            cmd = cmd_rx.recv() => match cmd {
                Some(CallCommand::Hangup) | None => {
                    live.send_hangup().await;
                    break "hung up".into();
                }
                // Before its data channel opens, a message or file waits in `opts`.
                Some(CallCommand::Chat(text)) => match &live.chat_more {
                    Some(tx) => { let _ = tx.send(text).await; }
                    None => opts.chat.push(text),
                },
                Some(CallCommand::SendFile(file)) => match &live.files_more {
                    Some(tx) => { let _ = tx.send(file); }
                    None => opts.send_files.push(file),
                },
                Some(CallCommand::Transfer(command)) => {
                    if let Some(tx) = &live.transfer_commands { let _ = tx.send(command).await; }
                }
                Some(CallCommand::SetMuted { audio, video }) => live.set_muted(audio, video).await,
                Some(CallCommand::ShareScreen(feed)) => {
                    live.start_screen(feed.0, opts.screen_bitrate_bps).await;
                }
                Some(CallCommand::StopScreenShare) => live.stop_screen().await,
                Some(CallCommand::SwitchCamera(feed)) => {
                    live.switch_camera(feed.0, &mut opts).await;
                }
                Some(CallCommand::SwitchMicrophone(feed)) => {
                    live.switch_microphone(feed.0, &mut opts).await;
                }
                Some(CallCommand::SwitchSpeakers(feed)) => match &live.speakers_tx {
                    Some(tx) => { let _ = tx.send(feed.0).await; }
                    None => opts.audio_sinks = feed.0,
                },
            },
            ev = sig_rx.recv() => match ev {
                Some(SignalEvent::Message(msg)) => {
                    if msg.call_id() != Some(call_id.as_str()) { continue; }
                    if let Some(reason) = live.on_signal(msg).await { break reason; }
                }
                Some(SignalEvent::Disconnected { reason, .. }) => {
                    tracing::warn!("signaling lost during the call ({reason}); media continues");
                }
                Some(_) => {}
                None => tracing::warn!("signaling gone; the call continues peer to peer"),
            },
            ev = rtc_rx.recv() => match ev {
                Some(RtcEvent::LocalCandidate(c)) => {
                    let _ = negotiate::send_candidate(&sig, &call_id, c).await;
                }
                // End of candidates (docs/protocol.md §4): an empty candidate.
                Some(RtcEvent::GatheringComplete) => {
                    let end = IceCandidate {
                        candidate: String::new(),
                        sdp_mid: Some("0".into()),
                        sdp_mline_index: Some(0),
                    };
                    let _ = negotiate::send_candidate(&sig, &call_id, end).await;
                }
                Some(RtcEvent::State(ConnectionState::Connected)) => {
                    if !connected {
                        connected = true;
                        live.report.connect_ms = Some(live.accepted_at.elapsed().as_millis() as u64);
                        let _ = events.send(CallEvent::Connected).await;
                        live.start_senders(&mut opts, video_track.clone(), audio_track.clone());
                        if let Some(source) = opts.screen_source.take() {
                            live.start_screen(source, opts.screen_bitrate_bps).await;
                        }
                    }
                }
                Some(RtcEvent::State(ConnectionState::Failed)) => {
                    live.failure = Some(Error::Call("the connection failed (ICE or DTLS)".into()));
                    live.send_hangup().await;
                    break "connection failed".into();
                }
                Some(RtcEvent::State(ConnectionState::Closed)) => break "connection closed".into(),
                Some(RtcEvent::DataChannel(dc, rx)) => live.attach_channel(dc, rx, &mut opts),
                Some(RtcEvent::Track(t)) => live.attach_track(t, &mut opts).await,
                Some(_) => {}
                None => break "connection gone".into(),
            },
            Some(msg) = internal_rx.recv() => {
                if let Some(reason) = live.on_internal(msg).await { break reason; }
            }
        }
    };
    live.finish(end_reason).await
}

impl Live {
    async fn on_signal(&mut self, msg: ServerMessage) -> Option<String> {
        match msg {
            ServerMessage::Offer { sdp, sig, .. } => {
                let kind = DescriptionType::Offer;
                if let Err(e) = self.verify(kind, &sdp, sig.as_deref()) {
                    return Some(self.refuse(e, negotiate::TAMPERED_REASON).await);
                }
                // Without our codec in a section we send on, webrtc-rs could not
                // answer ("RTPSender created with no codecs"): say why instead.
                if let Err(e) = crate::rtc::check_offered_codecs(&sdp) {
                    return Some(self.refuse(e, negotiate::UNSUPPORTED_CODECS_REASON).await);
                }
                match self.pc.answer_offer(&sdp).await {
                    Ok(answer) => {
                        let signature = match negotiate::sign_description(
                            &self.sig,
                            &self.call_id,
                            &self.peer,
                            DescriptionType::Answer,
                            &answer,
                        ) {
                            Ok(s) => s,
                            Err(e) => return Some(self.fail(e, "bad answer").await),
                        };
                        let _ = self
                            .sig
                            .send(ClientMessage::Answer {
                                call_id: self.call_id.clone(),
                                sdp: answer,
                                sig: Some(signature),
                            })
                            .await;
                        self.remote_description_set = true;
                        self.flush_candidates().await;
                    }
                    Err(e) => return Some(self.fail(e, "bad offer").await),
                }
            }
            ServerMessage::Answer { sdp, sig, .. } => {
                if let Err(e) = self.verify(DescriptionType::Answer, &sdp, sig.as_deref()) {
                    return Some(self.refuse(e, negotiate::TAMPERED_REASON).await);
                }
                match self.pc.apply_answer(&sdp).await {
                    Ok(()) => {
                        self.remote_description_set = true;
                        self.flush_candidates().await;
                    }
                    Err(e) => return Some(self.fail(e, "bad answer").await),
                }
            }
            ServerMessage::Candidate {
                candidate,
                sdp_mid,
                sdp_mline_index,
                ..
            } => {
                if candidate.is_empty() {
                    // End of candidates: nothing to apply; ICE goes on with what it has.
                    return None;
                }
                let c = IceCandidate {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                };
                if self.remote_description_set {
                    if let Err(e) = self.pc.add_ice_candidate(c).await {
                        tracing::warn!("remote candidate: {e}");
                    }
                } else {
                    self.pending_candidates.push(c);
                }
            }
            ServerMessage::Hangup {
                reason: Some(reason),
                ..
            } if reason == negotiate::TAMPERED_REASON => {
                self.failure = Some(Error::Tampered(format!(
                    "{} refused our description: its signature did not reach it intact",
                    self.peer
                )));
                return Some("tampered".into());
            }
            ServerMessage::Hangup {
                reason: Some(reason),
                ..
            } if reason == negotiate::UNSUPPORTED_CODECS_REASON => {
                self.failure = Some(Error::Call(format!(
                    "{} refused the call: it supports none of the codecs we offered \
                     for a media section (we send H.264 video and Opus audio)",
                    self.peer
                )));
                return Some(reason);
            }
            ServerMessage::Hangup { .. } | ServerMessage::Cancel { .. } => {
                return Some("the other side hung up".into())
            }
            ServerMessage::Error { code, message, .. } => {
                tracing::warn!("server error for this call: {} {message}", code.as_str());
            }
            _ => {}
        }
        None
    }

    /// Checks the peer's signature on a description it sent (docs/protocol.md §6.3).
    fn verify(&self, kind: DescriptionType, sdp: &str, signature: Option<&str>) -> Result<()> {
        negotiate::verify_description(&self.sig, &self.call_id, &self.peer, kind, sdp, signature)
    }

    /// Ends the call on a description we refused: nothing was applied, so no ICE,
    /// DTLS, media or data starts; the peer is told why in the `hangup`'s
    /// `reason`, which is also our end reason.
    async fn refuse(&mut self, e: Error, reason: &str) -> String {
        self.failure = Some(e);
        let _ = self
            .sig
            .send(ClientMessage::Hangup {
                call_id: self.call_id.clone(),
                reason: Some(reason.into()),
            })
            .await;
        reason.into()
    }

    /// Ends the call on a local failure `e`, telling the peer.
    async fn fail(&mut self, e: Error, reason: &str) -> String {
        self.failure = Some(e);
        self.send_hangup().await;
        reason.into()
    }

    async fn flush_candidates(&mut self) {
        for c in std::mem::take(&mut self.pending_candidates) {
            if let Err(e) = self.pc.add_ice_candidate(c).await {
                tracing::warn!("remote candidate: {e}");
            }
        }
    }

    async fn on_internal(&mut self, msg: Internal) -> Option<String> {
        match msg {
            Internal::FirstFrame(at) => {
                let ms = at.saturating_duration_since(self.accepted_at).as_millis() as u64;
                if self.report.setup_ms.is_none() {
                    self.report.setup_ms = Some(ms);
                    let _ = self
                        .events
                        .send(CallEvent::FirstRemoteFrame { setup_ms: ms })
                        .await;
                }
            }
            Internal::ChatSendsDone => self.chat_done = true,
            Internal::FileSendsDone => self.files_done = true,
            Internal::TransferFailed(reason) => self.report.transfer_errors.push(reason),
            Internal::RemoteHangup => return Some("the other side hung up".into()),
            Internal::ScreenSourceEnded(generation) => {
                if self.screen.as_ref().map(|s| s.generation) == Some(generation) {
                    self.stop_screen().await;
                }
            }
            Internal::Event(ev) => {
                match &ev {
                    CallEvent::ChatReceived(_) => self.report.chat_received += 1,
                    CallEvent::ChatDelivered { .. } => self.report.chat_sent += 1,
                    CallEvent::Transfer(TransferEvent::Completed { direction, .. }) => {
                        match direction {
                            TransferDirection::Sending => self.report.files_sent += 1,
                            TransferDirection::Receiving => self.report.files_received += 1,
                        }
                    }
                    _ => {}
                }
                let _ = self.events.send(ev).await;
            }
        }
        if self.chat_done && self.files_done && !self.sends_done_reported {
            self.sends_done_reported = true;
            let _ = self.events.send(CallEvent::SendsDone).await;
        }
        None
    }

    fn attach_channel(
        &mut self,
        dc: DataChannel,
        rx: mpsc::Receiver<DcMessage>,
        opts: &mut CallOptions,
    ) {
        let stop = self.stop_tx.subscribe();
        match dc.label() {
            CHAT_LABEL => {
                let (tx, more) = mpsc::channel(32);
                self.chat_more = Some(tx);
                self.tasks.push(tokio::spawn(data::run_chat(
                    dc,
                    rx,
                    std::mem::take(&mut opts.chat),
                    more,
                    self.internal_tx.clone(),
                    opts.profile.clone(),
                    self.peer.clone(),
                    stop,
                )));
            }
            FILE_LABEL => {
                let (tx, more) = mpsc::unbounded_channel();
                self.files_more = Some(tx);
                let (tx, commands) = mpsc::channel(32);
                self.transfer_commands = Some(tx);
                let plan = data::FilePlan {
                    initial: std::mem::take(&mut opts.send_files),
                    more,
                    commands,
                    receive_dir: opts.receive_dir.clone(),
                    ask: opts.ask_before_receiving,
                };
                self.tasks.push(tokio::spawn(data::run_files(
                    dc,
                    rx,
                    plan,
                    self.internal_tx.clone(),
                    stop,
                )));
            }
            CONTROL_LABEL => {
                self.control = Some(dc.clone());
                self.tasks.push(tokio::spawn(data::run_control(
                    rx,
                    self.internal_tx.clone(),
                )));
                if let Some(queue) = self.control_rx.take() {
                    // It starts with our mute state (docs/protocol.md §8.2).
                    let mute = Arc::clone(&self.mute);
                    self.tasks.push(tokio::spawn(data::send_control_queue(
                        dc, queue, mute, stop,
                    )));
                }
            }
            other => tracing::warn!("ignoring unknown data channel {other:?}"),
        }
    }

    async fn attach_track(&mut self, track: crate::rtc::RemoteTrack, opts: &mut CallOptions) {
        match track.kind() {
            MediaKind::Video if track.id().await == SCREEN_TRACK_ID => {
                self.tasks.extend(media::spawn_video_receiver(
                    VideoRole::Screen,
                    track,
                    std::mem::take(&mut opts.screen_sinks),
                    Arc::clone(&self.counters),
                    None,
                    self.stop_tx.subscribe(),
                ));
            }
            MediaKind::Video => {
                let (first_tx, mut first_rx) = mpsc::channel(1);
                let internal = self.internal_tx.clone();
                self.tasks.push(tokio::spawn(async move {
                    if let Some(at) = first_rx.recv().await {
                        let _ = internal.send(Internal::FirstFrame(at)).await;
                    }
                }));
                self.tasks.extend(media::spawn_video_receiver(
                    VideoRole::Camera,
                    track,
                    std::mem::take(&mut opts.video_sinks),
                    Arc::clone(&self.counters),
                    Some(first_tx),
                    self.stop_tx.subscribe(),
                ));
            }
            MediaKind::Audio => {
                let (tx, swap) = mpsc::channel(2);
                self.speakers_tx = Some(tx);
                self.tasks.extend(media::spawn_audio_receiver(
                    track,
                    std::mem::take(&mut opts.audio_sinks),
                    swap,
                    Arc::clone(&self.counters),
                    self.stop_tx.subscribe(),
                ))
            }
        }
    }

    fn start_senders(
        &mut self,
        opts: &mut CallOptions,
        video: Arc<LocalTrack>,
        audio: Arc<LocalTrack>,
    ) {
        self.video_track = Some(video);
        self.audio_track = Some(audio);
        if let Some(source) = opts.video_source.take() {
            self.start_camera(source, opts.video_bitrate_bps);
        }
        if let Some(source) = opts.audio_source.take() {
            self.start_microphone(source);
        }
    }

    fn start_camera(&mut self, source: Box<dyn VideoSource>, bitrate_bps: u32) {
        let Some(track) = self.video_track.clone() else {
            return;
        };
        let (stop, stop_rx) = devices::linked_stop(&self.stop_tx, &mut self.tasks);
        let tasks = media::spawn_video_sender(
            VideoRole::Camera,
            track,
            source,
            bitrate_bps,
            stop_rx,
            Arc::clone(&self.counters),
            Arc::clone(&self.mute),
        );
        self.camera = Some(devices::Running { stop, tasks });
    }

    fn start_microphone(&mut self, source: Box<dyn AudioSource>) {
        let Some(track) = self.audio_track.clone() else {
            return;
        };
        let (stop, stop_rx) = devices::linked_stop(&self.stop_tx, &mut self.tasks);
        let tasks = media::spawn_audio_sender(
            track,
            source,
            super::DEFAULT_AUDIO_BITRATE_BPS,
            stop_rx,
            Arc::clone(&self.counters),
            Arc::clone(&self.mute),
        );
        self.microphone = Some(devices::Running { stop, tasks });
    }

    /// Replaces the camera (before the connection: the one the call will start).
    async fn switch_camera(&mut self, source: Box<dyn VideoSource>, opts: &mut CallOptions) {
        if self.video_track.is_none() {
            opts.video_source = Some(source);
            return;
        }
        if let Some(old) = self.camera.take() {
            old.stop().await;
        }
        tracing::info!(
            "camera switched ({}x{} at {} frames/s)",
            source.width(),
            source.height(),
            source.fps()
        );
        self.start_camera(source, opts.video_bitrate_bps);
    }

    /// Replaces the microphone (before the connection: the one the call will start).
    async fn switch_microphone(&mut self, source: Box<dyn AudioSource>, opts: &mut CallOptions) {
        if self.audio_track.is_none() {
            opts.audio_source = Some(source);
            return;
        }
        if let Some(old) = self.microphone.take() {
            old.stop().await;
        }
        tracing::info!("microphone switched");
        self.start_microphone(source);
    }

    async fn set_muted(&mut self, audio: bool, video: bool) {
        self.mute.audio.store(audio, Ordering::Relaxed);
        self.mute.video.store(video, Ordering::Relaxed);
        let _ = self
            .control_tx
            .try_send(ControlFrame::Mute { audio, video });
    }

    /// Starts sending `source` on the screen track (stopping an earlier share).
    async fn start_screen(&mut self, source: Box<dyn VideoSource>, bitrate_bps: u32) {
        if self.screen.is_some() {
            self.stop_screen_quietly();
        }
        self.screen_generation += 1;
        let generation = self.screen_generation;
        // The share also ends with the call.
        let (stop, stop_rx) = devices::linked_stop(&self.stop_tx, &mut self.tasks);
        let mut handles = media::spawn_video_sender(
            VideoRole::Screen,
            Arc::clone(&self.screen_track),
            source,
            bitrate_bps,
            stop_rx,
            Arc::clone(&self.counters),
            Arc::clone(&self.mute),
        );
        let encoder = handles.remove(0);
        let internal = self.internal_tx.clone();
        self.tasks.push(tokio::spawn(async move {
            let _ = encoder.await;
            let _ = internal.send(Internal::ScreenSourceEnded(generation)).await;
        }));
        self.tasks.extend(handles);
        self.screen = Some(SharedScreen { generation, stop });
        let _ = self
            .control_tx
            .try_send(ControlFrame::ScreenShare { sharing: true });
        let _ = self
            .events
            .send(CallEvent::ScreenShare { sharing: true })
            .await;
    }

    /// Stops the screen pipeline without telling anyone.
    fn stop_screen_quietly(&mut self) {
        if let Some(share) = self.screen.take() {
            let _ = share.stop.send(true);
        }
    }

    /// Stops sharing and tells the peer and the application.
    async fn stop_screen(&mut self) {
        if self.screen.is_none() {
            return;
        }
        self.stop_screen_quietly();
        let _ = self
            .control_tx
            .try_send(ControlFrame::ScreenShare { sharing: false });
        let _ = self
            .events
            .send(CallEvent::ScreenShare { sharing: false })
            .await;
    }

    /// Live statistics since the previous sample (`prev`: bytes received, frames
    /// decoded, instant).
    async fn live_stats(&self, prev: &mut (u64, u64, Instant)) -> LiveStats {
        let t = self.pc.transport_stats().await;
        let c = &self.counters;
        let frames = c.frames_received.load(Ordering::Relaxed);
        let secs = prev.2.elapsed().as_secs_f64().max(1e-3);
        let size = c.remote_size.load(Ordering::Relaxed);
        let received = c.audio_received.load(Ordering::Relaxed);
        let lost = c.audio_lost.load(Ordering::Relaxed);
        let stats = LiveStats {
            width: (size >> 32) as u32,
            height: size as u32,
            fps: frames.saturating_sub(prev.1) as f64 / secs,
            bitrate_bps: t.bytes_received.saturating_sub(prev.0) as f64 * 8.0 / secs,
            rtt_ms: t.rtt_ms,
            loss_pct: if received + lost > 0 {
                lost as f64 * 100.0 / (received + lost) as f64
            } else {
                0.0
            },
            candidate: t.local_candidate,
        };
        *prev = (t.bytes_received, frames, Instant::now());
        stats
    }

    async fn send_hangup(&mut self) {
        if let Some(dc) = &self.control {
            let _ = data::send_control(dc, &ControlFrame::Hangup).await;
        }
        let _ = self
            .sig
            .send(ClientMessage::Hangup {
                call_id: self.call_id.clone(),
                reason: None,
            })
            .await;
    }

    async fn finish(mut self, reason: String) -> Result<CallReport> {
        let t = self.pc.transport_stats().await;
        self.report.rtt_ms = t.rtt_ms;
        self.report.local_candidate = t.local_candidate;
        self.report.remote_candidate = t.remote_candidate;
        self.report.relay_transport = t.relay_transport;
        self.report.bytes_sent = t.bytes_sent;
        self.report.bytes_received = t.bytes_received;
        let _ = self.stop_tx.send(true);
        self.pc.close().await;
        drop(self.local_tracks);
        // Every subtask ends once the connection is closed and `stop` is set; wait for
        // them (recorders flush on the way out), but never hang the caller.
        let grace = Duration::from_millis(SHUTDOWN_GRACE_MS);
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(grace, task).await.is_err() {
                abort.abort();
            }
        }
        let c = &self.counters;
        self.report.frames_sent = c.frames_sent.load(Ordering::Relaxed);
        self.report.frames_received = c.frames_received.load(Ordering::Relaxed);
        self.report.screen_frames_sent = c.screen_sent.load(Ordering::Relaxed);
        self.report.screen_frames_received = c.screen_received.load(Ordering::Relaxed);
        self.report.audio_packets_sent = c.audio_sent.load(Ordering::Relaxed);
        self.report.audio_packets_received = c.audio_received.load(Ordering::Relaxed);
        self.report.end_reason = reason.clone();
        let _ = self.events.send(CallEvent::Ended { reason }).await;
        match self.failure {
            Some(e) => Err(e),
            None => Ok(self.report),
        }
    }
}
