//! The sending side of a call's file channel: up to [`MAX_CONCURRENT_SENDS`]
//! files offered and streamed at once (their chunks interleave on the one
//! channel, so many small files do not wait for each other's round trips), the
//! peer's answers routed to the send they belong to, and the user's cancels
//! carried out by transfer id, for a file being sent or one still queued.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use parley_proto::data::{transfer_id_from_hex, transfer_id_to_hex, TransferFrame};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::data::{Internal, Reporter};
use super::FileToSend;
use crate::channel::MessageSink;
use crate::transfer::{
    send_file_as, Batch, Outgoing, TransferDirection, TransferEvent, TransferOutcome,
    SENDER_INBOUND_CAPACITY,
};

/// Most files one call sends at once (to one member). The receiver takes up to
/// [`crate::transfer::MAX_CONCURRENT_RECEIVES`].
pub const MAX_CONCURRENT_SENDS: usize = 16;

/// Capacity of one send's own queue of answers from the peer, frames.
const PER_SEND_INBOUND: usize = 8;

/// Reason of the [`TransferEvent::Failed`] of a queued file cancelled before its offer.
const CANCELLED_QUEUED: &str = "cancelled before it was sent";

/// Reason of the [`TransferEvent::Failed`] of a queued file whose folder the
/// receiver declined.
const DECLINED_FOLDER: &str = "the receiver declined its folder";

/// What [`FileSends::enqueue`] did with a file.
enum Enqueued {
    /// Queued.
    Yes,
    /// Its transfer id is queued or being sent already.
    Twice,
    /// Cancelled before it reached us: report this event.
    Cancelled(TransferEvent),
}

/// What [`FileSends::cancel`] did.
#[derive(Debug)]
pub(super) enum Cancelled {
    /// Not one of ours: the receiving side's, if anyone's.
    NotOurs,
    /// A file being sent (or cancelled before): it reports its own end.
    Running,
    /// Queued files, now skipped (one, or a folder's): report these events.
    Queued(Vec<TransferEvent>),
}

/// What the call's command loop and the sends share: which transfers are ours.
#[derive(Debug, Default)]
struct State {
    /// Files being sent: their answer queue (`None` once the channel closed,
    /// so the send ends), cancel switch and folder's batch id, by transfer id.
    running: HashMap<String, Running>,
    /// The peer's answers stopped (the file channel closed).
    closed: bool,
    /// Files still waiting in the queue: their name as shown and folder, by
    /// transfer id.
    queued: HashMap<String, (String, Option<Batch>)>,
    /// Ids of queued files the user cancelled (already reported): skipped
    /// when their turn comes.
    cancelled: HashSet<String>,
    /// Ids (transfer or batch) the user cancelled before any file of theirs
    /// reached us (a cancel may overtake its files between the call and this
    /// task): such files are reported cancelled when they come, not sent.
    cancelled_early: HashSet<String>,
}

/// Most ids [`State::cancelled_early`] remembers (beyond, it starts afresh:
/// ids of transfers we receive land there too, and are never claimed).
const MAX_CANCELLED_EARLY: usize = 4096;

/// A file being sent: its answer queue (`None` once the channel closed, so
/// the send ends), its cancel switch and its folder's batch id.
type Running = (
    Option<mpsc::Sender<TransferFrame>>,
    watch::Sender<bool>,
    Option<String>,
);

/// The sends of one call, shared by the command loop ([`FileSends::cancel`]),
/// the router ([`FileSends::route`]) and the task sending the files
/// ([`FileSends::run`]).
#[derive(Debug, Clone, Default)]
pub(super) struct FileSends {
    state: Arc<Mutex<State>>,
}

