//! One peer link of a call: the peer connection to one member, its negotiation
//! driven by the pure state machine in [`super::link`], its data channels (chat,
//! files, control) and the remote tracks it receives.
//!
//! The driver contract: every input goes to [`Link::handle`] (or
//! [`Link::handle_timeout`]) and is followed by [`PeerLink::drive`], which carries
//! out the link's actions in order on the peer connection and the signaling
//! client, feeding back the descriptions they produce. What the room must act on
//! comes back as [`LinkOutcome`]s.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use parley_proto::binding::DescriptionType;
use parley_proto::data::{ControlFrame, CHAT_LABEL, CONTROL_LABEL, FILE_LABEL};
use parley_proto::{ClientMessage, PeerId, ServerMessage};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::data::{self, Internal, Reporter};
use super::devices;
use super::ice_source::IceSource;
use super::link::{Action, Input, Link, LinkFailure};
use super::local_media::LinkTracks;
use super::media::{self, Counters, Mute, VideoRole};
use super::negotiate;
use super::{CallError, CallOptions, LiveStats, TrackKind};
use crate::channel::DcMessage;
use crate::rtc::{
    ConnectionState, DataChannel, IceCandidate, MediaKind, PeerConnection, RemoteTrack, RtcEvent,
    TransportStats,
};
use crate::signaling::SignalingClient;
use crate::Error;

/// Control frames waiting for the control channel to open, frames.
const CONTROL_QUEUE: usize = 16;

/// What a link tells the room.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LinkOutcome {
    /// ICE and DTLS are up: for the first time (`first`), or again after a loss.
    Connected {
        /// The link's first connection.
        first: bool,
    },
    /// The link lost connectivity after it had been up.
    Reconnecting,
    /// The link is over; the words are the call's end reason. A failure, if it
    /// was one, is in [`PeerLink::failure`].
    Ended(String),
}

/// A peer connection's event, tagged with the member its link leads to;
/// `None` when its event stream ended (the connection is gone).
pub(super) type LinkEvent = (PeerId, Option<RtcEvent>);

/// What the room hands every link: the call and how to reach the room.
pub(super) struct LinkContext {
    /// The signaling client (sends and signs descriptions).
    pub(super) sig: SignalingClient,
    /// The call id.
    pub(super) call_id: String,
    /// Whose ICE servers the link uses (refreshed before an ICE restart).
    pub(super) ice: IceSource,
    /// Where subtasks report (each link tags its reports with its member).
    pub(super) report: Reporter,
    /// The call's stop switch (a link also stops by itself when its member
    /// leaves).
    pub(super) stop: watch::Receiver<bool>,
    /// The call's counters.
    pub(super) counters: Arc<Counters>,
    /// Our mute state (the control channel opens with it, docs/protocol.md §8.2).
    pub(super) mute: Arc<Mute>,
    /// The call's echo path, fed the remote audio we play aloud.
    pub(super) echo: Option<crate::media::EchoPath>,
}

/// One peer link. See the module doc.
pub(super) struct PeerLink {
    /// The member at the other end.
    pub(super) peer: PeerId,
    /// The peer connection to it.
    pub(super) pc: PeerConnection,
    /// The tracks we send to it.
    pub(super) tracks: LinkTracks,
    link: Link,
    cx: LinkContext,
    chat_more: Option<mpsc::Sender<String>>,
    files_more: Option<mpsc::UnboundedSender<super::FileToSend>>,
    transfer_commands: Option<mpsc::Sender<crate::transfer::TransferCommand>>,
    control: Option<DataChannel>,
    control_tx: mpsc::Sender<ControlFrame>,
    control_rx: Option<mpsc::Receiver<ControlFrame>>,
    speakers_tx: Option<mpsc::Sender<Vec<Box<dyn super::AudioSink>>>>,
    /// Stops this link's subtasks (set by the call's stop too).
    stop: watch::Sender<bool>,
    /// Where this link's subtasks report, tagged with its member.
    report: Reporter,
    /// The previous live-statistics sample: bytes received, frames decoded,
    /// when, bytes sent.
    stats_prev: (u64, u64, Instant, u64),
    /// What the member last reported losing of our audio, 0–1 (RTCP RR).
    remote_audio_fraction_lost: Option<f64>,
    /// Why the link failed, if it did.
    pub(super) failure: Option<Error>,
    /// The `hangup` owed to the server, see [`PeerLink::server_hangup`].
    server_hangup: Option<Option<String>>,
    /// Its subtasks (channels, receivers), for the call's end to wait for.
    pub(super) tasks: Vec<JoinHandle<()>>,
}

