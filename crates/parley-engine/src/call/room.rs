//! The running call after accept: one task owns the room, a peer link to each
//! other member and the local media, and turns commands, signaling messages
//! (routed to a link by their sender), peer-connection events (tagged with the
//! member by a forwarder per link), subtask reports and timers into actions
//! until the call ends. A member whose link ends leaves; the call ends with
//! its last link.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_proto::data::ControlFrame;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use parley_proto::{ClientMessage, PeerId};

use super::data::{Internal, Report};
use super::local_media::LocalMedia;
use super::peer_link::{LinkEvent, LinkOutcome, PeerLink};
use super::start::{LinkFactory, OwnChannels};

mod group;
mod sfu;
use super::{CallCommand, CallEvent, CallOptions, CallReport, TrackKind};
use crate::rtc::{IceCandidate, RtcEvent};
use crate::signaling::SignalEvent;
use crate::transfer::{TransferCommand, TransferDirection, TransferEvent};
use crate::{Error, Result};

/// Period of [`CallEvent::Stats`], ms.
const LIVE_STATS_INTERVAL_MS: u64 = 1_000;
/// How long the end of a call waits for each of its subtasks, ms.
const SHUTDOWN_GRACE_MS: u64 = 1_500;
/// How far ahead the timer wakes when no link timer is set, s (any long time).
const IDLE_TIMER_S: u64 = 3_600;
/// Peer-connection events waiting between the links' forwarders and the room,
/// events.
pub(super) const LINK_EVENT_QUEUE: usize = 256;

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
    /// The peer connections' events, tagged with the member.
    pub(super) rtc: mpsc::Receiver<LinkEvent>,
    /// Reports of the call's subtasks.
    pub(super) internal: mpsc::Receiver<Report>,
    /// Local network changes, after the signaling connection acted on them
    /// (`SignalingClient::network_changes`); `None` when the call's sockets are
    /// bound to fixed addresses.
    pub(super) network: Option<watch::Receiver<u64>>,
}

/// The next news of the SFU task, or never without one.
async fn next_sfu_news(
    rx: &mut Option<mpsc::Receiver<crate::call::sfu::SfuNews>>,
) -> Option<crate::call::sfu::SfuNews> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
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
    /// A link to each other member, by member.
    pub(super) links: BTreeMap<PeerId, PeerLink>,
    pub(super) media: LocalMedia,
    /// Subtasks of links whose member left, for the end to wait for.
    left_tasks: Vec<JoinHandle<()>>,
    /// Files we are sending now, by transfer id: while any moves, the video
    /// keeps the bitrate it had (`LocalMedia::protect_video`).
    sending_files: std::collections::HashSet<(PeerId, String)>,
    /// What the members report losing of our audio, for the encoder's FEC.
    audio_loss: super::audio_loss::AudioLoss,
    /// Opens the links of members who join.
    factory: LinkFactory,
    /// Contacts we invited into the call that have not joined or refused yet.
    invited: BTreeSet<PeerId>,
    sends: SendsProgress,
    /// The call's media through an SFU, when it goes there.
    sfu: sfu::RoomSfu,
}