impl FileSends {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// If `id` is one of ours, or the batch id of a folder we send, cancels
    /// it (all of the folder): a file being sent reports its own end; for
    /// files still queued the events to report are returned (their `Failed`,
    /// cancelled), and they are skipped when their turn comes.
    pub(super) fn cancel(&self, id: &str) -> Cancelled {
        let mut state = self.lock();
        let in_folder = |batch: Option<&str>| batch == Some(id);
        let running: Vec<String> = state
            .running
            .iter()
            .filter(|(t, r)| t.as_str() == id || in_folder(r.2.as_deref()))
            .map(|(t, _)| t.clone())
            .collect();
        let queued: Vec<String> = state
            .queued
            .iter()
            .filter(|(t, q)| t.as_str() == id || in_folder(q.1.as_ref().map(|b| b.id.as_str())))
            .map(|(t, _)| t.clone())
            .collect();
        if running.is_empty() && queued.is_empty() {
            if state.cancelled_early.len() >= MAX_CANCELLED_EARLY {
                state.cancelled_early.clear();
            }
            state.cancelled_early.insert(id.to_owned());
            return Cancelled::NotOurs;
        }
        for t in &running {
            let _ = state.running[t].1.send(true);
        }
        let outcome = (TransferOutcome::Cancelled, CANCELLED_QUEUED);
        let events = skip_queued(&mut state, queued, outcome);
        match events.is_empty() {
            true => Cancelled::Running,
            false => Cancelled::Queued(events),
        }
    }

    /// The receiving user declined the folder `batch_id`: its files still
    /// queued are not offered; returns their events (declined).
    fn decline_folder(&self, batch_id: &str) -> Vec<TransferEvent> {
        let mut state = self.lock();
        let queued: Vec<String> = state
            .queued
            .iter()
            .filter(|(_, q)| q.1.as_ref().is_some_and(|b| b.id == batch_id))
            .map(|(t, _)| t.clone())
            .collect();
        let outcome = (TransferOutcome::Declined, DECLINED_FOLDER);
        skip_queued(&mut state, queued, outcome)
    }

    /// Whether `transfer_id` is one of ours (being sent or queued).
    pub(super) fn is_ours(&self, transfer_id: &str) -> bool {
        let state = self.lock();
        state.running.contains_key(transfer_id) || state.queued.contains_key(transfer_id)
    }

    /// Cancels every send (the call ends).
    pub(super) fn cancel_all(&self) {
        for (_, cancel, _) in self.lock().running.values() {
            let _ = cancel.send(true);
        }
    }

    /// Hands each answer from the peer (`accept`, `decline`, `complete`,
    /// `failed`, `cancel` of a transfer we send) to the send it belongs to;
    /// answers for no send in progress are dropped. Returns when `inbound` closes.
    pub(super) async fn route(&self, mut inbound: mpsc::Receiver<TransferFrame>) {
        while let Some(frame) = inbound.recv().await {
            let to = self
                .lock()
                .running
                .get(frame.transfer_id())
                .and_then(|r| r.0.clone());
            match to {
                // The send reads its answers promptly; a full queue means a
                // peer repeating itself, and what is dropped is a duplicate.
                Some(to) => {
                    if to.try_send(frame).is_err() {
                        tracing::debug!("an answer for a busy send dropped");
                    }
                }
                None => tracing::debug!(frame = ?frame, "an answer for no send in progress"),
            }
        }
        // No answer will come: each send waiting for one ends (channel closed).
        let mut state = self.lock();
        state.closed = true;
        for (answers, _, _) in state.running.values_mut() {
            *answers = None;
        }
    }

