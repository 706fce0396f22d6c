//! The call's data channels: `chat`, `file` and `control` (see docs/protocol.md).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use parley_proto::data::ControlFrame;
use parley_proto::PeerId;
use tokio::sync::{mpsc, watch};

use super::file_sends::{Cancelled, FileSends};
use super::media::Mute;
use super::CallEvent;
use crate::channel::{DcMessage, MessageSink};
use crate::chat::{ChatChannel, ChatEvent};
use crate::rtc::DataChannel;
use crate::storage::{Direction as ChatDirection, Profile};
use crate::transfer::{
    serve_file_channel, ReceiveSession, TransferCommand, TransferDirection, TransferEvent,
    TransferOutcome,
};
use crate::Result;

/// A subtask's report to the room, with the member whose link it concerns
/// (`None`: the local media).
pub(super) struct Report {
    /// The member, for a link's subtasks.
    pub(super) peer: Option<PeerId>,
    /// What happened.
    pub(super) msg: Internal,
}

/// Where a call's subtasks report: the room's queue, each report tagged with
/// the member it concerns.
#[derive(Clone)]
pub(super) struct Reporter {
    peer: Option<PeerId>,
    tx: mpsc::Sender<Report>,
}

impl Reporter {
    /// Reports about the call as a whole (the local media) go to `tx`.
    pub(super) fn new(tx: mpsc::Sender<Report>) -> Reporter {
        Reporter { peer: None, tx }
    }

    /// The same queue, for the subtasks of the link to `peer`.
    pub(super) fn for_peer(&self, peer: PeerId) -> Reporter {
        Reporter {
            peer: Some(peer),
            tx: self.tx.clone(),
        }
    }

    /// Queues `msg` (waiting while the queue is full).
    ///
    /// Errors: the room is gone.
    pub(super) async fn send(&self, msg: Internal) -> std::result::Result<(), ()> {
        let report = Report {
            peer: self.peer.clone(),
            msg,
        };
        self.tx.send(report).await.map_err(|_| ())
    }
}

/// What the data-channel tasks tell the call's owner task.
pub(super) enum Internal {
    /// The first remote video frame was decoded at this instant.
    FirstFrame(Instant),
    /// Every chat message from the options was acknowledged.
    ChatSendsDone,
    /// Every file from the options was delivered or failed.
    FileSendsDone,
    /// A transfer failed (ours or the peer's), in words.
    TransferFailed(String),
    /// The peer said hangup on the control channel.
    RemoteHangup,
    /// Our screen share number `.0` stopped by itself (source gone or failed).
    ScreenSourceEnded(u64),
    /// Pass this on to the application.
    Event(CallEvent),
}

