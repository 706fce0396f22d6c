//! The sending side: offer, check what the receiver holds (`have`), stream
//! from the accepted offset while hashing, send the hash, wait for the verdict.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_proto::data::{transfer_id_to_hex, TransferFrame, FILE_PROTOCOL_VERSION};
use parley_proto::file_hash::{self, from_hex, to_hex, FileHasher, BLOCK_BYTES};
use tokio::sync::{mpsc, watch};

use super::read_ahead::ReadAhead;
use super::{
    emit, text, Batch, ProgressThrottle, TransferDirection, TransferError, TransferEvent,
    TransferProgress,
};
use crate::channel::{DcMessage, MessageSink};

/// How long a best-effort `cancel` may wait for room in the channel.
const CANCEL_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// A file the peer received and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// Transfer id, 32 lowercase hex chars.
    pub transfer_id: String,
    /// File size, bytes.
    pub bytes: u64,
    /// Offset the receiver resumed from, bytes (0 for a fresh transfer).
    pub resumed_from: u64,
    /// BLAKE3 of the file, lowercase hex (64 chars); empty when the receiver
    /// said it held the file before any of it was read here.
    pub blake3: String,
    /// Time from the offer's acceptance to the receiver's `complete`, ms.
    pub elapsed_ms: u64,
}

/// Sends the file at `path` to the peer and returns once the peer has verified it.
///
/// - `sink`: the file data channel; each chunk send waits while its buffer is full.
/// - `inbound`: frames from the peer meant for the sending side (see
///   [`super::serve_file_channel`]); frames of other transfers are skipped.
/// - `events`: [`TransferEvent`]s for the UI (`Offered`, `Progress`, then
///   `Completed` or `Failed`).
/// - `cancel`: set it to `true` to abort; the peer gets a `cancel` frame. Dropping
///   the watch sender does not cancel. Dropping this future also sends `cancel`
///   (from a spawned task) once the offer is out.
///
/// The file is read once, after the offer is accepted, a block at a time on
/// a disk thread (idle-class for large files, see `transfer/background.rs`),
/// handed over a block at a time (up to three blocks ahead of the network:
/// one being read, [`DISK_BUFFER_BYTES`](super::DISK_BUFFER_BYTES) queued, one
/// being sent), and hashed
/// as it is read (BLAKE3 block by block, [`parley_proto::file_hash`]); a
/// receiver's `have` is answered by hashing the first bytes it names, which
/// are then not read again.
///
/// Errors: [`TransferError::Io`] reading the file (or if it shrank meanwhile);
/// [`TransferError::Declined`] (a receiver from before file protocol 2 declines
/// every offer: the reason says it must update); [`TransferError::Cancelled`] (by us or the peer);
/// [`TransferError::PeerFailed`] (the receiver's size or hash check, disk, ...);
/// [`TransferError::BadOffset`] if the peer accepts beyond the end;
/// [`TransferError::Protocol`]; [`TransferError::ChannelClosed`].
pub async fn send_file(
    path: &Path,
    sink: Arc<dyn MessageSink>,
    inbound: &mut mpsc::Receiver<TransferFrame>,
    events: &mpsc::Sender<TransferEvent>,
    cancel: watch::Receiver<bool>,
) -> Result<SendOutcome, TransferError> {
    send_file_named(path, None, sink, inbound, events, cancel).await
}

/// [`send_file`], offering the file under `name` instead of its own file name
/// (`None`: the path's file name). The receiver sanitises whatever arrives.
///
/// Errors: as [`send_file`].
pub async fn send_file_named(
    path: &Path,
    name: Option<&str>,
    sink: Arc<dyn MessageSink>,
    inbound: &mut mpsc::Receiver<TransferFrame>,
    events: &mpsc::Sender<TransferEvent>,
    cancel: watch::Receiver<bool>,
) -> Result<SendOutcome, TransferError> {
    let file = Outgoing {
        id_bytes: rand::random(),
        path,
        name,
        batch: None,
    };
    send_file_as(file, sink, inbound, events, cancel).await
}

