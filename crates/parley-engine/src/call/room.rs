//! The running call after accept: one task owns the room, its peer link and its
//! local media, and turns commands, signaling messages, peer-connection events,
//! subtask reports and timers into actions until the call ends.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_proto::data::ControlFrame;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::data::Internal;
use super::local_media::LocalMedia;
use super::peer_link::{LinkOutcome, PeerLink};
use super::{CallCommand, CallEvent, CallOptions, CallReport, TrackKind};
use crate::rtc::{IceCandidate, RtcEvent};
use crate::signaling::SignalEvent;
use crate::transfer::{TransferDirection, TransferEvent};
use crate::{Error, Result};

/// Period of [`CallEvent::Stats`], ms.
const LIVE_STATS_INTERVAL_MS: u64 = 1_000;
/// How long the end of a call waits for each of its subtasks, ms.
const SHUTDOWN_GRACE_MS: u64 = 1_500;
/// How far ahead the timer wakes when no link timer is set, s (any long time).
const IDLE_TIMER_S: u64 = 3_600;

/// Whether every chat message and file given at the start has been delivered.
#[derive(Default)]
struct SendsProgress {
    chat_done: bool,
    files_done: bool,
    reported: bool,
}

/// The queues a room reads.
pub(super) struct RoomInputs {
    /// Commands from the application.
    pub(super) commands: mpsc::Receiver<CallCommand>,
    /// The signaling client's events.
    pub(super) signaling: mpsc::Receiver<SignalEvent>,
    /// The peer connection's events.
    pub(super) rtc: mpsc::Receiver<RtcEvent>,
    /// Reports of the call's subtasks.
    pub(super) internal: mpsc::Receiver<Internal>,
    /// Local network changes, after the signaling connection acted on them
    /// (`SignalingClient::network_changes`); `None` when the call's sockets are
    /// bound to fixed addresses.
    pub(super) network: Option<watch::Receiver<u64>>,
}

