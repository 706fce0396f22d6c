//! The receiving side: accept or decline offers (at once, or when the user
//! answers; first `have` when something of the file is here already), write
//! chunks through a blocking writer thread that checks every block's BLAKE3,
//! verify the whole file's, and move the file into place.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parley_proto::data::{decode_chunk, transfer_id_from_hex, Batch, TransferFrame};
use parley_proto::file_hash::FileHasher;
use tokio::sync::{mpsc, Semaphore};

use super::lease::PartLease;
use super::name::RelativeName;
use super::writer::Writer;
use super::{
    emit, ProgressThrottle, TransferCommand, TransferDirection, TransferError, TransferEvent,
    TransferOutcome, TransferProgress,
};

/// Suffix of the hidden temp file a transfer is written to: `.<name>.parley-part`.
pub const PART_SUFFIX: &str = ".parley-part";

/// Suffix of the sidecar describing a temp file's offer, for resuming:
/// `.<name>.parley-part.json` holding `{"size": …, "version": 2}`.
pub const SIDECAR_SUFFIX: &str = ".parley-part.json";

mod batch;
mod checks;
mod end;
mod finish;
mod later;
mod offer;
mod start;

use checks::write_failure;
use end::{block_mismatch, emit_failed, Failing};
use later::{Hashing, LaterKind, Probing};

pub use later::Later;

/// Most transfers one session receives at once, offered (waiting for the user),
/// being received or being finished (verified and moved into place); an offer
/// beyond them is declined as busy. The sender's own limit is lower
/// ([`crate::call`] sends at most 16 at once), so a Parley peer never meets it.
pub const MAX_CONCURRENT_RECEIVES: usize = 32;

/// Most offers whose held bytes one session hashes at once (a folder sent
/// again may offer 16 files partly here at once; the rest wait their turn
/// rather than read the disk all together).
pub const MAX_CONCURRENT_PROBES: usize = 2;

/// The receive side of the file channel: up to [`MAX_CONCURRENT_RECEIVES`]
/// incoming transfers at a time, offered or being received, each with its own
/// temp file and writer thread (a further offer meanwhile is declined as busy,
/// and so is one whose temp file another transfer is writing).
///
/// Policy: with no receive folder every offer is declined ("not accepting
/// files"); with one, offers are saved there under their sanitised name, never
/// overwriting an existing file, when the folder's disk has room for them (else
/// they are declined with [`TransferError::NoSpace`]). They are accepted at
/// once, or, after
/// [`set_ask`](Self::set_ask)`(true)`, announced with [`TransferEvent::Incoming`]
/// and held until the user answers through [`command`](Self::command) (except
/// an offer that resumes a partial file kept here, which the user accepted
/// before: it goes on at once). Feed it with
/// [`ReceiveSession::on_text`] and [`ReceiveSession::on_chunk`], send the frames
/// they return to the peer, and send the answers [`ReceiveSession::later`]
/// and [`ReceiveSession::on_later`] yield as files are verified (or let [`super::serve_file_channel`] do it).
#[derive(Debug)]
pub struct ReceiveSession {
    receive_dir: Option<PathBuf>,
    events: mpsc::Sender<TransferEvent>,
    ask: bool,
    /// Offers waiting for the user's answer, oldest first.
    pending: Vec<Offer>,
    /// Offers answered with `have`, waiting for the sender's `resume`.
    probing: Vec<Probing>,
    /// Offers whose receive folder holds something of them, being hashed by
    /// a task of their own before the `have` (other transfers go on
    /// meanwhile); kept, marked stopped, until their task is back.
    hashing: Vec<Hashing>,
    /// Permits to hash, [`MAX_CONCURRENT_PROBES`] of them.
    probe_slots: Arc<Semaphore>,
    /// Transfers being received, by transfer id bytes.
    active: HashMap<[u8; 16], Incoming>,
    /// Ids of transfers whose `done` came: verified and moved by a task of their own.
    finishing: Vec<String>,
    later_tx: mpsc::UnboundedSender<LaterKind>,
    later_rx: mpsc::UnboundedReceiver<LaterKind>,
}

/// A checked offer: waiting for the user's answer, or about to be accepted.
#[derive(Debug)]
struct Offer {
    transfer_id: String,
    id_bytes: [u8; 16],
    /// Sanitised name as shown: its folders and file name joined with `/`.
    name: String,
    /// The same, split: where it goes under the receive folder.
    rel: RelativeName,
    size: u64,
    /// Its dropped folder (name sanitised), asked about as a whole.
    batch: Option<Batch>,
}

