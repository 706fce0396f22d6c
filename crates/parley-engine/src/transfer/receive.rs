//! The receiving side: accept or decline offers (at once, or when the user
//! answers), write chunks through a blocking writer thread while hashing, verify,
//! and move the file into place.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use parley_proto::data::{decode_chunk, transfer_id_from_hex, TransferFrame};
use tokio::sync::mpsc;

use super::disk::{
    holds_same, make_folders, move_into_place, prepare_part, remove_temp, resumable_len, Sidecar,
    Writer,
};
use super::name::{sanitize_relative_name, RelativeName};
use super::space::{check_space, write_error};
use super::{
    emit, ProgressThrottle, TransferCommand, TransferDirection, TransferError, TransferEvent,
    TransferOutcome, TransferProgress,
};

/// Suffix of the hidden temp file a transfer is written to: `.<name>.parley-part`.
pub const PART_SUFFIX: &str = ".parley-part";

/// Suffix of the sidecar describing a temp file's offer, for resuming:
/// `.<name>.parley-part.json` holding `{"sha256": …, "size": …}`.
pub const SIDECAR_SUFFIX: &str = ".parley-part.json";

/// The receive side of the file channel: at most one incoming transfer at a time,
/// offered or being received (a second offer meanwhile is declined as busy).
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
/// [`ReceiveSession::on_text`] and [`ReceiveSession::on_chunk`] (or let
/// [`super::serve_file_channel`] do it) and send the frames they return to the peer.
#[derive(Debug)]
pub struct ReceiveSession {
    receive_dir: Option<PathBuf>,
    events: mpsc::Sender<TransferEvent>,
    ask: bool,
    pending: Option<Offer>,
    active: Option<Incoming>,
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
    /// Lowercase hex.
    sha256: String,
}

impl Offer {
    /// The folder the file goes in under `root`.
    fn dir(&self, root: &Path) -> PathBuf {
        self.rel.dir(root)
    }

    /// The file name on disk (one component).
    fn leaf(&self) -> String {
        self.rel.file.clone().unwrap_or_else(|| "file".to_owned())
    }
}

/// Reason sent to the sender when the user declines an offer.
pub const DECLINED_BY_USER: &str = "declined by the receiver";

#[derive(Debug)]
struct Incoming {
    transfer_id: String,
    id_bytes: [u8; 16],
    /// As shown (folders and file name).
    name: String,
    /// The file name on disk, in `dir`.
    leaf: String,
    size: u64,
    sha256: String,
    dir: PathBuf,
    part: PathBuf,
    sidecar: PathBuf,
    received: u64,
    started: Instant,
    throttle: ProgressThrottle,
    writer: Writer,
}

impl ReceiveSession {
    /// A session saving files into `receive_dir` (created when the first file
    /// arrives), or declining every offer if `None`. Events go to `events`.
    pub fn new(receive_dir: Option<PathBuf>, events: mpsc::Sender<TransferEvent>) -> Self {
        ReceiveSession {
            receive_dir,
            events,
            ask: false,
            pending: None,
            active: None,
        }
    }

    /// Whether offers wait for the user (`true`: [`TransferEvent::Incoming`], then
    /// [`TransferCommand::Accept`] or [`TransferCommand::Decline`]) or are accepted
    /// at once (`false`, the default).
    pub fn set_ask(&mut self, ask: bool) {
        self.ask = ask;
    }