/// Sends our initial chat messages in order, then relays more from `more`; stores,
/// reports and acknowledges what arrives.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_chat(
    dc: DataChannel,
    mut rx: mpsc::Receiver<DcMessage>,
    initial: Vec<String>,
    mut more: mpsc::Receiver<String>,
    internal: Reporter,
    profile: Option<Arc<Profile>>,
    peer: PeerId,
    mut stop: watch::Receiver<bool>,
) {
    // Nothing to send is done at once, open channel or not: a call whose data
    // channel never opens (its SCTP association gave up under heavy loss) must
    // not wait on it to hang up.
    if initial.is_empty() {
        let _ = internal.send(Internal::ChatSendsDone).await;
    }
    if dc.wait_open().await.is_err() {
        if !initial.is_empty() {
            tracing::warn!(
                "chat: the channel closed before it opened; {} message(s) not sent",
                initial.len()
            );
            let _ = internal.send(Internal::ChatSendsDone).await;
        }
        return;
    }
    let mut unacked: Vec<String> = Vec::new();
    for text in &initial {
        match ChatChannel::send_chat(&dc, text).await {
            Ok(msg) => {
                store(&profile, &peer, ChatDirection::Sent, &msg);
                unacked.push(msg.id.clone());
                let _ = internal
                    .send(Internal::Event(CallEvent::ChatSent(msg)))
                    .await;
            }
            Err(e) => tracing::warn!("chat send: {e}"),
        }
    }
    if !initial.is_empty() && unacked.is_empty() {
        let _ = internal.send(Internal::ChatSendsDone).await;
    }
    let mut more_open = true;
    loop {
        tokio::select! {
            _ = crate::stop::stopped(&mut stop) => break,
            text = more.recv(), if more_open => {
                let Some(text) = text else {
                    more_open = false;
                    continue;
                };
                match ChatChannel::send_chat(&dc, &text).await {
                    Ok(msg) => {
                        store(&profile, &peer, ChatDirection::Sent, &msg);
                        let _ = internal.send(Internal::Event(CallEvent::ChatSent(msg))).await;
                    }
                    Err(e) => tracing::warn!("chat send: {e}"),
                }
            }
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                match ChatChannel::handle_incoming(msg) {
                    Ok(Some(ChatEvent::Received(m))) => {
                        store(&profile, &peer, ChatDirection::Received, &m);
                        let _ = ChatChannel::send_ack(&dc, &m.id).await;
                        let ev = CallEvent::ChatReceived { peer: peer.clone(), message: m };
                        let _ = internal.send(Internal::Event(ev)).await;
                    }
                    Ok(Some(ChatEvent::Acked(id))) => {
                        let before = unacked.len();
                        unacked.retain(|u| *u != id);
                        let ev = CallEvent::ChatDelivered { peer: peer.clone(), id };
                        let _ = internal.send(Internal::Event(ev)).await;
                        if before > 0 && unacked.is_empty() {
                            let _ = internal.send(Internal::ChatSendsDone).await;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("{e}"),
                }
            }
        }
    }
}

fn store(
    profile: &Option<Arc<Profile>>,
    peer: &PeerId,
    dir: ChatDirection,
    msg: &parley_proto::data::ChatMessage,
) {
    if let Some(p) = profile {
        if let Err(e) = p.store_chat(peer, dir, msg) {
            tracing::warn!("chat history: {e}");
        }
    }
}

/// Reads `peer`'s control channel; a `hangup` frame ends the call.
pub(super) async fn run_control(
    mut rx: mpsc::Receiver<DcMessage>,
    internal: Reporter,
    peer: PeerId,
) {
    while let Some(msg) = rx.recv().await {
        let DcMessage::Text(text) = msg else { continue };
        match serde_json::from_str::<ControlFrame>(&text) {
            Ok(ControlFrame::Hangup) => {
                let _ = internal.send(Internal::RemoteHangup).await;
                return;
            }
            Ok(ControlFrame::Mute { audio, video }) => {
                let ev = CallEvent::RemoteMuted {
                    peer: peer.clone(),
                    audio,
                    video,
                };
                let _ = internal.send(Internal::Event(ev)).await;
            }
            Ok(ControlFrame::ScreenShare { sharing }) => {
                let ev = CallEvent::RemoteScreenShare {
                    peer: peer.clone(),
                    sharing,
                };
                let _ = internal.send(Internal::Event(ev)).await;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("control: bad frame: {e}"),
        }
    }
}

/// Once the channel is open, sends our current mute state (docs/protocol.md
/// §8.2: once when the channel opens, then on every change), then the queued
/// control frames in order.
pub(super) async fn send_control_queue(
    dc: DataChannel,
    mut queue: mpsc::Receiver<ControlFrame>,
    mute: Arc<Mute>,
    mut stop: watch::Receiver<bool>,
) {
    tokio::select! {
        r = dc.wait_open() => if r.is_err() { return },
        _ = crate::stop::stopped(&mut stop) => return,
    }
    let state = ControlFrame::Mute {
        audio: mute.audio.load(Ordering::Relaxed),
        video: mute.video.load(Ordering::Relaxed),
    };
    if let Err(e) = send_control(&dc, &state).await {
        tracing::debug!("control: {e}");
        return;
    }
    loop {
        tokio::select! {
            frame = queue.recv() => match frame {
                Some(frame) => {
                    if let Err(e) = send_control(&dc, &frame).await {
                        tracing::debug!("control: {e}");
                        return;
                    }
                }
                None => return,
            },
            _ = crate::stop::stopped(&mut stop) => return,
        }
    }
}

/// Sends a control frame (mute state, hangup) to the peer.
pub(super) async fn send_control(dc: &DataChannel, frame: &ControlFrame) -> Result<()> {
    dc.send(DcMessage::Text(frame.to_json())).await
}

/// Capacity of the transfer event queue, events.
const TRANSFER_EVENT_QUEUE: usize = 64;

/// The file side of a call, as [`run_files`] needs it.
pub(super) struct FilePlan {
    /// Files to offer at once, in order.
    pub initial: Vec<super::FileToSend>,
    /// Files to offer later (unbounded: a dropped folder of many files must not
    /// block the call's command loop while one file is being sent).
    pub more: mpsc::UnboundedReceiver<super::FileToSend>,
    /// The user's answers and cancels.
    pub commands: mpsc::Receiver<TransferCommand>,
    /// Where received files go (`None`: decline every offer).
    pub receive_dir: Option<PathBuf>,
    /// Whether offers wait for the user ([`ReceiveSession::set_ask`]).
    pub ask: bool,
    /// The member on the other end (named in the transfer events).
    pub peer: PeerId,
}

/// Offers our files in order, several at once (and more from `plan.more`; see
/// [`FileSends::run`]), receives the peer's into
/// the receive folder (declining without one; asking the user first if
/// `plan.ask`), and carries out the user's [`TransferCommand`]s. Reports every
/// transfer event, and [`Internal::FileSendsDone`] once the initial files were
/// delivered or failed.
pub(super) async fn run_files(
    dc: DataChannel,
    mut rx: mpsc::Receiver<DcMessage>,
    plan: FilePlan,
    internal: Reporter,
    mut stop: watch::Receiver<bool>,
) {
    let FilePlan {
        initial,
        more,
        mut commands,
        receive_dir,
        ask,
        peer,
    } = plan;
    // As for chat: no initial files, nothing to wait for.
    if initial.is_empty() {
        let _ = internal.send(Internal::FileSendsDone).await;
    }
    if dc.wait_open().await.is_err() {
        for f in &initial {
            let name = f
                .name
                .clone()
                .unwrap_or_else(|| f.path.display().to_string());
            let why = format!("{name}: the file channel closed before it opened");
            let _ = internal.send(Internal::TransferFailed(why)).await;
        }
        if !initial.is_empty() {
            let _ = internal.send(Internal::FileSendsDone).await;
        }
        return;
    }
    let (tev_tx, mut tev_rx) = mpsc::channel(TRANSFER_EVENT_QUEUE);
    let (to_sender_tx, to_sender_rx) = super::file_sends::inbound_channel();
    // The sends' own reports (failures, "initial files done") come through the
    // loop below, after the transfer events queued before them.
    let (sends_report_tx, mut sends_reports) = mpsc::channel::<Report>(TRANSFER_EVENT_QUEUE);
    let internal_for_sends = Reporter::new(sends_report_tx);
    let (receive_cmd_tx, mut receive_cmd_rx) = mpsc::channel(TRANSFER_EVENT_QUEUE);
    let sink: Arc<dyn MessageSink> = Arc::new(dc.clone());

    let serve_sink = Arc::clone(&sink);
    // Without a receive folder, declining offers is the policy asked for, not a failure.
    let accepting = receive_dir.is_some();
    let mut session = ReceiveSession::new(receive_dir, tev_tx.clone());
    session.set_ask(ask);
    let serve = tokio::spawn(async move {
        let r = serve_file_channel(
            &mut rx,
            serve_sink.as_ref(),
            &mut session,
            &to_sender_tx,
            &mut receive_cmd_rx,
        )
        .await;
        if let Err(e) = r {
            tracing::debug!("file channel: {e}");
        }
    });

    let sends = FileSends::default();
    let (router, sender) = {
        let (sends, events) = (sends.clone(), tev_tx.clone());
        let router_sends = sends.clone();
        (
            tokio::spawn(async move { router_sends.route(to_sender_rx).await }),
            tokio::spawn(async move {
                sends
                    .run(initial, more, sink, events, internal_for_sends)
                    .await
            }),
        )
    };

    let mut commands_open = true;
    loop {
        tokio::select! {
            _ = crate::stop::stopped(&mut stop) => break,
            command = commands.recv(), if commands_open => {
                let Some(command) = command else {
                    commands_open = false;
                    continue;
                };
                let ours = match &command {
                    TransferCommand::Cancel { transfer_id } => match sends.cancel(transfer_id) {
                        Cancelled::NotOurs => false,
                        Cancelled::Running => true,
                        Cancelled::Queued(events) => {
                            for event in events {
                                let ev = CallEvent::Transfer { peer: peer.clone(), event };
                                let _ = internal.send(Internal::Event(ev)).await;
                            }
                            true
                        }
                    },
                    other => sends.is_ours(other.transfer_id()),
                };
                if !ours {
                    let _ = receive_cmd_tx.send(command).await;
                }
            }
            // After the events queued before it (biased: events first).
            Some(report) = sends_reports.recv(), if tev_rx.is_empty() => {
                let _ = internal.send(report.msg).await;
            }
            ev = tev_rx.recv() => {
                let Some(ev) = ev else { break };
                // Our own sends report their failures themselves (see above).
                if let TransferEvent::Failed { name, reason, direction, outcome, .. } = &ev {
                    let chosen = *outcome == TransferOutcome::Declined;
                    if !chosen && accepting && *direction == TransferDirection::Receiving {
                        let _ = internal
                            .send(Internal::TransferFailed(format!("{name}: {reason}")))
                            .await;
                    }
                }
                let ev = CallEvent::Transfer { peer: peer.clone(), event: ev };
                let _ = internal.send(Internal::Event(ev)).await;
            }
        }
    }
    sends.cancel_all();
    sender.abort();
    router.abort();
    drop(receive_cmd_tx);
    let _ = serve.await;
}