/// An offer as it came (name not yet sanitised, batch checked).
struct RawOffer {
    transfer_id: String,
    name: String,
    size: u64,
    version: u32,
    batch: Option<Batch>,
}

impl Offer {
    /// The offer as a failure or decline report names it.
    fn failing(&self) -> Failing<'_> {
        Failing {
            transfer_id: &self.transfer_id,
            name: &self.name,
            bytes_total: self.size,
            batch: self.batch.as_ref(),
        }
    }

    /// Where it stands for the UI, with `bytes_done` of it here.
    fn progress(&self, bytes_done: u64) -> TransferProgress {
        TransferProgress {
            transfer_id: self.transfer_id.clone(),
            name: self.name.clone(),
            bytes_done,
            bytes_total: self.size,
            direction: TransferDirection::Receiving,
            batch: self.batch.clone(),
        }
    }

    /// The folder the file goes in under `root`.
    fn dir(&self, root: &Path) -> PathBuf {
        self.rel.dir(root)
    }

    /// The file name on disk (one component).
    fn leaf(&self) -> String {
        self.rel.file.clone().unwrap_or_else(|| "file".to_owned())
    }
}

/// A kept part to go on from: its first bytes hashed, and its lease.
type Resume = (FileHasher, PartLease);

/// Reason sent to the sender when the user declines an offer.
pub const DECLINED_BY_USER: &str = "declined by the receiver";

#[derive(Debug)]
struct Incoming {
    transfer_id: String,
    /// As shown (folders and file name).
    name: String,
    /// The file name on disk, in `dir`.
    leaf: String,
    size: u64,
    /// The whole file's BLAKE3 (lowercase hex) from the sender's `done`.
    blake3: String,
    dir: PathBuf,
    part: PathBuf,
    sidecar: PathBuf,
    received: u64,
    started: Instant,
    throttle: ProgressThrottle,
    writer: Writer,
    /// Held until the file is moved into place or kept for a resume.
    lease: PartLease,
    /// Its dropped folder.
    batch: Option<Batch>,
}