/// The next network change, or never without a watcher (or once it is gone).
async fn network_changed(rx: &mut Option<watch::Receiver<u64>>) {
    match rx {
        Some(r) => {
            if r.changed().await.is_err() {
                *rx = None;
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

/// A running call. See the module doc.
pub(super) struct Room {
    pub(super) call_id: String,
    pub(super) events: mpsc::Sender<CallEvent>,
    /// Sets the call's stop switch (every pipeline and channel task ends).
    pub(super) stop: watch::Sender<bool>,
    pub(super) report: CallReport,
    /// When the call was accepted (setup times are counted from here).
    pub(super) accepted_at: Instant,
    pub(super) opts: CallOptions,
    pub(super) link: PeerLink,
    pub(super) media: LocalMedia,
    /// Whether the link has connected yet.
    connected: bool,
    sends: SendsProgress,
}

impl Room {
    /// A room for `link` whose call was accepted at `accepted_at`.
    pub(super) fn new(
        call_id: String,
        events: mpsc::Sender<CallEvent>,
        stop: watch::Sender<bool>,
        accepted_at: Instant,
        opts: CallOptions,
        link: PeerLink,
        media: LocalMedia,
    ) -> Room {
        let sends = SendsProgress {
            chat_done: opts.chat.is_empty(),
            files_done: opts.send_files.is_empty(),
            reported: false,
        };
        Room {
            report: CallReport {
                call_id: call_id.clone(),
                ..Default::default()
            },
            call_id,
            events,
            stop,
            accepted_at,
            opts,
            link,
            media,
            connected: false,
            sends,
        }
    }

    /// Runs the call until it ends, then stops everything and reports.
    ///
    /// Errors: the link's failure, if the call ended on one.
    pub(super) async fn run(mut self, mut inputs: RoomInputs) -> Result<CallReport> {
        let mut stats_tick = tokio::time::interval(Duration::from_millis(LIVE_STATS_INTERVAL_MS));
        let mut stats_prev = (0u64, 0u64, Instant::now());
        let end_reason: String = loop {
            let wake = self
                .link
                .poll_timeout()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(IDLE_TIMER_S));
            let outcomes = tokio::select! {
                _ = stats_tick.tick(), if self.connected => {
                    let stats = self.link.live_stats(&mut stats_prev).await;
                    let peer = self.link.peer.clone();
                    let _ = self.events.try_send(CallEvent::Stats { peer, stats });
                    continue;
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    self.link.on_timeout(Instant::now()).await
                }
                cmd = inputs.commands.recv() => match cmd {
                    Some(CallCommand::Hangup) | None => {
                        self.link.send_hangup().await;
                        break "hung up".into();
                    }
                    Some(cmd) => {
                        self.on_command(cmd).await;
                        continue;
                    }
                },
                ev = inputs.signaling.recv() => match ev {
                    Some(SignalEvent::Message(msg)) => {
                        if msg.call_id() != Some(self.call_id.as_str()) { continue; }
                        self.link.on_signal(msg, Instant::now()).await
                    }
                    Some(SignalEvent::Disconnected { reason, .. }) => {
                        tracing::warn!("signaling lost during the call ({reason}); media continues");
                        continue;
                    }
                    Some(_) => continue,
                    None => {
                        tracing::warn!("signaling gone; the call continues peer to peer");
                        continue;
                    }
                },
                ev = inputs.rtc.recv() => match ev {
                    Some(RtcEvent::LocalCandidate(c)) => {
                        self.link.send_candidate(c).await;
                        continue;
                    }
                    // End of candidates (docs/protocol.md §4): an empty candidate.
                    Some(RtcEvent::GatheringComplete) => {
                        let end = IceCandidate {
                            candidate: String::new(),
                            sdp_mid: Some("0".into()),
                            sdp_mline_index: Some(0),
                        };
                        self.link.send_candidate(end).await;
                        continue;
                    }
                    Some(RtcEvent::State(state)) => {
                        self.link.on_connection(state, Instant::now()).await
                    }
                    Some(RtcEvent::DataChannel(dc, rx)) => {
                        self.link.attach_channel(dc, rx, &mut self.opts);
                        continue;
                    }
                    Some(RtcEvent::Track(t)) => {
                        self.link.attach_track(t, &mut self.opts).await;
                        continue;
                    }
                    None => break "connection gone".into(),
                },
                Some(msg) = inputs.internal.recv() => {
                    if let Some(reason) = self.on_internal(msg).await { break reason; }
                    continue;
                }
                () = network_changed(&mut inputs.network) => {
                    self.link.on_network_change(Instant::now()).await
                }
            };
            if let Some(reason) = self.on_outcomes(outcomes).await {
                break reason;
            }
        };
        self.end(end_reason).await
    }

    /// Acts on what the link reported; the end reason if it ended.
    pub(super) async fn on_outcomes(&mut self, outcomes: Vec<LinkOutcome>) -> Option<String> {
        for outcome in outcomes {
            match outcome {
                LinkOutcome::Connected { first: true } => {
                    self.connected = true;
                    self.report.connect_ms = Some(self.accepted_at.elapsed().as_millis() as u64);
                    let peer = self.link.peer.clone();
                    let _ = self.events.send(CallEvent::Connected { peer }).await;
                    self.media.attach(self.link.tracks.clone(), &mut self.opts);
                    if let Some(source) = self.opts.screen_source.take() {
                        self.start_screen(source).await;
                    }
                }
                LinkOutcome::Connected { first: false } => {
                    tracing::info!(peer = %self.link.peer, "the connection is back");
                    let peer = self.link.peer.clone();
                    let _ = self.events.send(CallEvent::Reconnected { peer }).await;
                }
                LinkOutcome::Reconnecting => {
                    let peer = self.link.peer.clone();
                    let _ = self.events.send(CallEvent::Reconnecting { peer }).await;
                }
                LinkOutcome::Ended(reason) => return Some(reason),
            }
        }
        None
    }

    async fn on_command(&mut self, cmd: CallCommand) {
        match cmd {
            CallCommand::Hangup => {} // handled by the loop
            // Before its data channel opens, a message or file waits in `opts`.
            CallCommand::Chat(text) => {
                if let Some(text) = self.link.send_chat(text).await {
                    self.opts.chat.push(text);
                }
            }
            CallCommand::SendFile(file) => {
                if let Some(file) = self.link.send_file(file) {
                    self.opts.send_files.push(file);
                }
            }
            CallCommand::Transfer(command) => self.link.transfer_command(command).await,
            CallCommand::SetMuted { audio, video } => {
                self.media.set_muted(audio, video);
                self.link.send_control(ControlFrame::Mute { audio, video });
            }
            CallCommand::ShareScreen(feed) => self.start_screen(feed.0).await,
            CallCommand::StopScreenShare => self.stop_screen().await,
            CallCommand::SwitchCamera(feed) => {
                self.media.switch_camera(feed.0, &mut self.opts).await;
            }
            CallCommand::SwitchMicrophone(feed) => {
                self.media.switch_microphone(feed.0, &mut self.opts).await;
            }
            CallCommand::SwitchSpeakers(feed) => {
                if let Some(sinks) = self.link.switch_speakers(feed.0).await {
                    self.opts.audio_sinks = sinks;
                }
            }
        }
    }

    /// Shares `source` (before the connection: once it is up) and tells the peer
    /// and the application.
    async fn start_screen(&mut self, source: Box<dyn crate::media::VideoSource>) {
        match self
            .media
            .start_screen(source, self.opts.screen_bitrate_bps)
        {
            Ok(()) => self.announce_screen(true).await,
            Err(source) => self.opts.screen_source = Some(source),
        }
    }

    /// Stops sharing and tells the peer and the application.
    async fn stop_screen(&mut self) {
        if self.media.stop_screen() {
            self.announce_screen(false).await;
        }
    }

    async fn announce_screen(&mut self, sharing: bool) {
        self.link
            .send_control(ControlFrame::ScreenShare { sharing });
        let _ = self.events.send(CallEvent::ScreenShare { sharing }).await;
    }

    async fn on_internal(&mut self, msg: Internal) -> Option<String> {
        match msg {
            Internal::FirstFrame(at) => {
                let ms = at.saturating_duration_since(self.accepted_at).as_millis() as u64;
                if self.report.setup_ms.is_none() {
                    self.report.setup_ms = Some(ms);
                    let ev = CallEvent::FirstRemoteFrame {
                        peer: self.link.peer.clone(),
                        track: TrackKind::Camera,
                        setup_ms: ms,
                    };
                    let _ = self.events.send(ev).await;
                }
            }
            Internal::ChatSendsDone => self.sends.chat_done = true,
            Internal::FileSendsDone => self.sends.files_done = true,
            Internal::TransferFailed(reason) => self.report.transfer_errors.push(reason),
            Internal::RemoteHangup => return Some("the other side hung up".into()),
            Internal::ScreenSourceEnded(generation) => {
                if self.media.is_current_screen(generation) {
                    self.stop_screen().await;
                }
            }
            Internal::Event(ev) => {
                match &ev {
                    CallEvent::ChatReceived { .. } => self.report.chat_received += 1,
                    CallEvent::ChatDelivered { .. } => self.report.chat_sent += 1,
                    CallEvent::Transfer {
                        event: TransferEvent::Completed { direction, .. },
                        ..
                    } => match direction {
                        TransferDirection::Sending => self.report.files_sent += 1,
                        TransferDirection::Receiving => self.report.files_received += 1,
                    },
                    _ => {}
                }
                let _ = self.events.send(ev).await;
            }
        }
        let s = &mut self.sends;
        if s.chat_done && s.files_done && !s.reported {
            s.reported = true;
            let _ = self.events.send(CallEvent::SendsDone).await;
        }
        None
    }

    /// Stops everything, waits for the subtasks (recorders flush on the way out,
    /// but the caller never hangs), and reports.
    pub(super) async fn end(mut self, reason: String) -> Result<CallReport> {
        let t = self.link.transport_stats().await;
        self.report.rtt_ms = t.rtt_ms;
        self.report.local_candidate = t.local_candidate;
        self.report.remote_candidate = t.remote_candidate;
        self.report.relay_transport = t.relay_transport;
        self.report.local_address = t.local_address;
        self.report.remote_address = t.remote_address;
        self.report.bytes_sent = t.bytes_sent;
        self.report.bytes_received = t.bytes_received;
        self.report.ice_restarts = self.link.ice_restarts();
        let counters = Arc::clone(&self.media.counters);
        let _ = self.stop.send(true);
        self.link.pc.close().await;
        let failure: Option<Error> = self.link.failure.take();
        let mut tasks: Vec<JoinHandle<()>> = std::mem::take(&mut self.link.tasks);
        drop(self.link);
        tasks.extend(self.media.into_tasks());
        let grace = Duration::from_millis(SHUTDOWN_GRACE_MS);
        for task in tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(grace, task).await.is_err() {
                abort.abort();
            }
        }
        let c = &counters;
        self.report.frames_sent = c.frames_sent.load(Ordering::Relaxed);
        self.report.frames_received = c.frames_received.load(Ordering::Relaxed);
        self.report.screen_frames_sent = c.screen_sent.load(Ordering::Relaxed);
        self.report.screen_frames_received = c.screen_received.load(Ordering::Relaxed);
        self.report.audio_packets_sent = c.audio_sent.load(Ordering::Relaxed);
        self.report.audio_packets_received = c.audio_received.load(Ordering::Relaxed);
        self.report.max_frame_gap_ms = c.max_frame_gap_ms.load(Ordering::Relaxed);
        self.report.end_reason = reason.clone();
        let _ = self.events.send(CallEvent::Ended { reason }).await;
        match failure {
            Some(e) => Err(e),
            None => Ok(self.report),
        }
    }
}