    /// Sends `initial`, then every file from `more`, at most
    /// [`MAX_CONCURRENT_SENDS`] at once, in order of their offers. Reports each
    /// failure (other than the receiving user's "no") as
    /// [`Internal::TransferFailed`], and [`Internal::FileSendsDone`] once every
    /// initial file was delivered or failed (after their failures). Returns when
    /// `more` closes and every send ended. Dropping it aborts the sends (each
    /// tells the peer `cancel`).
    pub(super) async fn run(
        &self,
        initial: Vec<FileToSend>,
        mut more: mpsc::UnboundedReceiver<FileToSend>,
        sink: Arc<dyn MessageSink>,
        events: mpsc::Sender<TransferEvent>,
        internal: Reporter,
    ) {
        let mut queue: VecDeque<(FileToSend, bool)> = VecDeque::new();
        let mut initial_left = 0;
        for f in initial {
            match self.enqueue(&mut queue, f, true) {
                Enqueued::Yes => initial_left += 1,
                Enqueued::Twice => {}
                Enqueued::Cancelled(event) => crate::transfer::emit(&events, event).await,
            }
        }
        if initial_left == 0 {
            let _ = internal.send(Internal::FileSendsDone).await;
        }
        let mut running: JoinSet<(bool, Option<String>)> = JoinSet::new();
        let mut more_open = true;
        loop {
            while running.len() < MAX_CONCURRENT_SENDS {
                let Some((f, first)) = queue.pop_front() else {
                    break;
                };
                match self.start(f, &sink, &events).await {
                    Some(send) => {
                        running.spawn(async move { (first, send.await) });
                    }
                    None if first => {
                        initial_left -= 1;
                        if initial_left == 0 {
                            let _ = internal.send(Internal::FileSendsDone).await;
                        }
                    }
                    None => {}
                }
            }
            tokio::select! {
                f = more.recv(), if more_open => match f {
                    Some(f) => {
                        if let Enqueued::Cancelled(event) = self.enqueue(&mut queue, f, false) {
                            crate::transfer::emit(&events, event).await;
                        }
                    }
                    None => more_open = false,
                },
                Some(ended) = running.join_next(), if !running.is_empty() => {
                    let (first, failure) = ended.unwrap_or_else(|e| {
                        // A send that panicked still counts as ended (and failed).
                        (true, Some(format!("a send stopped: {e}")))
                    });
                    if let Some(why) = failure {
                        let _ = internal.send(Internal::TransferFailed(why)).await;
                    }
                    if first {
                        initial_left -= 1;
                        if initial_left == 0 {
                            let _ = internal.send(Internal::FileSendsDone).await;
                        }
                    }
                }
                else => break,
            }
        }
    }

    /// Puts `f` at the end of the queue; gives it its transfer id now (so it can
    /// be cancelled while it waits). A file whose transfer id is queued or being
    /// sent already is not queued twice (two sends under one id would cut each
    /// other off); one the user cancelled (or its folder) before it reached us
    /// is not queued, and its event is returned.
    fn enqueue(
        &self,
        queue: &mut VecDeque<(FileToSend, bool)>,
        mut f: FileToSend,
        first: bool,
    ) -> Enqueued {
        let id = f
            .transfer_id
            .as_deref()
            .and_then(|t| transfer_id_from_hex(t).ok())
            .unwrap_or_else(rand::random);
        let transfer_id = transfer_id_to_hex(&id);
        {
            let mut state = self.lock();
            let batch_id = f.batch.as_ref().map(|b| b.id.as_str());
            let early = |id: &str| state.cancelled_early.contains(id);
            if early(&transfer_id) || batch_id.is_some_and(early) {
                f.transfer_id = Some(transfer_id);
                return Enqueued::Cancelled(cancelled_event(&f));
            }
            if state.running.contains_key(&transfer_id) || state.queued.contains_key(&transfer_id) {
                tracing::debug!(%transfer_id, "file queued twice: once is enough");
                return Enqueued::Twice;
            }
            let queued = (display_name(&f), f.batch.clone());
            state.queued.insert(transfer_id.clone(), queued);
        }
        f.transfer_id = Some(transfer_id);
        queue.push_back((f, first));
        Enqueued::Yes
    }