impl ReceiveSession {
    /// A session saving files into `receive_dir` (created when the first file
    /// arrives), or declining every offer if `None`. Events go to `events`.
    pub fn new(receive_dir: Option<PathBuf>, events: mpsc::Sender<TransferEvent>) -> Self {
        let (later_tx, later_rx) = mpsc::unbounded_channel();
        ReceiveSession {
            receive_dir,
            events,
            ask: false,
            pending: Vec::new(),
            probing: Vec::new(),
            hashing: Vec::new(),
            probe_slots: Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES)),
            active: HashMap::new(),
            finishing: Vec::new(),
            later_tx,
            later_rx,
        }
    }

    /// Whether offers wait for the user (`true`: [`TransferEvent::Incoming`], then
    /// [`TransferCommand::Accept`] or [`TransferCommand::Decline`]) or are accepted
    /// at once (`false`, the default).
    pub fn set_ask(&mut self, ask: bool) {
        self.ask = ask;
    }

    /// Carries out the user's answer to an offer (or to a whole dropped
    /// folder, by its batch id), or a cancel of a transfer being received (or
    /// of a folder); returns the frames to send to the peer (`accept`,
    /// `decline` or `cancel`; none if the id is neither offered nor being
    /// received, e.g. it already ended).
    pub async fn command(&mut self, command: TransferCommand) -> Vec<TransferFrame> {
        let pending_at = |s: &Self, id: &str| s.pending.iter().position(|p| p.transfer_id == id);
        let id = command.transfer_id();
        if pending_at(self, id).is_none() && self.active_id(id).is_none() && self.is_batch(id) {
            return match command {
                TransferCommand::Accept { transfer_id } => self.accept_batch(&transfer_id).await,
                TransferCommand::Decline { transfer_id } => {
                    self.decline_batch(&transfer_id, false).await
                }
                TransferCommand::Cancel { transfer_id } => {
                    self.decline_batch(&transfer_id, true).await
                }
            };
        }
        match command {
            TransferCommand::Accept { transfer_id } if pending_at(self, &transfer_id).is_some() => {
                let at = pending_at(self, &transfer_id).expect("checked");
                let offer = self.pending.remove(at);
                self.take(offer).await
            }
            TransferCommand::Decline { transfer_id } | TransferCommand::Cancel { transfer_id }
                if pending_at(self, &transfer_id).is_some() =>
            {
                let at = pending_at(self, &transfer_id).expect("checked");
                let offer = self.pending.remove(at);
                vec![self.refuse(offer).await]
            }
            TransferCommand::Cancel { transfer_id } if self.active_id(&transfer_id).is_some() => {
                let id = self.active_id(&transfer_id).expect("checked");
                self.cancel(id, "cancelled by the receiver").await
            }
            other => {
                tracing::debug!(command = ?other, "transfer command for no current offer");
                Vec::new()
            }
        }
    }

    /// Changes the receive folder for later offers (`None`: decline them).
    pub fn set_receive_dir(&mut self, receive_dir: Option<PathBuf>) {
        self.receive_dir = receive_dir;
    }

    /// Whether `transfer_id` is a transfer being received or finished now, or an
    /// offer waiting for the user's answer.
    pub fn is_receiving(&self, transfer_id: &str) -> bool {
        self.active_id(transfer_id).is_some()
            || self.pending.iter().any(|p| p.transfer_id == transfer_id)
            || self
                .probing
                .iter()
                .any(|p| p.offer.transfer_id == transfer_id)
            || self.finishing.iter().any(|f| f == transfer_id)
            || self
                .hashing
                .iter()
                .any(|h| h.transfer_id == transfer_id && !h.stopped())
    }

    /// The id bytes of `transfer_id` if it is being received.
    fn active_id(&self, transfer_id: &str) -> Option<[u8; 16]> {
        let id = transfer_id_from_hex(transfer_id).ok()?;
        self.active.contains_key(&id).then_some(id)
    }

    /// How many transfers this session holds: offered, being received or finishing.
    fn in_hand(&self) -> usize {
        self.pending.len()
            + self.probing.len()
            + self.hashing.len()
            + self.active.len()
            + self.finishing.len()
    }

    /// Handles a text frame from the peer (`offer`, `resume`, `done`, `cancel`;
    /// others are ignored) and returns the frames to send back, in order. The answer to a
    /// `done`, and to an offer of a file partly or wholly here already, comes
    /// later, from [`later`](Self::later) and [`on_later`](Self::on_later).
    ///
    /// Never fails: problems become `decline` or `failed` frames for the peer and
    /// [`TransferEvent::Failed`] events for the UI.
    pub async fn on_text(&mut self, frame: TransferFrame) -> Vec<TransferFrame> {
        match frame {
            TransferFrame::Offer {
                transfer_id,
                name,
                size,
                version,
                batch,
            } => {
                let offer = RawOffer {
                    transfer_id,
                    name,
                    size,
                    version,
                    batch: batch::checked(batch),
                };
                self.on_offer(offer).await
            }
            TransferFrame::Resume {
                transfer_id,
                offset,
            } => self.on_resume(transfer_id, offset).await,
            TransferFrame::Done {
                transfer_id,
                blake3,
            } => match self.active_id(&transfer_id) {
                Some(id) => self.on_done(id, blake3).await,
                None if self.finishing.contains(&transfer_id) => {
                    tracing::debug!(%transfer_id, "duplicate `done` ignored");
                    Vec::new()
                }
                None => {
                    tracing::debug!(%transfer_id, "`done` for an unknown transfer");
                    vec![TransferFrame::Failed {
                        transfer_id,
                        reason: "unknown transfer".into(),
                    }]
                }
            },
            TransferFrame::Cancel {
                transfer_id,
                reason,
            } => {
                // An offer waiting for the user, or for the sender's `resume`.
                let waiting = match self
                    .pending
                    .iter()
                    .position(|p| p.transfer_id == transfer_id)
                {
                    Some(at) => Some(self.pending.remove(at)),
                    None => self
                        .probing
                        .iter()
                        .position(|p| p.offer.transfer_id == transfer_id)
                        .map(|at| self.probing.remove(at).offer),
                };
                let hashing = self
                    .hashing
                    .iter()
                    .find(|h| h.transfer_id == transfer_id && !h.stopped());
                if let Some(h) = hashing {
                    // Its task stops hashing; what it finds is dropped.
                    h.stop.store(true, Ordering::Relaxed);
                    let why = format!("cancelled by the sender: {reason}");
                    self.emit_failed(h.failing(), TransferOutcome::Cancelled, why)
                        .await;
                } else if let Some(offer) = waiting {
                    let why = format!("cancelled by the sender: {reason}");
                    self.emit_failed(offer.failing(), TransferOutcome::Cancelled, why)
                        .await;
                } else if let Some(id) = self.active_id(&transfer_id) {
                    // The partial file stays: the same file offered again resumes.
                    let err = TransferError::Cancelled {
                        reason: format!("by the sender: {reason}"),
                    };
                    self.abort(id, err, false).await;
                }
                Vec::new()
            }
            other => {
                tracing::debug!(frame = ?other, "ignoring a frame not meant for the receiving side");
                Vec::new()
            }
        }
    }

    /// Handles a binary chunk frame from the peer; returns the frames to send back
    /// (a `failed` if the chunk is out of place or cannot be written). Chunks of
    /// unknown transfers (e.g. the tail of one that already failed) are ignored.
    pub async fn on_chunk(&mut self, frame: &Bytes) -> Vec<TransferFrame> {
        let (header, payload_len) = match decode_chunk(frame) {
            Ok((header, payload)) => (header, payload.len()),
            Err(e) => {
                tracing::warn!(error = %e, "file channel: bad chunk ignored");
                return Vec::new();
            }
        };
        let id = header.transfer_id;
        let Some(active) = self.active.get_mut(&id) else {
            tracing::debug!("chunk for an unknown transfer ignored");
            return Vec::new();
        };
        if header.offset != active.received {
            let err = TransferError::BadOffset {
                expected: active.received,
                got: header.offset,
            };
            return self.fail(id, err, true).await;
        }
        let end = active.received + payload_len as u64;
        if end > active.size {
            let err = TransferError::SizeMismatch {
                received: end,
                expected: active.size,
            };
            return self.fail(id, err, true).await;
        }
        let payload = frame.slice(frame.len() - payload_len..);
        if let Err(e) = active.writer.write(payload, header.block_hash).await {
            if let Some(mismatch) = block_mismatch(&e) {
                // Wrong data: discarded.
                let err = TransferError::BlockMismatch {
                    offset: mismatch.offset,
                };
                return self.fail(id, err, true).await;
            }
            // What is on disk is a correct prefix: kept, for a resume once
            // there is room (or the disk works) again.
            let err = write_failure(&active.part, &active.dir, active.size, e).await;
            return self.fail(id, err, false).await;
        }
        active.received = end;
        if active.throttle.ready(Instant::now()) {
            let progress = active.progress();
            emit(&self.events, TransferEvent::Progress(progress)).await;
        }
        Vec::new()
    }

    /// Cancels every transfer being received (the receiving user's action, so
    /// the partial files are discarded: deletes their temp files) and returns the
    /// `cancel` frames to send to the peer (empty if none is active).
    pub async fn cancel_active(&mut self, reason: &str) -> Vec<TransferFrame> {
        let ids: Vec<[u8; 16]> = self.active.keys().copied().collect();
        let mut frames = Vec::new();
        for id in ids {
            frames.extend(self.cancel(id, reason).await);
        }
        frames
    }

    /// Ends the session (the channel closed): forgets unanswered offers, stops
    /// the writers and keeps the partial files and their sidecars so a later
    /// offer of the same file resumes. Files being finished are still verified
    /// and moved into place (their answers are not sent).
    pub async fn close(&mut self) {
        let probing = std::mem::take(&mut self.probing)
            .into_iter()
            .map(|p| p.offer);
        let offers: Vec<Offer> = std::mem::take(&mut self.pending)
            .into_iter()
            .chain(probing)
            .collect();
        for h in self.hashing.iter().filter(|h| !h.stopped()) {
            h.stop.store(true, Ordering::Relaxed);
            let why = TransferError::ChannelClosed.to_string();
            emit_failed(&self.events, h.failing(), TransferOutcome::Failed, why).await;
        }
        for offer in offers {
            let why = TransferError::ChannelClosed.to_string();
            self.emit_failed(offer.failing(), TransferOutcome::Failed, why)
                .await;
        }
        let ids: Vec<[u8; 16]> = self.active.keys().copied().collect();
        for id in ids {
            self.abort(id, TransferError::ChannelClosed, false).await;
        }
    }

    /// Declines an offer before any of it arrives: reports it to the UI as
    /// `outcome` with `shown` as the reason, and returns the `decline` frame
    /// for the sender, carrying `reason` (docs/protocol.md §8.3).
    async fn decline(
        &self,
        offer: Failing<'_>,
        outcome: TransferOutcome,
        shown: String,
        reason: String,
    ) -> TransferFrame {
        self.emit_failed(offer, outcome, shown).await;
        TransferFrame::Decline {
            transfer_id: offer.transfer_id.to_owned(),
            reason,
        }
    }
}

impl Incoming {
    fn progress(&self) -> TransferProgress {
        TransferProgress {
            transfer_id: self.transfer_id.clone(),
            name: self.name.clone(),
            bytes_done: self.received,
            bytes_total: self.size,
            direction: TransferDirection::Receiving,
            batch: self.batch.clone(),
        }
    }
}