/// What [`send_file_as`] offers.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// Transfer id chosen by the caller (16 random bytes; the peer sees it as
    /// 32 hex chars), so the caller knows it before the offer goes out (to
    /// cancel by id).
    pub id_bytes: [u8; 16],
    /// The file (or, with a name ending in `/`, an empty folder).
    pub path: &'a Path,
    /// The name to offer it under (`None`: the path's file name).
    pub name: Option<&'a str>,
    /// The dropped folder it belongs to, carried in the offer so the receiver
    /// asks once for the whole folder (docs/protocol.md §8.3).
    pub batch: Option<&'a Batch>,
}

/// [`send_file_named`] as described by `file`: under a transfer id chosen by
/// the caller, and as part of a dropped folder.
///
/// Errors: as [`send_file`].
pub async fn send_file_as(
    file: Outgoing<'_>,
    sink: Arc<dyn MessageSink>,
    inbound: &mut mpsc::Receiver<TransferFrame>,
    events: &mpsc::Sender<TransferEvent>,
    mut cancel: watch::Receiver<bool>,
) -> Result<SendOutcome, TransferError> {
    let Outgoing {
        id_bytes,
        path,
        name,
        batch,
    } = file;
    let transfer_id = transfer_id_to_hex(&id_bytes);
    let name = match name {
        Some(name) => name.to_owned(),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_owned()),
    };
    let mut guard = CancelGuard {
        sink: sink.clone(),
        transfer_id: transfer_id.clone(),
        armed: false,
    };
    let mut job = SendJob {
        path,
        name: &name,
        transfer_id: &transfer_id,
        id_bytes,
        batch,
        sink: &*sink,
        inbound,
        events,
        cancel: &mut cancel,
        guard: &mut guard,
    };
    let result = job.run().await;
    if let Err(e) = &result {
        if guard.armed {
            // Our side failed or was cancelled: tell the peer so it can clean up.
            guard.armed = false;
            let frame = TransferFrame::Cancel {
                transfer_id: transfer_id.clone(),
                reason: e.to_string(),
            };
            let _ = tokio::time::timeout(CANCEL_SEND_TIMEOUT, sink.send(text(&frame))).await;
        }
        tracing::info!(%transfer_id, %name, error = %e, "file not sent");
        let bytes_total = tokio::fs::metadata(path).await.map_or(0, |m| m.len());
        emit(
            events,
            TransferEvent::Failed {
                transfer_id: transfer_id.clone(),
                name: name.clone(),
                bytes_total,
                outcome: e.outcome(),
                reason: e.to_string(),
                direction: TransferDirection::Sending,
                batch: batch.cloned(),
            },
        )
        .await;
    }
    result
}

struct SendJob<'a> {
    path: &'a Path,
    name: &'a str,
    transfer_id: &'a str,
    id_bytes: [u8; 16],
    batch: Option<&'a Batch>,
    sink: &'a dyn MessageSink,
    inbound: &'a mut mpsc::Receiver<TransferFrame>,
    events: &'a mpsc::Sender<TransferEvent>,
    cancel: &'a mut watch::Receiver<bool>,
    guard: &'a mut CancelGuard,
}

/// What a frame from the peer means for us.
enum Answer {
    Accepted(u64),
    Completed,
    /// The receiver holds `offset` bytes hashing to this (hex).
    Have(u64, String),
}