    /// Takes `f` out of the queue and returns the future sending it, or `None`
    /// if the user cancelled it meanwhile (reported as cancelled).
    async fn start(
        &self,
        f: FileToSend,
        sink: &Arc<dyn MessageSink>,
        events: &mpsc::Sender<TransferEvent>,
    ) -> Option<impl std::future::Future<Output = Option<String>> + Send + 'static> {
        let transfer_id = f.transfer_id.clone().expect("given by enqueue");
        let id = transfer_id_from_hex(&transfer_id).expect("given by enqueue");
        let (answers_tx, mut answers) = mpsc::channel(PER_SEND_INBOUND);
        let (cancel_tx, cancel) = watch::channel(false);
        let cancelled = {
            let mut state = self.lock();
            state.queued.remove(&transfer_id);
            let cancelled = state.cancelled.remove(&transfer_id);
            if !cancelled {
                let answers_tx = (!state.closed).then_some(answers_tx);
                let batch = f.batch.as_ref().map(|b| b.id.clone());
                state
                    .running
                    .insert(transfer_id.clone(), (answers_tx, cancel_tx, batch));
            }
            cancelled
        };
        if cancelled {
            // Reported when it was cancelled.
            return None;
        }
        let (sink, events, sends) = (Arc::clone(sink), events.clone(), self.clone());
        Some(async move {
            let file = Outgoing {
                id_bytes: id,
                path: &f.path,
                name: f.name.as_deref(),
                batch: f.batch.as_ref(),
            };
            let r = send_file_as(file, sink, &mut answers, &events, cancel).await;
            sends.lock().running.remove(&transfer_id);
            let e = r.err()?;
            tracing::info!("sending {}: {e}", f.path.display());
            if e.outcome() == TransferOutcome::Declined {
                // A no to one file of a folder is a no to the folder: the
                // rest of it is not offered.
                if let Some(b) = &f.batch {
                    for event in sends.decline_folder(&b.id) {
                        crate::transfer::emit(&events, event).await;
                    }
                }
                return None;
            }
            Some(format!("{}: {e}", display_name(&f)))
        })
    }
}

/// Marks `queued` files to be skipped when their turn comes and returns
/// their events, ended with `outcome` (and its reason); those skipped before
/// (reported then) are left out.
fn skip_queued(
    state: &mut State,
    queued: Vec<String>,
    (outcome, reason): (TransferOutcome, &str),
) -> Vec<TransferEvent> {
    let mut events = Vec::new();
    for transfer_id in queued {
        if !state.cancelled.insert(transfer_id.clone()) {
            continue;
        }
        let (name, batch) = state.queued[&transfer_id].clone();
        tracing::info!(%transfer_id, %name, reason, "queued file skipped");
        events.push(TransferEvent::Failed {
            transfer_id,
            name,
            bytes_total: 0,
            outcome,
            reason: reason.to_owned(),
            direction: TransferDirection::Sending,
            batch,
        });
    }
    events
}

/// The user cancelled `id` (a transfer id, or a folder's batch id) while its
/// files still wait for the call's file channel (the call rings, or has no
/// link to take them yet; a link's own waiting files are
/// [`State::cancelled_early`]'s): takes those files out of `files` and returns,
/// for each, the member it was for (`None`: the first) and its `Failed`
/// event (cancelled), as a queued file's cancel reports it.
pub(super) fn take_cancelled(
    files: &mut Vec<FileToSend>,
    id: &str,
) -> Vec<(Option<parley_proto::PeerId>, TransferEvent)> {
    let (cancelled, kept): (Vec<_>, Vec<_>) = std::mem::take(files).into_iter().partition(|f| {
        f.transfer_id.as_deref() == Some(id) || f.batch.as_ref().is_some_and(|b| b.id == id)
    });
    *files = kept;
    cancelled
        .into_iter()
        .map(|f| (f.to.clone(), cancelled_event(&f)))
        .collect()
}

/// The `Failed` event (cancelled) of `f`, a file cancelled before it was sent.
fn cancelled_event(f: &FileToSend) -> TransferEvent {
    let name = display_name(f);
    tracing::info!(%name, "file cancelled before it was sent");
    TransferEvent::Failed {
        transfer_id: f.transfer_id.clone().unwrap_or_default(),
        name,
        bytes_total: 0,
        outcome: TransferOutcome::Cancelled,
        reason: CANCELLED_QUEUED.to_owned(),
        direction: TransferDirection::Sending,
        batch: f.batch.clone(),
    }
}

/// The name a file is offered under, as the user knows it.
fn display_name(f: &FileToSend) -> String {
    f.name.clone().unwrap_or_else(|| {
        f.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

/// The answer queue of the router, frames: as in [`crate::transfer::serve_file_channel`].
pub(super) fn inbound_channel() -> (mpsc::Sender<TransferFrame>, mpsc::Receiver<TransferFrame>) {
    mpsc::channel(SENDER_INBOUND_CAPACITY)
}