impl PeerLink {
    /// A link to `peer` over `pc`, sending on `tracks`. Exactly one side of a link
    /// is polite in an offer collision: the one whose id sorts first.
    pub(super) fn new(
        peer: PeerId,
        pc: PeerConnection,
        tracks: LinkTracks,
        cx: LinkContext,
        lost_after: std::time::Duration,
    ) -> PeerLink {
        let polite = cx.sig.id().as_str() < peer.as_str();
        let mut link = Link::new(polite);
        link.set_lost_after(lost_after);
        let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE);
        let mut tasks = Vec::new();
        let (stop, stop_rx) = devices::linked_stop(&cx.stop, &mut tasks);
        let report = cx.report.for_peer(peer.clone());
        let cx = LinkContext {
            stop: stop_rx,
            ..cx
        };
        PeerLink {
            peer,
            pc,
            tracks,
            link,
            cx,
            chat_more: None,
            files_more: None,
            transfer_commands: None,
            control: None,
            control_tx,
            control_rx: Some(control_rx),
            speakers_tx: None,
            stop,
            report,
            stats_prev: (0, 0, Instant::now(), 0),
            remote_audio_fraction_lost: None,
            failure: None,
            server_hangup: None,
            tasks,
        }
    }

    /// Passes the events of its peer connection (`rx`) to the room's queue,
    /// tagged with the member, until the link stops.
    pub(super) fn forward_events(
        &mut self,
        mut rx: mpsc::Receiver<RtcEvent>,
        tx: mpsc::Sender<LinkEvent>,
    ) {
        let peer = self.peer.clone();
        let mut stop = self.cx.stop.clone();
        self.tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    ev = rx.recv() => {
                        let gone = ev.is_none();
                        if tx.send((peer.clone(), ev)).await.is_err() || gone {
                            return;
                        }
                    }
                    _ = crate::stop::stopped(&mut stop) => return,
                }
            }
        }));
    }

    /// Whether the link has ever connected (it may be reconnecting now).
    pub(super) fn has_connected(&self) -> bool {
        self.link.has_connected()
    }

    /// Ends the link whose member left: stops its subtasks and closes its peer
    /// connection; hands over the tasks for the call's end to wait for.
    pub(super) async fn close(mut self) -> Vec<JoinHandle<()>> {
        let _ = self.stop.send(true);
        self.pc.close().await;
        std::mem::take(&mut self.tasks)
    }

    /// Negotiation begins (the call was accepted); the offerer sends the first
    /// offer.
    pub(super) async fn start(&mut self, offerer: bool, now: Instant) -> Vec<LinkOutcome> {
        self.link.handle(Input::Start { offerer }, now);
        self.drive(now).await
    }

    /// When [`PeerLink::on_timeout`] is next due.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.link.poll_timeout()
    }

    /// Runs the link's timers due at `now`.
    pub(super) async fn on_timeout(&mut self, now: Instant) -> Vec<LinkOutcome> {
        self.link.handle_timeout(now);
        self.drive(now).await
    }

    /// ICE restarts this side offered.
    pub(super) fn ice_restarts(&self) -> u32 {
        self.link.ice_restarts()
    }

    /// The peer connection's state changed.
    pub(super) async fn on_connection(
        &mut self,
        state: ConnectionState,
        now: Instant,
    ) -> Vec<LinkOutcome> {
        if state == ConnectionState::Closed {
            return vec![LinkOutcome::Ended("connection closed".into())];
        }
        let lost = self.link.is_connected()
            && matches!(
                state,
                ConnectionState::Disconnected | ConnectionState::Failed
            );
        self.link.handle(Input::Connection(state), now);
        let mut out = Vec::new();
        if lost {
            tracing::info!(peer = %self.peer, "connection lost ({state:?}); waiting for it to come back");
            out.push(LinkOutcome::Reconnecting);
        }
        out.extend(self.drive(now).await);
        out
    }

    /// A local address went away (and the signaling connection is being made
    /// again): restart ICE now rather than wait for ICE to notice the dead path.
    /// Either side does this, polite or not; the peer answers.
    pub(super) async fn on_network_change(&mut self, now: Instant) -> Vec<LinkOutcome> {
        tracing::info!(peer = %self.peer, "the network changed");
        self.link.handle(Input::RestartIce, now);
        self.drive(now).await
    }

    /// A signaling message of this call from the peer.
    pub(super) async fn on_signal(&mut self, msg: ServerMessage, now: Instant) -> Vec<LinkOutcome> {
        let ended = |reason: String| vec![LinkOutcome::Ended(reason)];
        match msg {
            ServerMessage::Offer { sdp, sig, .. } => {
                if let Err(e) = self.verify(DescriptionType::Offer, &sdp, sig.as_deref()) {
                    return ended(self.refuse(e, negotiate::TAMPERED_REASON).await);
                }
                // Without our codec in a section we send on, webrtc-rs could not
                // answer ("RTPSender created with no codecs"): say why instead.
                if let Err(e) = crate::rtc::check_offered_codecs(&sdp) {
                    return ended(self.refuse(e, negotiate::UNSUPPORTED_CODECS_REASON).await);
                }
                let kind = DescriptionType::Offer;
                self.link
                    .handle(Input::RemoteDescription { kind, sdp }, now);
            }
            ServerMessage::Answer { sdp, sig, .. } => {
                let kind = DescriptionType::Answer;
                if let Err(e) = self.verify(kind, &sdp, sig.as_deref()) {
                    return ended(self.refuse(e, negotiate::TAMPERED_REASON).await);
                }
                self.link
                    .handle(Input::RemoteDescription { kind, sdp }, now);
            }
            ServerMessage::Candidate {
                candidate,
                sdp_mid,
                sdp_mline_index,
                ..
            } => {
                let c = IceCandidate {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                };
                self.link.handle(Input::RemoteCandidate(c), now);
            }
            ServerMessage::Hangup {
                reason: Some(reason),
                ..
            } if reason == negotiate::TAMPERED_REASON => {
                self.failure = Some(Error::Tampered(format!(
                    "{} refused our description: its signature did not reach it intact",
                    self.peer
                )));
                return ended("tampered".into());
            }
            ServerMessage::Hangup {
                reason: Some(reason),
                ..
            } if reason == negotiate::UNSUPPORTED_CODECS_REASON => {
                self.failure = Some(
                    CallError::PeerRefusedCodecs {
                        peer: self.peer.clone(),
                    }
                    .into(),
                );
                return ended(reason);
            }
            ServerMessage::Hangup { .. } | ServerMessage::Cancel { .. } => {
                return ended("the other side hung up".into())
            }
            // A member of a group call that goes on (docs/protocol.md §6.4).
            ServerMessage::Left { reason, .. } => {
                return ended(match reason {
                    Some(r) => format!("left: {r}"),
                    None => "left".into(),
                })
            }
            ServerMessage::Error { code, message, .. } => {
                tracing::warn!("server error for this call: {} {message}", code.as_str());
            }
            _ => {}
        }
        self.drive(now).await
    }

    /// Carries out the link's actions in order (the driver contract in the module
    /// doc).
    async fn drive(&mut self, now: Instant) -> Vec<LinkOutcome> {
        let mut out = Vec::new();
        while let Some(action) = self.link.poll_action() {
            match action {
                Action::CreateOffer { ice_restart } => {
                    if ice_restart {
                        tracing::info!(peer = %self.peer, "restarting ICE: new credentials and candidates");
                        let cx = &self.cx;
                        cx.ice.refresh(&self.pc, &cx.sig, &self.peer).await;
                    }
                    match self.pc.create_offer(ice_restart).await {
                        Ok(sdp) => {
                            let kind = DescriptionType::Offer;
                            self.link.handle(Input::LocalDescription { kind, sdp }, now);
                        }
                        Err(e) => {
                            out.push(LinkOutcome::Ended(self.fail(e, "bad offer").await));
                            break;
                        }
                    }
                }
                Action::Rollback => {
                    if let Err(e) = self.pc.rollback().await {
                        tracing::warn!(peer = %self.peer, "rolling our offer back: {e}");
                    }
                }
                Action::ApplyOffer(sdp) => {
                    let cx = &self.cx;
                    cx.ice
                        .refresh_for_offer(&self.pc, &cx.sig, &self.peer, &sdp)
                        .await;
                    match self.pc.answer_offer(&sdp).await {
                        Ok(sdp) => {
                            let kind = DescriptionType::Answer;
                            self.link.handle(Input::LocalDescription { kind, sdp }, now);
                        }
                        Err(e) => {
                            out.push(LinkOutcome::Ended(self.fail(e, "bad offer").await));
                            break;
                        }
                    }
                }
                Action::ApplyAnswer(sdp) => {
                    if let Err(e) = self.pc.apply_answer(&sdp).await {
                        out.push(LinkOutcome::Ended(self.fail(e, "bad answer").await));
                        break;
                    }
                }
                Action::AddCandidate(c) => {
                    if let Err(e) = self.pc.add_ice_candidate(c).await {
                        tracing::warn!(peer = %self.peer, "remote candidate: {e}");
                    }
                }
                Action::Send { kind, sdp } => {
                    if let Err(e) = self.send_description(kind, sdp).await {
                        let reason = match kind {
                            DescriptionType::Offer => "bad offer",
                            DescriptionType::Answer => "bad answer",
                        };
                        out.push(LinkOutcome::Ended(self.fail(e, reason).await));
                        break;
                    }
                }
                Action::ResendOffer => {
                    let Some(sdp) = self.pc.local_description().await else {
                        continue;
                    };
                    tracing::info!(peer = %self.peer, "sending our unanswered offer again");
                    if let Err(e) = self.send_description(DescriptionType::Offer, sdp).await {
                        out.push(LinkOutcome::Ended(self.fail(e, "bad offer").await));
                        break;
                    }
                }
                Action::Connected { first } => out.push(LinkOutcome::Connected { first }),
                Action::Failed(why) => {
                    let reason = match why {
                        // As before the link layer: no hangup, the other side
                        // times out too.
                        LinkFailure::ConnectTimeout => {
                            self.failure = Some(CallError::ConnectTimeout.into());
                            "connection timed out".into()
                        }
                        LinkFailure::IceFailed => {
                            self.fail(CallError::ConnectionFailed.into(), "connection failed")
                                .await
                        }
                        LinkFailure::Lost { restarts } => {
                            self.fail(
                                CallError::ConnectionLost { restarts }.into(),
                                "connection lost",
                            )
                            .await
                        }
                    };
                    out.push(LinkOutcome::Ended(reason));
                    break;
                }
            }
        }
        out
    }

    /// Signs our description and sends it (docs/protocol.md §6.3).
    async fn send_description(&self, kind: DescriptionType, sdp: String) -> crate::Result<()> {
        let cx = &self.cx;
        let signature = negotiate::sign_description(&cx.sig, &cx.call_id, &self.peer, kind, &sdp)?;
        let call_id = cx.call_id.clone();
        let sig = Some(signature);
        let msg = match kind {
            DescriptionType::Offer => ClientMessage::Offer {
                call_id,
                to: Some(self.peer.clone()),
                sdp,
                sig,
            },
            DescriptionType::Answer => ClientMessage::Answer {
                call_id,
                to: Some(self.peer.clone()),
                sdp,
                sig,
            },
        };
        if let Err(e) = cx.sig.send(msg).await {
            // The connect timeout (or ICE restart) covers a description lost with
            // the signaling connection.
            tracing::warn!(peer = %self.peer, "sending our {}: {e}", kind.as_str());
        }
        Ok(())
    }

    /// Sends one of our ICE candidates to the peer (an empty one ends them,
    /// docs/protocol.md §4).
    pub(super) async fn send_candidate(&self, c: IceCandidate) {
        let _ = negotiate::send_candidate(&self.cx.sig, &self.cx.call_id, &self.peer, c).await;
    }

    /// Checks the peer's signature on a description it sent (docs/protocol.md §6.3).
    fn verify(
        &self,
        kind: DescriptionType,
        sdp: &str,
        signature: Option<&str>,
    ) -> crate::Result<()> {
        let cx = &self.cx;
        negotiate::verify_description(&cx.sig, &cx.call_id, &self.peer, kind, sdp, signature)
    }

    /// Ends the link on a description we refused: nothing was applied, so no ICE,
    /// DTLS, media or data starts; the peer is to be told why in the `hangup`'s
    /// `reason` ([`PeerLink::server_hangup`]), which is also our end reason.
    async fn refuse(&mut self, e: Error, reason: &str) -> String {
        self.failure = Some(e);
        self.server_hangup = Some(Some(reason.into()));
        reason.into()
    }

    /// Ends the link on a local failure `e`, telling the peer on the control
    /// channel (and through the server, [`PeerLink::server_hangup`]).
    async fn fail(&mut self, e: Error, reason: &str) -> String {
        self.failure = Some(e);
        self.send_hangup_frame().await;
        self.server_hangup = Some(None);
        reason.into()
    }

    /// The `hangup` (with its reason) the server should carry for a link that
    /// failed or refused the peer's description, `None` when none is owed. The
    /// room sends it when the link was its last: in a group call that goes on,
    /// a hangup would take us out of the call for every member, so the one
    /// peer is told on its control channel only (and its link fails too).
    pub(super) fn server_hangup(&self) -> Option<Option<String>> {
        self.server_hangup.clone()
    }

    /// Tells the peer we hang up on the control channel (fast, peer to peer).
    pub(super) async fn send_hangup_frame(&self) {
        if let Some(dc) = &self.control {
            let _ = data::send_control(dc, &ControlFrame::Hangup).await;
        }
    }

    /// Queues a control frame for the peer (sent once the control channel opens;
    /// dropped when the queue is full).
    pub(super) fn send_control(&self, frame: ControlFrame) {
        let _ = self.control_tx.try_send(frame);
    }

    /// A chat message for the peer; `None` (the message handed back) before the
    /// chat channel is open.
    pub(super) async fn send_chat(&self, text: String) -> Option<String> {
        match &self.chat_more {
            Some(tx) => {
                let _ = tx.send(text).await;
                None
            }
            None => Some(text),
        }
    }

    /// A file for the peer; handed back before the file channel is open.
    pub(super) fn send_file(&self, file: super::FileToSend) -> Option<super::FileToSend> {
        match &self.files_more {
            Some(tx) => {
                let _ = tx.send(file);
                None
            }
            None => Some(file),
        }
    }

    /// A command for a transfer with the peer (ignored before the file channel).
    pub(super) async fn transfer_command(&self, command: crate::transfer::TransferCommand) {
        if let Some(tx) = &self.transfer_commands {
            let _ = tx.send(command).await;
        }
    }

    /// Play the peer's audio on these sinks from now on; handed back before its
    /// audio track arrived.
    pub(super) async fn switch_speakers(
        &self,
        sinks: Vec<Box<dyn super::AudioSink>>,
    ) -> Option<Vec<Box<dyn super::AudioSink>>> {
        match &self.speakers_tx {
            Some(tx) => {
                let _ = tx.send(sinks).await;
                None
            }
            None => Some(sinks),
        }
    }

    /// Starts the tasks of a data channel that opened (ours or the peer's); chat
    /// and files waiting in `opts` go out on it.
    pub(super) fn attach_channel(
        &mut self,
        dc: DataChannel,
        rx: mpsc::Receiver<DcMessage>,
        opts: &mut CallOptions,
    ) {
        let stop = self.cx.stop.clone();
        match dc.label() {
            CHAT_LABEL => {
                let (tx, more) = mpsc::channel(32);
                self.chat_more = Some(tx);
                self.tasks.push(tokio::spawn(data::run_chat(
                    dc,
                    rx,
                    std::mem::take(&mut opts.chat),
                    more,
                    self.report.clone(),
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
                    peer: self.peer.clone(),
                };
                self.tasks.push(tokio::spawn(data::run_files(
                    dc,
                    rx,
                    plan,
                    self.report.clone(),
                    stop,
                )));
            }
            CONTROL_LABEL => {
                self.control = Some(dc.clone());
                self.tasks.push(tokio::spawn(data::run_control(
                    rx,
                    self.report.clone(),
                    self.peer.clone(),
                )));
                if let Some(queue) = self.control_rx.take() {
                    // It starts with our mute state (docs/protocol.md §8.2).
                    let mute = Arc::clone(&self.cx.mute);
                    self.tasks.push(tokio::spawn(data::send_control_queue(
                        dc, queue, mute, stop,
                    )));
                }
            }
            other => tracing::warn!("ignoring unknown data channel {other:?}"),
        }
    }

    /// Starts receiving a remote track into the sinks in `opts`.
    pub(super) async fn attach_track(&mut self, track: RemoteTrack, opts: &mut CallOptions) {
        let counters = Arc::clone(&self.cx.counters);
        let stop = self.cx.stop.clone();
        match track.kind() {
            MediaKind::Video if track.id().await == TrackKind::Screen.as_str() => {
                self.tasks.extend(media::spawn_video_receiver(
                    VideoRole::Screen,
                    track,
                    opts.take_video_sinks(&self.peer, TrackKind::Screen),
                    counters,
                    None,
                    stop,
                ));
            }
            MediaKind::Video => {
                let (first_tx, mut first_rx) = mpsc::channel(1);
                let internal = self.report.clone();
                self.tasks.push(tokio::spawn(async move {
                    if let Some(at) = first_rx.recv().await {
                        let _ = internal.send(Internal::FirstFrame(at)).await;
                    }
                }));
                self.tasks.extend(media::spawn_video_receiver(
                    VideoRole::Camera,
                    track,
                    opts.take_video_sinks(&self.peer, TrackKind::Camera),
                    counters,
                    Some(first_tx),
                    stop,
                ));
            }
            MediaKind::Audio => {
                let (tx, swap) = mpsc::channel(2);
                self.speakers_tx = Some(tx);
                self.tasks.extend(media::spawn_audio_receiver(
                    track,
                    opts.take_audio_sinks(&self.peer),
                    opts.audio,
                    self.cx.echo.clone(),
                    swap,
                    counters,
                    stop,
                ))
            }
        }
    }

    /// Statistics of the selected candidate pair.
    pub(super) async fn transport_stats(&self) -> TransportStats {
        self.pc.transport_stats().await
    }

    /// The congestion controller's estimate for this link (`None` while it is off).
    pub(super) fn bandwidth_estimate(&self) -> Option<crate::rtc::BandwidthEstimate> {
        self.pc.bandwidth_estimate()
    }

    /// What the member last reported losing of our audio, 0–1 (RTCP receiver
    /// report, RFC 3550 §6.4.1), as of the last [`live_stats`](Self::live_stats).
    pub(super) fn remote_audio_fraction_lost(&self) -> Option<f64> {
        self.remote_audio_fraction_lost
    }

    /// Live statistics since the previous sample.
    pub(super) async fn live_stats(&mut self) -> LiveStats {
        let t = self.pc.transport_stats().await;
        self.remote_audio_fraction_lost = t.remote_audio_fraction_lost;
        let prev = &mut self.stats_prev;
        let c = &self.cx.counters;
        let frames = c.frames_received.load(Ordering::Relaxed);
        let secs = prev.2.elapsed().as_secs_f64().max(1e-3);
        let size = c.remote_size.load(Ordering::Relaxed);
        let received = c.audio_received.load(Ordering::Relaxed);
        let lost = c.audio_lost.load(Ordering::Relaxed);
        if let Some(e) = self.pc.bandwidth_estimate() {
            tracing::debug!(
                target_bps = e.target_bps,
                delay_based_bps = ?e.delay_based_bps,
                loss_based_bps = ?e.loss_based_bps,
                loss_fraction = ?e.loss_fraction,
                "bandwidth estimate"
            );
        }
        let stats = LiveStats {
            width: (size >> 32) as u32,
            height: size as u32,
            fps: frames.saturating_sub(prev.1) as f64 / secs,
            bitrate_bps: t.bytes_received.saturating_sub(prev.0) as f64 * 8.0 / secs,
            max_frame_gap_ms: c.recent_frame_gap_ms.swap(0, Ordering::Relaxed),
            freezes: c.freezes.load(Ordering::Relaxed),
            sent_bitrate_bps: t.bytes_sent.saturating_sub(prev.3) as f64 * 8.0 / secs,
            estimate_bps: self.pc.bandwidth_estimate().map(|e| e.target_bps),
            video_target_bps: f64::from(c.budget.camera_bps.load(Ordering::Relaxed)),
            screen_target_bps: f64::from(c.budget.screen_bps.load(Ordering::Relaxed)),
            rtt_ms: t.rtt_ms,
            loss_pct: if received + lost > 0 {
                lost as f64 * 100.0 / (received + lost) as f64
            } else {
                0.0
            },
            audio_recovered: c.audio_recovered.load(Ordering::Relaxed),
            audio_concealed: c.audio_concealed.load(Ordering::Relaxed),
            jitter_delay_ms: c.jitter_delay_ms.load(Ordering::Relaxed),
            candidate: t.local_candidate,
            local_address: t.local_address,
            remote_address: t.remote_address,
        };
        *prev = (t.bytes_received, frames, Instant::now(), t.bytes_sent);
        stats
    }
}