impl SendJob<'_> {
    async fn run(&mut self) -> Result<SendOutcome, TransferError> {
        // 1. What is offered: a regular file's size (it is read once accepted)
        // or, with a name ending with `/`, an empty folder.
        let folder = self.name.ends_with('/');
        let size = {
            let path = self.path.to_path_buf();
            tokio::task::spawn_blocking(move || offered_size(&path, folder))
                .await
                .map_err(|e| TransferError::Protocol(format!("metadata task failed: {e}")))??
        };

        // 2. Offer and wait for the answer (with a `have` on the way).
        self.send(TransferFrame::Offer {
            transfer_id: self.transfer_id.to_owned(),
            name: self.name.to_owned(),
            size,
            version: FILE_PROTOCOL_VERSION,
            batch: self.batch.cloned(),
        })
        .await?;
        self.guard.armed = true;
        emit(self.events, TransferEvent::Offered(self.progress(0, size))).await;
        let mut hasher = FileHasher::new(size);
        let offset = loop {
            let frame = tokio::select! {
                biased;
                _ = cancelled(self.cancel) => return Err(user_cancelled()),
                f = self.inbound.recv() => f,
            };
            match self.answer(frame)? {
                Some(Answer::Accepted(offset)) => break offset,
                // The receiver already holds this very file (docs/protocol.md
                // §8.3): nothing to send.
                Some(Answer::Completed) => return Ok(self.already_there(&hasher).await),
                Some(Answer::Have(offset, blake3)) => {
                    hasher = self.check_have(offset, &blake3, size).await?;
                    self.send(TransferFrame::Resume {
                        transfer_id: self.transfer_id.to_owned(),
                        offset: hasher.position(),
                    })
                    .await?;
                }
                None => continue,
            }
        };
        // A receiver goes on after the bytes we vouched for, or starts over.
        if offset == 0 {
            hasher = FileHasher::new(size);
        } else if offset != hasher.position() || offset > size {
            return Err(TransferError::BadOffset {
                expected: hasher.position(),
                got: offset,
            });
        }
        let started = Instant::now();
        tracing::debug!(
            transfer_id = self.transfer_id,
            size,
            offset,
            "offer accepted"
        );

        // 3. Stream chunks, read ahead on a disk thread a block at a time.
        let mut read_ahead = tokio::select! {
            biased;
            _ = cancelled(self.cancel) => return Err(user_cancelled()),
            r = ReadAhead::start(self.path, self.id_bytes, hasher) => r?,
        };
        let mut sent = offset;
        let mut chunks = Vec::new().into_iter();
        let mut throttle = ProgressThrottle::new();
        throttle.ready(Instant::now());
        loop {
            // Answers that arrive mid-stream (cancel, failed) stop us early.
            loop {
                match self.inbound.try_recv() {
                    Ok(frame) => match self.answer(Some(frame))? {
                        Some(_) => {
                            return Err(TransferError::Protocol(
                                "unexpected `accept` or `complete` while sending".into(),
                            ))
                        }
                        None => continue,
                    },
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        return Err(TransferError::ChannelClosed)
                    }
                }
            }
            let Some(chunk) = chunks.next() else {
                let batch = tokio::select! {
                    biased;
                    _ = cancelled(self.cancel) => return Err(user_cancelled()),
                    b = read_ahead.next() => b?,
                };
                let Some(batch) = batch else { break };
                chunks = batch.into_iter();
                continue;
            };
            let (chunk, payload_len) = chunk;
            tokio::select! {
                biased;
                _ = cancelled(self.cancel) => return Err(user_cancelled()),
                r = self.sink.send(DcMessage::Binary(chunk)) => {
                    r.map_err(|_| TransferError::ChannelClosed)?
                }
            }
            sent += payload_len as u64;
            if throttle.ready(Instant::now()) {
                emit(
                    self.events,
                    TransferEvent::Progress(self.progress(sent, size)),
                )
                .await;
            }
        }
        // The read-ahead read every block.
        let digest = match read_ahead.digest() {
            Some(digest) if sent == size => digest,
            _ => {
                return Err(TransferError::io(
                    self.path,
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file shrank while sending",
                    ),
                ))
            }
        };
        if sent != size {
            return Err(TransferError::io(
                self.path,
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file shrank while sending",
                ),
            ));
        }

        // 4. Done; wait for the verdict.
        let blake3 = to_hex(&digest);
        self.send(TransferFrame::Done {
            transfer_id: self.transfer_id.to_owned(),
            blake3: blake3.clone(),
        })
        .await?;
        emit(
            self.events,
            TransferEvent::Progress(self.progress(sent, size)),
        )
        .await;
        loop {
            let frame = tokio::select! {
                biased;
                _ = cancelled(self.cancel) => return Err(user_cancelled()),
                f = self.inbound.recv() => f,
            };
            match self.answer(frame)? {
                Some(Answer::Completed) => break,
                Some(Answer::Accepted(_) | Answer::Have(..)) => {
                    return Err(TransferError::Protocol(
                        "`accept` or `have` after `done`".into(),
                    ))
                }
                None => continue,
            }
        }
        self.guard.armed = false;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(
            transfer_id = self.transfer_id,
            name = self.name,
            size,
            elapsed_ms,
            "file sent"
        );
        emit(
            self.events,
            TransferEvent::Completed {
                transfer_id: self.transfer_id.to_owned(),
                name: self.name.to_owned(),
                path: self.path.to_path_buf(),
                bytes: size,
                elapsed_ms,
                direction: TransferDirection::Sending,
                already_there: false,
            },
        )
        .await;
        Ok(SendOutcome {
            transfer_id: self.transfer_id.to_owned(),
            bytes: size,
            resumed_from: offset,
            blake3,
            elapsed_ms,
        })
    }

    /// Answers the receiver's `have {offset, blake3}`: hashes the file's first
    /// `offset` bytes (the only read of them) and returns the hasher there if
    /// they match (a resume, or the whole file held already), else a fresh one
    /// (start over).
    ///
    /// Errors: [`TransferError::Protocol`] for an offset that is neither a
    /// whole number of blocks nor the size, or a malformed hash;
    /// [`TransferError::Io`] reading; [`TransferError::Cancelled`].
    async fn check_have(
        &mut self,
        offset: u64,
        blake3: &str,
        size: u64,
    ) -> Result<FileHasher, TransferError> {
        if offset > size || (!offset.is_multiple_of(BLOCK_BYTES) && offset != size) {
            return Err(TransferError::Protocol(format!(
                "`have` of {offset} bytes of a {size}-byte file"
            )));
        }
        let theirs =
            from_hex(blake3).map_err(|e| TransferError::Protocol(format!("`have`: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let hashing = tokio::task::spawn_blocking({
            let (path, stop) = (self.path.to_path_buf(), stop.clone());
            move || hash_prefix(&path, size, offset, &stop)
        });
        let hasher = tokio::select! {
            biased;
            _ = cancelled(self.cancel) => {
                stop.store(true, Ordering::Relaxed);
                return Err(user_cancelled());
            }
            r = hashing => r.map_err(|e| TransferError::Protocol(format!("hashing task failed: {e}")))??,
        };
        let same = hasher.digest() == Some(theirs);
        tracing::debug!(
            transfer_id = self.transfer_id,
            offset,
            same,
            "the receiver holds part of the file"
        );
        Ok(if same { hasher } else { FileHasher::new(size) })
    }

    /// The receiver answered with `complete` before any chunk: it holds the
    /// file already (same name, size and BLAKE3, which `hasher` holds if its
    /// `have` was checked). Reported as completed, nothing sent.
    async fn already_there(&mut self, hasher: &FileHasher) -> SendOutcome {
        let size = hasher.size();
        let blake3 = match hasher.digest() {
            Some(digest) if hasher.position() == size => to_hex(&digest),
            _ => String::new(),
        };
        self.guard.armed = false;
        tracing::info!(
            transfer_id = self.transfer_id,
            name = self.name,
            size,
            "the receiver already has the file"
        );
        emit(
            self.events,
            TransferEvent::Completed {
                transfer_id: self.transfer_id.to_owned(),
                name: self.name.to_owned(),
                path: self.path.to_path_buf(),
                bytes: size,
                elapsed_ms: 0,
                direction: TransferDirection::Sending,
                already_there: true,
            },
        )
        .await;
        SendOutcome {
            transfer_id: self.transfer_id.to_owned(),
            bytes: size,
            resumed_from: size,
            blake3,
            elapsed_ms: 0,
        }
    }

    /// Interprets one frame from `inbound`: `None` for frames of other transfers.
    /// A peer's decline, cancel or failure ends the transfer (no `cancel` sent back).
    fn answer(&mut self, frame: Option<TransferFrame>) -> Result<Option<Answer>, TransferError> {
        let Some(frame) = frame else {
            self.guard.armed = false;
            return Err(TransferError::ChannelClosed);
        };
        if frame.transfer_id() != self.transfer_id {
            tracing::debug!(?frame, "ignoring a frame for another transfer");
            return Ok(None);
        }
        let ended = |guard: &mut CancelGuard, e: TransferError| {
            guard.armed = false;
            Err(e)
        };
        match frame {
            TransferFrame::Accept { offset, .. } => Ok(Some(Answer::Accepted(offset))),
            TransferFrame::Have { offset, blake3, .. } => Ok(Some(Answer::Have(offset, blake3))),
            TransferFrame::Complete { .. } => Ok(Some(Answer::Completed)),
            TransferFrame::Decline { reason, .. } => ended(
                self.guard,
                TransferError::Declined {
                    reason: older_peer(reason),
                },
            ),
            TransferFrame::Cancel { reason, .. } => {
                ended(self.guard, TransferError::Cancelled { reason })
            }
            TransferFrame::Failed { reason, .. } => {
                ended(self.guard, TransferError::PeerFailed { reason })
            }
            other => Err(TransferError::Protocol(format!(
                "unexpected frame for the sending side: {}",
                other.to_json()
            ))),
        }
    }

    async fn send(&self, frame: TransferFrame) -> Result<(), TransferError> {
        self.sink
            .send(text(&frame))
            .await
            .map_err(|_| TransferError::ChannelClosed)
    }

    fn progress(&self, bytes_done: u64, bytes_total: u64) -> TransferProgress {
        TransferProgress {
            transfer_id: self.transfer_id.to_owned(),
            name: self.name.to_owned(),
            bytes_done,
            bytes_total,
            direction: TransferDirection::Sending,
            batch: self.batch.cloned(),
        }
    }
}