    /// Carries out the user's answer to an offer, or a cancel of the transfer
    /// being received; returns the frames to send to the peer (`accept`, `decline`
    /// or `cancel`; none if `transfer_id` is neither offered nor being received,
    /// e.g. it already ended).
    pub async fn command(&mut self, command: TransferCommand) -> Vec<TransferFrame> {
        let is_pending =
            |s: &Self, id: &str| s.pending.as_ref().is_some_and(|p| p.transfer_id == id);
        match command {
            TransferCommand::Accept { transfer_id } if is_pending(self, &transfer_id) => {
                let offer = self.pending.take().expect("checked");
                vec![self.start(offer).await]
            }
            TransferCommand::Decline { transfer_id } | TransferCommand::Cancel { transfer_id }
                if is_pending(self, &transfer_id) =>
            {
                let offer = self.pending.take().expect("checked");
                tracing::info!(%transfer_id, name = %offer.name, "offer declined");
                self.emit_failed(
                    &transfer_id,
                    &offer.name,
                    offer.size,
                    TransferOutcome::Declined,
                    "declined".into(),
                )
                .await;
                vec![TransferFrame::Decline {
                    transfer_id,
                    reason: DECLINED_BY_USER.into(),
                }]
            }
            TransferCommand::Cancel { transfer_id } if self.is_receiving(&transfer_id) => {
                self.cancel_active("cancelled by the receiver").await
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

    /// Whether `transfer_id` is the transfer being received now, or the offer
    /// waiting for the user's answer.
    pub fn is_receiving(&self, transfer_id: &str) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.transfer_id == transfer_id)
            || self
                .pending
                .as_ref()
                .is_some_and(|p| p.transfer_id == transfer_id)
    }

    /// Handles a text frame from the peer (`offer`, `done`, `cancel`; others are
    /// ignored) and returns the frames to send back, in order.
    ///
    /// Never fails: problems become `decline` or `failed` frames for the peer and
    /// [`TransferEvent::Failed`] events for the UI.
    pub async fn on_text(&mut self, frame: TransferFrame) -> Vec<TransferFrame> {
        match frame {
            TransferFrame::Offer {
                transfer_id,
                name,
                size,
                sha256,
            } => self.on_offer(transfer_id, name, size, sha256).await,
            TransferFrame::Done { transfer_id } => {
                if self
                    .active
                    .as_ref()
                    .is_some_and(|a| a.transfer_id == transfer_id)
                {
                    vec![self.on_done().await]
                } else {
                    tracing::debug!(%transfer_id, "`done` for an unknown transfer");
                    vec![TransferFrame::Failed {
                        transfer_id,
                        reason: "unknown transfer".into(),
                    }]
                }
            }
            TransferFrame::Cancel {
                transfer_id,
                reason,
            } => {
                if let Some(offer) = self.pending.take_if(|p| p.transfer_id == transfer_id) {
                    let why = format!("cancelled by the sender: {reason}");
                    self.emit_failed(
                        &transfer_id,
                        &offer.name,
                        offer.size,
                        TransferOutcome::Cancelled,
                        why,
                    )
                    .await;
                } else if self.is_receiving(&transfer_id) {
                    // The partial file stays: the same file offered again resumes.
                    let err = TransferError::Cancelled {
                        reason: format!("by the sender: {reason}"),
                    };
                    self.abort(err, false).await;
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
        let Some(active) = self.active.as_mut() else {
            return Vec::new();
        };
        if active.id_bytes != header.transfer_id {
            tracing::debug!("chunk for an unknown transfer ignored");
            return Vec::new();
        }
        if header.offset != active.received {
            let err = TransferError::BadOffset {
                expected: active.received,
                got: header.offset,
            };
            return self.fail(err, true).await;
        }
        let end = active.received + payload_len as u64;
        if end > active.size {
            let err = TransferError::SizeMismatch {
                received: end,
                expected: active.size,
            };
            return self.fail(err, true).await;
        }
        let payload = frame.slice(frame.len() - payload_len..);
        if let Err(e) = active.writer.write(payload).await {
            // What is on disk is a correct prefix: kept, for a resume once
            // there is room (or the disk works) again.
            let err = write_failure(&active.part, &active.dir, active.size, e).await;
            return self.fail(err, false).await;
        }
        active.received = end;
        if active.throttle.ready(Instant::now()) {
            let progress = active.progress();
            emit(&self.events, TransferEvent::Progress(progress)).await;
        }
        Vec::new()
    }

    /// Cancels the transfer being received (the receiving user's action, so the
    /// partial file is discarded: deletes its temp file) and returns the
    /// `cancel` frame to send to the peer (empty if none is active).
    pub async fn cancel_active(&mut self, reason: &str) -> Vec<TransferFrame> {
        let Some(transfer_id) = self.active.as_ref().map(|a| a.transfer_id.clone()) else {
            return Vec::new();
        };
        let err = TransferError::Cancelled {
            reason: format!("by the receiver: {reason}"),
        };
        self.abort(err, true).await;
        vec![TransferFrame::Cancel {
            transfer_id,
            reason: reason.to_owned(),
        }]
    }

    /// Ends the session (the channel closed): forgets an unanswered offer, stops
    /// the writer and keeps the partial file and its sidecar so a later offer of
    /// the same file resumes.
    pub async fn close(&mut self) {
        if let Some(offer) = self.pending.take() {
            let why = TransferError::ChannelClosed.to_string();
            self.emit_failed(
                &offer.transfer_id,
                &offer.name,
                offer.size,
                TransferOutcome::Failed,
                why,
            )
            .await;
        }
        if self.active.is_some() {
            let err = TransferError::ChannelClosed;
            self.abort(err, false).await;
        }
    }

    async fn on_offer(
        &mut self,
        transfer_id: String,
        raw_name: String,
        size: u64,
        sha256: String,
    ) -> Vec<TransferFrame> {
        let decline = |reason: String| {
            vec![TransferFrame::Decline {
                transfer_id: transfer_id.clone(),
                reason,
            }]
        };
        if let Some(active) = &self.active {
            if active.transfer_id == transfer_id {
                tracing::debug!(%transfer_id, "duplicate offer ignored");
                return vec![TransferFrame::Accept {
                    transfer_id,
                    offset: active.received,
                }];
            }
            return decline("busy: another transfer is in progress".into());
        }
        if let Some(pending) = &self.pending {
            if pending.transfer_id == transfer_id {
                tracing::debug!(%transfer_id, "duplicate offer: still waiting for the user");
                return Vec::new();
            }
            return decline("busy: another offer is waiting for an answer".into());
        }
        let Ok(id_bytes) = transfer_id_from_hex(&transfer_id) else {
            return decline("invalid transfer id".into());
        };
        if self.receive_dir.is_none() {
            let reason = "not accepting files".to_owned();
            self.emit_failed(
                &transfer_id,
                &raw_name,
                size,
                TransferOutcome::Failed,
                format!("declined: {reason}"),
            )
            .await;
            return decline(reason);
        }
        let sha256 = sha256.to_ascii_lowercase();
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return decline("invalid sha256".into());
        }
        let rel = match sanitize_relative_name(&raw_name) {
            Ok(rel) => rel,
            Err(e) => return decline(e.to_string()),
        };
        let dir = self.receive_dir.clone().expect("checked above");
        if rel.file.is_none() {
            return self.on_folder(transfer_id, rel, size, dir).await;
        }
        let offer = Offer {
            transfer_id,
            id_bytes,
            name: rel.display(),
            rel,
            size,
            sha256,
        };
        if let Some(path) = already_here(&dir, &offer).await {
            tracing::info!(transfer_id = %offer.transfer_id, path = %path.display(), "offered file already here");
            let event = TransferEvent::Completed {
                transfer_id: offer.transfer_id.clone(),
                name: offer.name,
                path,
                bytes: offer.size,
                elapsed_ms: 0,
                direction: TransferDirection::Receiving,
                already_there: true,
            };
            emit(&self.events, event).await;
            return vec![TransferFrame::Complete {
                transfer_id: offer.transfer_id,
            }];
        }
        if let Err(err) = room_for(&dir, &offer).await {
            tracing::info!(transfer_id = %offer.transfer_id, name = %offer.name, error = %err, "offer declined");
            self.emit_failed(
                &offer.transfer_id,
                &offer.name,
                offer.size,
                err.outcome(),
                err.to_string(),
            )
            .await;
            return vec![TransferFrame::Decline {
                transfer_id: offer.transfer_id,
                reason: err.to_string(),
            }];
        }
        // A file whose part we kept was accepted by our user before: it
        // resumes without asking again.
        if self.ask && !resumes(&dir, &offer).await {
            tracing::info!(transfer_id = %offer.transfer_id, name = %offer.name, size, "file offered; asking the user");
            let progress = TransferProgress {
                transfer_id: offer.transfer_id.clone(),
                name: offer.name.clone(),
                bytes_done: 0,
                bytes_total: size,
                direction: TransferDirection::Receiving,
            };
            self.pending = Some(offer);
            emit(&self.events, TransferEvent::Incoming(progress)).await;
            return Vec::new();
        }
        vec![self.start(offer).await]
    }

    /// An offer of a folder on its own (an empty folder of a dropped folder,
    /// its name ending with `/`): made at once, without asking (it holds
    /// nothing), and answered `complete`; `decline` if it cannot be made.
    async fn on_folder(
        &mut self,
        transfer_id: String,
        rel: RelativeName,
        size: u64,
        root: PathBuf,
    ) -> Vec<TransferFrame> {
        let name = rel.display();
        let existed = std::fs::symlink_metadata(rel.dir(&root)).is_ok_and(|m| m.is_dir());
        let made = if size != 0 {
            Err(TransferError::Protocol(format!("a folder of {size} bytes")))
        } else {
            tokio::task::spawn_blocking(move || make_folders(&root, &rel.folders))
                .await
                .unwrap_or_else(|e| {
                    Err(TransferError::Protocol(format!("folder task failed: {e}")))
                })
        };
        match made {
            Ok(path) => {
                tracing::info!(%transfer_id, path = %path.display(), "folder received");
                let event = TransferEvent::Completed {
                    transfer_id: transfer_id.clone(),
                    name,
                    path,
                    bytes: 0,
                    elapsed_ms: 0,
                    direction: TransferDirection::Receiving,
                    already_there: existed,
                };
                emit(&self.events, event).await;
                vec![TransferFrame::Complete { transfer_id }]
            }
            Err(e) => {
                self.emit_failed(&transfer_id, &name, size, e.outcome(), e.to_string())
                    .await;
                vec![TransferFrame::Decline {
                    transfer_id,
                    reason: format!("cannot make the folder: {e}"),
                }]
            }
        }
    }

    /// Accepts `offer`: opens (or resumes) its temp file and returns `accept`, or
    /// `decline` if the file cannot be saved.
    async fn start(&mut self, offer: Offer) -> TransferFrame {
        let Offer {
            transfer_id,
            id_bytes,
            name,
            rel,
            size,
            sha256,
        } = offer;
        let decline = |reason: String| TransferFrame::Decline {
            transfer_id: transfer_id.clone(),
            reason,
        };
        let Some(dir) = self.receive_dir.clone() else {
            self.emit_failed(
                &transfer_id,
                &name,
                size,
                TransferOutcome::Failed,
                "declined: not accepting files".into(),
            )
            .await;
            return decline("not accepting files".into());
        };
        // Again: the user may have taken a while to answer.
        let offer = Offer {
            transfer_id: transfer_id.clone(),
            id_bytes,
            name,
            rel,
            size,
            sha256,
        };
        if let Err(err) = room_for(&dir, &offer).await {
            self.emit_failed(
                &transfer_id,
                &offer.name,
                offer.size,
                err.outcome(),
                err.to_string(),
            )
            .await;
            return decline(err.to_string());
        }
        let leaf = offer.leaf();
        let Offer {
            name, rel, sha256, ..
        } = offer;
        let prepared = tokio::task::spawn_blocking({
            let (root, leaf, sha256) = (dir.clone(), leaf.clone(), sha256.clone());
            move || {
                let dir = make_folders(&root, &rel.folders)?;
                let prepared = prepare_part(&dir, &leaf, Sidecar { sha256, size })?;
                Ok::<_, TransferError>((dir, prepared))
            }
        })
        .await;
        let (dir, (part, sidecar, file, hasher, offset)) = match prepared {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                self.emit_failed(&transfer_id, &name, size, e.outcome(), e.to_string())
                    .await;
                return decline(format!("cannot save the file: {e}"));
            }
            Err(e) => return decline(format!("cannot save the file: {e}")),
        };
        tracing::info!(%transfer_id, %name, size, offset, "receiving a file");
        let active = Incoming {
            transfer_id: transfer_id.clone(),
            id_bytes,
            name,
            leaf,
            size,
            sha256,
            dir,
            part,
            sidecar,
            received: offset,
            started: Instant::now(),
            throttle: ProgressThrottle::new(),
            writer: Writer::spawn(file, hasher, offset),
        };
        let progress = active.progress();
        self.active = Some(active);
        emit(&self.events, TransferEvent::Offered(progress)).await;
        TransferFrame::Accept {
            transfer_id,
            offset,
        }
    }

    async fn on_done(&mut self) -> TransferFrame {
        let Some(active) = self.active.take() else {
            return TransferFrame::Failed {
                transfer_id: String::new(),
                reason: "unknown transfer".into(),
            };
        };
        if active.received != active.size {
            let err = TransferError::SizeMismatch {
                received: active.received,
                expected: active.size,
            };
            let transfer_id = active.transfer_id.clone();
            self.active = Some(active);
            let reason = err.to_string();
            return self
                .fail(err, true)
                .await
                .pop()
                .unwrap_or(TransferFrame::Failed {
                    transfer_id,
                    reason,
                });
        }
        let Incoming {
            transfer_id,
            name,
            leaf,
            size,
            sha256,
            dir,
            part,
            sidecar,
            started,
            writer,
            ..
        } = active;
        let verdict = match writer.finish().await {
            Err(e) => Err(write_failure(&part, &dir, size, e).await),
            Ok((actual, _)) if actual != sha256 => Err(TransferError::HashMismatch {
                expected: sha256,
                actual,
            }),
            Ok(_) => {
                let (dir, part) = (dir.clone(), part.clone());
                tokio::task::spawn_blocking(move || move_into_place(&dir, &leaf, &part))
                    .await
                    .unwrap_or_else(|e| {
                        Err(TransferError::Protocol(format!("rename task failed: {e}")))
                    })
            }
        };
        match verdict {
            Ok(path) => {
                let _ = tokio::fs::remove_file(&sidecar).await;
                let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                tracing::info!(%transfer_id, path = %path.display(), size, elapsed_ms, "file received");
                // The saved name (`x (1).txt` if taken), under its folders.
                let saved = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let final_name = match name.rsplit_once('/') {
                    Some((folders, _)) => format!("{folders}/{saved}"),
                    None => saved,
                };
                emit(
                    &self.events,
                    TransferEvent::Completed {
                        transfer_id: transfer_id.clone(),
                        name: final_name,
                        path,
                        bytes: size,
                        elapsed_ms,
                        direction: TransferDirection::Receiving,
                        already_there: false,
                    },
                )
                .await;
                TransferFrame::Complete { transfer_id }
            }
            Err(err) => {
                // A wrong hash is wrong data; a disk error leaves a good prefix
                // (or a verified whole file that could not be moved) to resume.
                let discard = matches!(err, TransferError::HashMismatch { .. });
                if discard {
                    remove_temp(&part, &sidecar).await;
                }
                tracing::warn!(%transfer_id, error = %err, discard, "received file rejected");
                self.emit_failed(&transfer_id, &name, size, err.outcome(), err.to_string())
                    .await;
                TransferFrame::Failed {
                    transfer_id,
                    reason: err.to_string(),
                }
            }
        }
    }

    /// Aborts the active transfer with `err`, deleting its temp file if `discard`
    /// (wrong data) or keeping it for a resume, and returns the `failed` frame
    /// for the peer.
    async fn fail(&mut self, err: TransferError, discard: bool) -> Vec<TransferFrame> {
        let Some(transfer_id) = self.active.as_ref().map(|a| a.transfer_id.clone()) else {
            return Vec::new();
        };
        let reason = err.to_string();
        self.abort(err, discard).await;
        vec![TransferFrame::Failed {
            transfer_id,
            reason,
        }]
    }

    /// Stops the active transfer's writer; deletes its temp file and sidecar if
    /// `discard` (else keeps them for a resume); reports `err` to the UI.
    async fn abort(&mut self, err: TransferError, discard: bool) {
        let Some(active) = self.active.take() else {
            return;
        };
        // Wait for the writer to close the file before deleting it.
        let _ = active.writer.finish().await;
        if discard {
            remove_temp(&active.part, &active.sidecar).await;
        }
        tracing::warn!(transfer_id = %active.transfer_id, error = %err, discard, "incoming transfer stopped");
        self.emit_failed(
            &active.transfer_id,
            &active.name,
            active.size,
            err.outcome(),
            err.to_string(),
        )
        .await;
    }

    async fn emit_failed(
        &self,
        transfer_id: &str,
        name: &str,
        bytes_total: u64,
        outcome: TransferOutcome,
        reason: String,
    ) {
        emit(
            &self.events,
            TransferEvent::Failed {
                transfer_id: transfer_id.to_owned(),
                name: name.to_owned(),
                bytes_total,
                outcome,
                reason,
                direction: TransferDirection::Receiving,
            },
        )
        .await;
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
        }
    }
}

/// The file in `dir` that is `offer` already (same name, size and SHA-256),
/// if there is one: the offer is answered `complete` and nothing is sent.
async fn already_here(root: &Path, offer: &Offer) -> Option<PathBuf> {
    let (dir, name) = (offer.dir(root), offer.leaf());
    let sidecar = Sidecar {
        sha256: offer.sha256.clone(),
        size: offer.size,
    };
    tokio::task::spawn_blocking(move || holds_same(&dir, &name, &sidecar))
        .await
        .ok()
        .flatten()
}

/// Whether `dir` holds a kept partial file of `offer` (same name, size and
/// SHA-256, some bytes in it).
async fn resumes(root: &Path, offer: &Offer) -> bool {
    let (dir, name) = (offer.dir(root), offer.leaf());
    let sidecar = Sidecar {
        sha256: offer.sha256.clone(),
        size: offer.size,
    };
    tokio::task::spawn_blocking(move || resumable_len(&dir, &name, &sidecar) > 0)
        .await
        .unwrap_or(false)
}

/// Errors with [`TransferError::NoSpace`] unless `dir`'s disk has room for the
/// rest of `offer`: its size less what a partial file of the same offer already
/// holds there.
async fn room_for(root: &Path, offer: &Offer) -> Result<(), TransferError> {
    let (root, dir, name) = (root.to_path_buf(), offer.dir(root), offer.leaf());
    let sidecar = Sidecar {
        sha256: offer.sha256.clone(),
        size: offer.size,
    };
    tokio::task::spawn_blocking(move || {
        let have = resumable_len(&dir, &name, &sidecar);
        // The receive folder: the offer's own folders may not exist yet.
        check_space(&root, sidecar.size - have)
    })
    .await
    .unwrap_or_else(|e| Err(TransferError::Protocol(format!("space check failed: {e}"))))
}

/// The error for a failed write of `part` (of a `size`-byte file in `dir`):
/// [`TransferError::NoSpace`] naming the bytes still missing from the part on
/// disk when the disk is full, else [`TransferError::Io`]. Call once the
/// writer has stopped, so the part's length is final.
async fn write_failure(part: &Path, dir: &Path, size: u64, e: std::io::Error) -> TransferError {
    let (part, dir) = (part.to_path_buf(), dir.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let on_disk = std::fs::metadata(&part).map_or(0, |m| m.len());
        write_error(&part, &dir, size.saturating_sub(on_disk), e)
    })
    .await
    .unwrap_or_else(|e| TransferError::Protocol(format!("write check failed: {e}")))
}