impl Room {
    /// A room without links yet ([`Room::add_link`]), for a call accepted at
    /// `accepted_at`.
    pub(super) fn new(
        call_id: String,
        events: mpsc::Sender<CallEvent>,
        stop: watch::Sender<bool>,
        accepted_at: Instant,
        opts: CallOptions,
        media: LocalMedia,
        factory: LinkFactory,
    ) -> Room {
        // A refused SFU never carries the media, whatever the invite said.
        let via_sfu = opts.via_sfu && !opts.refuse_sfu;
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
            links: BTreeMap::new(),
            media,
            left_tasks: Vec::new(),
            sending_files: std::collections::HashSet::new(),
            audio_loss: Default::default(),
            factory,
            invited: BTreeSet::new(),
            sends,
            sfu: sfu::RoomSfu::new(via_sfu),
        }
    }

    /// Adds `link` (with the data channels we created on it, as its offerer)
    /// and starts its negotiation; what it reported at once.
    pub(super) async fn add_link(
        &mut self,
        mut link: PeerLink,
        own: OwnChannels,
        offerer: bool,
    ) -> (PeerId, Vec<LinkOutcome>) {
        for (dc, rx) in own {
            link.attach_channel(dc, rx, &mut self.opts);
        }
        let peer = link.peer.clone();
        let outcomes = link.start(offerer, Instant::now()).await;
        self.links.insert(peer.clone(), link);
        (peer, outcomes)
    }

    /// Hands `file` to the member it names, else the first (before its file
    /// channel opens, it waits in `opts`).
    fn send_file(&mut self, file: super::FileToSend) {
        let named = file.to.as_ref().and_then(|to| self.links.get(to));
        let handed_back = match named.or_else(|| self.first_link()) {
            Some(link) => link.send_file(file),
            None => Some(file),
        };
        if let Some(file) = handed_back {
            self.opts.send_files.push(file);
        }
    }

    /// Cancels the files of `id` (a transfer id or a folder's batch id) that
    /// wait in `opts` for a file channel, and reports each as cancelled.
    async fn cancel_waiting_files(&mut self, id: &str) {
        for (to, event) in super::file_sends::take_cancelled(&mut self.opts.send_files, id) {
            let peer = to
                .or_else(|| self.first_link().map(|l| l.peer.clone()))
                .or_else(|| self.invited.iter().next().cloned());
            match peer {
                Some(peer) => {
                    let _ = self.events.send(CallEvent::Transfer { peer, event }).await;
                }
                None => tracing::warn!("a cancelled file for no member: {event:?}"),
            }
        }
    }

    /// The first member's link (1:1 calls have only it): where a file or the
    /// speakers go until they name a member.
    fn first_link(&self) -> Option<&PeerLink> {
        self.links.values().next()
    }

    /// Runs the call until it ends, then stops everything and reports.
    ///
    /// Errors: the last link's failure, if the call ended on one.
    pub(super) async fn run(mut self, mut inputs: RoomInputs) -> Result<CallReport> {
        let mut stats_tick = tokio::time::interval(Duration::from_millis(LIVE_STATS_INTERVAL_MS));
        let mut sfu_news = self.sfu.news_rx.take();
        let end_reason: String = loop {
            let wake = self
                .links
                .values()
                .filter_map(PeerLink::poll_timeout)
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(IDLE_TIMER_S));
            let outcomes: Vec<(PeerId, Vec<LinkOutcome>)> = tokio::select! {
                _ = stats_tick.tick() => {
                    self.send_stats().await;
                    continue;
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    let mut out = Vec::new();
                    for (peer, link) in self.links.iter_mut() {
                        if link.poll_timeout().is_some_and(|t| t <= now) {
                            out.push((peer.clone(), link.on_timeout(now).await));
                        }
                    }
                    out
                }
                cmd = inputs.commands.recv() => match cmd {
                    Some(CallCommand::Hangup) | None => {
                        self.hang_up().await;
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
                        let Some(msg) = self.on_sfu_signal(msg).await else { continue };
                        let Some(from) = msg.from().cloned() else {
                            self.on_server_error(msg).await;
                            continue;
                        };
                        match self.links.get_mut(&from) {
                            Some(link) => vec![(from, link.on_signal(msg, Instant::now()).await)],
                            None => self.on_group_signal(msg).await,
                        }
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
                Some((peer, ev)) = inputs.rtc.recv() => {
                    if !self.links.contains_key(&peer) { continue; }
                    match ev {
                        Some(ev) => match self.on_rtc(&peer, ev).await {
                            Some(out) => vec![(peer, out)],
                            None => continue,
                        },
                        None => vec![(peer, vec![LinkOutcome::Ended("connection gone".into())])],
                    }
                }
                Some(news) = next_sfu_news(&mut sfu_news) => {
                    self.on_sfu_news(news).await;
                    continue;
                }
                Some(report) = inputs.internal.recv() => {
                    if let Some(reason) = self.on_internal(report).await { break reason; }
                    continue;
                }
                () = network_changed(&mut inputs.network) => {
                    let now = Instant::now();
                    let mut out = Vec::new();
                    for (peer, link) in self.links.iter_mut() {
                        out.push((peer.clone(), link.on_network_change(now).await));
                    }
                    out
                }
            };
            if let Some(reason) = self.on_outcomes_of_all(outcomes).await {
                break reason;
            }
        };
        self.end(end_reason).await
    }

    /// We hang up: every member is told on its control channel, and the server
    /// once (it tells the others, docs/protocol.md §6.4).
    async fn hang_up(&mut self) {
        for link in self.links.values() {
            link.send_hangup_frame().await;
        }
        let hangup = ClientMessage::Hangup {
            call_id: self.call_id.clone(),
            reason: None,
        };
        let _ = self.factory.signaling().send(hangup).await;
    }

    /// Keeps [`Room::sending_files`] and the video's protection up to date: a
    /// file counts from its first bytes on the link to its end.
    fn track_sends(&mut self, peer: &PeerId, event: &TransferEvent) {
        match event {
            TransferEvent::Progress(p) if p.direction == TransferDirection::Sending => {
                self.sending_files
                    .insert((peer.clone(), p.transfer_id.clone()));
            }
            TransferEvent::Completed {
                transfer_id,
                direction: TransferDirection::Sending,
                ..
            }
            | TransferEvent::Failed {
                transfer_id,
                direction: TransferDirection::Sending,
                ..
            }
            | TransferEvent::Queued { transfer_id, .. } => {
                self.sending_files
                    .remove(&(peer.clone(), transfer_id.clone()));
            }
            _ => return,
        }
        self.media.protect_video(!self.sending_files.is_empty());
    }

    /// Live statistics of each link that has connected.
    /// The worst audio loss a member reports goes to the Opus encoder's FEC.
    async fn send_stats(&mut self) {
        let mut worst: Option<f64> = None;
        for (peer, link) in self.links.iter_mut() {
            if !link.has_connected() {
                continue;
            }
            let stats = link.live_stats().await;
            if let Some(lost) = link.remote_audio_fraction_lost() {
                worst = Some(worst.map_or(lost, |w| w.max(lost)));
            }
            let peer = peer.clone();
            let _ = self.events.try_send(CallEvent::Stats { peer, stats });
        }
        if let Some(lost) = worst {
            let pct = self.audio_loss.report(lost);
            self.media
                .counters
                .remote_audio_loss
                .store(u32::from(pct) + 1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// A peer-connection event of the link to `peer`; what it reported, when
    /// the event is one the link's negotiation acts on.
    async fn on_rtc(&mut self, peer: &PeerId, ev: RtcEvent) -> Option<Vec<LinkOutcome>> {
        let link = self.links.get_mut(peer)?;
        match ev {
            RtcEvent::LocalCandidate(c) => link.send_candidate(c).await,
            // End of candidates (docs/protocol.md §4): an empty candidate.
            RtcEvent::GatheringComplete => {
                let end = IceCandidate {
                    candidate: String::new(),
                    sdp_mid: Some("0".into()),
                    sdp_mline_index: Some(0),
                };
                link.send_candidate(end).await;
            }
            RtcEvent::State(state) => return Some(link.on_connection(state, Instant::now()).await),
            RtcEvent::DataChannel(dc, rx) => link.attach_channel(dc, rx, &mut self.opts),
            // Through an SFU, members' media comes from it, not the links.
            RtcEvent::Track(_) if self.sfu.expected => {
                tracing::debug!(%peer, "ignoring a peer link's track: media comes from the SFU");
            }
            RtcEvent::Track(t) => link.attach_track(t, &mut self.opts).await,
        }
        None
    }

    /// Acts on what several links reported; the call's end reason if it ended.
    pub(super) async fn on_outcomes_of_all(
        &mut self,
        all: Vec<(PeerId, Vec<LinkOutcome>)>,
    ) -> Option<String> {
        for (peer, outcomes) in all {
            if let Some(reason) = self.on_outcomes(&peer, outcomes).await {
                return Some(reason);
            }
        }
        None
    }

    /// Acts on what the link to `peer` reported; the call's end reason if it
    /// ended (its last link did).
    pub(super) async fn on_outcomes(
        &mut self,
        peer: &PeerId,
        outcomes: Vec<LinkOutcome>,
    ) -> Option<String> {
        for outcome in outcomes {
            match outcome {
                LinkOutcome::Connected { first: true } => {
                    if self.report.connect_ms.is_none() {
                        self.report.connect_ms =
                            Some(self.accepted_at.elapsed().as_millis() as u64);
                    }
                    let _ = self
                        .events
                        .send(CallEvent::Connected { peer: peer.clone() })
                        .await;
                    let Some(link) = self.links.get(peer) else {
                        continue;
                    };
                    // In a call through an SFU our media goes there instead.
                    if self.sfu.expected {
                        continue;
                    }
                    self.media
                        .attach(peer.clone(), link.tracks.clone(), &mut self.opts);
                    if let Some(source) = self.opts.screen_source.take() {
                        self.start_screen(source).await;
                    }
                }
                LinkOutcome::Connected { first: false } => {
                    tracing::info!(%peer, "the connection is back");
                    let _ = self
                        .events
                        .send(CallEvent::Reconnected { peer: peer.clone() })
                        .await;
                }
                LinkOutcome::Reconnecting => {
                    let _ = self
                        .events
                        .send(CallEvent::Reconnecting { peer: peer.clone() })
                        .await;
                }
                LinkOutcome::Ended(reason) => return self.link_ended(peer, reason).await,
            }
        }
        None
    }

    /// The link to `peer` is over: the member leaves, and the call ends with
    /// its last link (with that link's reason and failure).
    async fn link_ended(&mut self, peer: &PeerId, reason: String) -> Option<String> {
        // Late news of a member that already left (its control-channel hangup
        // after the server's `left`, say) ends nothing.
        if !self.links.contains_key(peer) {
            return None;
        }
        if self.links.len() == 1 {
            // The call ends. A hangup the link owes goes to the server, and so
            // does ours while someone we invited still rings (the server would
            // otherwise keep us in the call with them).
            let owed = self.links.get(peer).and_then(PeerLink::server_hangup);
            let reason_for_server = match owed {
                Some(owed) => Some(owed),
                None => (!self.invited.is_empty()).then_some(None),
            };
            if let Some(hangup_reason) = reason_for_server {
                let hangup = ClientMessage::Hangup {
                    call_id: self.call_id.clone(),
                    reason: hangup_reason,
                };
                let _ = self.factory.signaling().send(hangup).await;
            }
            return Some(reason);
        }
        let link = self.links.remove(peer)?;
        self.media.detach(peer);
        // Its sends were dropped with the link, some without a last event.
        self.sending_files.retain(|(p, _)| p != peer);
        self.media.protect_video(!self.sending_files.is_empty());
        self.sfu_member_left(peer).await;
        if let Some(e) = &link.failure {
            tracing::warn!(%peer, "the link failed: {e}");
        }
        tracing::info!(%peer, "member left: {reason}");
        self.left_tasks.extend(link.close().await);
        let _ = self
            .events
            .send(CallEvent::PeerLeft {
                peer: peer.clone(),
                reason,
            })
            .await;
        None
    }

    async fn on_command(&mut self, cmd: CallCommand) {
        match cmd {
            CallCommand::Hangup => {} // handled by the loop
            // A chat message goes to every member whose chat channel is open;
            // before any is, it waits in `opts` for the first.
            CallCommand::Chat(text) => {
                let mut sent = false;
                for link in self.links.values() {
                    sent |= link.send_chat(text.clone()).await.is_none();
                }
                if !sent {
                    self.opts.chat.push(text);
                }
            }
            // A file goes to the member it names, else the first (before its
            // file channel opens, it waits in `opts`).
            CallCommand::SendFile(file) => self.send_file(file),
            CallCommand::SendFiles(files) => {
                for file in files {
                    self.send_file(file);
                }
            }
            // Transfer ids are unique: the link that has it acts.
            CallCommand::Transfer(command) => {
                if let TransferCommand::Cancel { transfer_id } = &command {
                    self.cancel_waiting_files(transfer_id).await;
                }
                for link in self.links.values() {
                    link.transfer_command(command.clone()).await;
                }
            }
            CallCommand::SetMuted { audio, video } => {
                self.media.set_muted(audio, video);
                self.send_control(ControlFrame::Mute { audio, video });
            }
            CallCommand::ShareScreen(feed) => self.start_screen(feed.0).await,
            CallCommand::StopScreenShare => self.stop_screen().await,
            CallCommand::Invite(peer) => self.invite(peer).await,
            CallCommand::SwitchCamera(feed) => {
                self.media.switch_camera(feed.0, &mut self.opts).await;
            }
            CallCommand::SwitchMicrophone(feed) => {
                self.media.switch_microphone(feed.0, &mut self.opts).await;
            }
            // With per-member sinks (the app), every member's audio gets new
            // sinks from them (the speakers chosen now, and its level meter);
            // otherwise the feed's sinks go to the first member.
            CallCommand::SwitchSpeakers(feed) => match self.opts.remote_sinks.as_mut() {
                Some(sinks) => {
                    for (peer, link) in &self.links {
                        // A member whose audio has not started yet hands them
                        // back; it asks for its own when it starts.
                        let _ = link.switch_speakers(sinks.audio(peer)).await;
                    }
                }
                None => {
                    let handed_back = match self.first_link() {
                        Some(link) => link.switch_speakers(feed.0).await,
                        None => Some(feed.0),
                    };
                    if let Some(sinks) = handed_back {
                        self.opts.audio_sinks = sinks;
                    }
                }
            },
        }
    }

    /// Queues a control frame for every member.
    fn send_control(&self, frame: ControlFrame) {
        for link in self.links.values() {
            link.send_control(frame.clone());
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
        self.send_control(ControlFrame::ScreenShare { sharing });
        let _ = self.events.send(CallEvent::ScreenShare { sharing }).await;
    }

    /// A subtask's report; the call's end reason if it ended.
    async fn on_internal(&mut self, report: Report) -> Option<String> {
        let Report { peer, msg } = report;
        match msg {
            Internal::FirstFrame(at) => {
                let ms = at.saturating_duration_since(self.accepted_at).as_millis() as u64;
                // The call's setup time is its first member's.
                if self.report.setup_ms.is_none() {
                    self.report.setup_ms = Some(ms);
                }
                if let Some(peer) = peer {
                    let ev = CallEvent::FirstRemoteFrame {
                        peer,
                        track: TrackKind::Camera,
                        setup_ms: ms,
                    };
                    let _ = self.events.send(ev).await;
                }
            }
            Internal::ChatSendsDone => self.sends.chat_done = true,
            Internal::FileSendsDone => self.sends.files_done = true,
            Internal::TransferFailed(reason) => self.report.transfer_errors.push(reason),
            Internal::RemoteHangup => {
                let peer = peer?;
                let reason = "the other side hung up".to_owned();
                if let Some(end) = self.link_ended(&peer, reason).await {
                    return Some(end);
                }
            }
            Internal::ScreenSourceEnded(generation) => {
                if self.media.is_current_screen(generation) {
                    self.stop_screen().await;
                }
            }
            Internal::Event(ev) => {
                if let CallEvent::Transfer { peer, event } = &ev {
                    self.track_sends(peer, event);
                }
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
    /// but the caller never hangs), and reports. The report's transport figures
    /// are the first remaining member's; `uplink_bytes` sums every remaining link.
    pub(super) async fn end(mut self, reason: String) -> Result<CallReport> {
        if let Some(link) = self.links.values().next() {
            let t = link.transport_stats().await;
            let r = &mut self.report;
            r.rtt_ms = t.rtt_ms;
            r.local_candidate = t.local_candidate;
            r.remote_candidate = t.remote_candidate;
            r.relay_transport = t.relay_transport;
            r.local_address = t.local_address;
            r.remote_address = t.remote_address;
            r.bytes_sent = t.bytes_sent;
            r.bytes_received = t.bytes_received;
            r.ice_restarts = link.ice_restarts();
        }
        for link in self.links.values() {
            self.report.uplink_bytes += link.transport_stats().await.bytes_sent;
            if let Some(e) = link.bandwidth_estimate() {
                let low = self
                    .report
                    .estimate_bps
                    .map_or(e.target_bps, |v| v.min(e.target_bps));
                self.report.estimate_bps = Some(low);
            }
        }
        if let Some(session) = self.sfu.session.take() {
            if let Some(summary) = session.close().await {
                self.report.sfu = Some(summary);
            }
        }
        let counters = Arc::clone(&self.media.counters);
        let _ = self.stop.send(true);
        let mut failure: Option<Error> = None;
        let mut tasks: Vec<JoinHandle<()>> = std::mem::take(&mut self.left_tasks);
        let links = std::mem::take(&mut self.links);
        for (_, mut link) in links {
            failure = failure.or(link.failure.take());
            tasks.extend(link.close().await);
        }
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
        self.report.frames_received = c.frames_received.load(Ordering::Relaxed)
            + self.report.sfu.as_ref().map_or(0, |s| s.frames_received);
        self.report.screen_frames_sent = c.screen_sent.load(Ordering::Relaxed);
        self.report.screen_frames_received = c.screen_received.load(Ordering::Relaxed);
        self.report.audio_packets_sent = c.audio_sent.load(Ordering::Relaxed);
        self.report.audio_packets_received = c.audio_received.load(Ordering::Relaxed);
        self.report.max_frame_gap_ms = c.max_frame_gap_ms.load(Ordering::Relaxed);
        self.report.freezes = c.freezes.load(Ordering::Relaxed);
        self.report.audio_recovered = c.audio_recovered.load(Ordering::Relaxed);
        self.report.audio_concealed = c.audio_concealed.load(Ordering::Relaxed);
        self.report.jitter_delay_ms = c.jitter_delay_ms.load(Ordering::Relaxed);
        self.report.video_target_bps = c.budget.camera_bps.load(Ordering::Relaxed).into();
        self.report.screen_target_bps = c.budget.screen_bps.load(Ordering::Relaxed).into();
        self.report.end_reason = reason.clone();
        let _ = self.events.send(CallEvent::Ended { reason }).await;
        match failure {
            Some(e) => Err(e),
            None => Ok(self.report),
        }
    }
}