fn user_cancelled() -> TransferError {
    TransferError::Cancelled {
        reason: "cancelled by the sender".into(),
    }
}

/// Resolves once `cancel` holds `true`; never if its sender is dropped first.
async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Sends `cancel` from a spawned task if the send future is dropped mid-transfer.
struct CancelGuard {
    sink: Arc<dyn MessageSink>,
    transfer_id: String,
    armed: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let sink = self.sink.clone();
        let frame = TransferFrame::Cancel {
            transfer_id: std::mem::take(&mut self.transfer_id),
            reason: "the sender stopped".into(),
        };
        runtime.spawn(async move {
            let _ = tokio::time::timeout(CANCEL_SEND_TIMEOUT, sink.send(text(&frame))).await;
        });
    }
}

/// A decline from a receiver that speaks file protocol 1 (it finds no
/// `sha256` in the offer) said so, for the user; other reasons as they came.
fn older_peer(reason: String) -> String {
    if reason.starts_with("malformed offer") && reason.contains("sha256") {
        format!(
            "the receiver's Parley is too old: it speaks file protocol 1, this one {FILE_PROTOCOL_VERSION}; \
             it must update to receive files"
        )
    } else {
        reason
    }
}

/// The size of what is offered, bytes: a regular file's length, or 0 for a
/// folder offered on its own (`folder`, its name ending with `/`).
fn offered_size(path: &Path, folder: bool) -> Result<u64, TransferError> {
    let io_err = |e| TransferError::io(path, e);
    let meta = std::fs::metadata(path).map_err(io_err)?;
    match () {
        _ if folder && meta.is_dir() => Ok(0),
        _ if meta.is_file() => Ok(meta.len()),
        _ => Err(io_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ))),
    }
}

/// The first `len` bytes of `path` fed to a hasher for a `size`-byte file
/// ([`parley_proto::file_hash::hash_prefix`]); stops early (with an
/// `Interrupted` error) when `stop` is set.
fn hash_prefix(
    path: &Path,
    size: u64,
    len: u64,
    stop: &AtomicBool,
) -> Result<FileHasher, TransferError> {
    let file = std::fs::File::open(path).map_err(|e| TransferError::io(path, e))?;
    file_hash::hash_prefix(file, size, len, || stop.load(Ordering::Relaxed))
        .map_err(|e| TransferError::io(path, e))
}
