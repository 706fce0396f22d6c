//! The sending side: hash, offer, stream from the accepted offset, wait for the
//! verdict.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parley_proto::data::{encode_chunk, transfer_id_to_hex, TransferFrame, CHUNK_PAYLOAD_BYTES};
use sha2::{Digest as _, Sha256};
use tokio::sync::{mpsc, watch};

use super::{
    emit, text, Batch, ProgressThrottle, TransferDirection, TransferError, TransferEvent,
    TransferProgress, DISK_BUFFER_BYTES,
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
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
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
/// The file is hashed first (SHA-256, 1 MiB reads on a blocking thread), then read
/// again while sending, [`DISK_BUFFER_BYTES`] ahead of the network.
///
/// Errors: [`TransferError::Io`] reading the file (or if it shrank meanwhile);
/// [`TransferError::Declined`]; [`TransferError::Cancelled`] (by us or the peer);
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

/// SHA-256 of no bytes, lowercase hex: what an empty folder is offered with.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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
}

impl SendJob<'_> {
    async fn run(&mut self) -> Result<SendOutcome, TransferError> {
        // 1. Hash (abandoned early on cancel). A folder offered on its own (an
        // empty folder, its name ending with `/`) has no bytes.
        let stop = Arc::new(AtomicBool::new(false));
        let folder = self.name.ends_with('/');
        let hashing = tokio::task::spawn_blocking({
            let path = self.path.to_path_buf();
            let stop = stop.clone();
            move || match std::fs::metadata(&path) {
                Ok(m) if folder && m.is_dir() => Ok((EMPTY_SHA256.to_owned(), 0)),
                _ => hash_file(&path, &stop),
            }
        });
        let (sha256, size) = tokio::select! {
            biased;
            _ = cancelled(self.cancel) => {
                stop.store(true, Ordering::Relaxed);
                return Err(user_cancelled());
            }
            r = hashing => r.map_err(|e| TransferError::Protocol(format!("hashing task failed: {e}")))??,
        };

        // 2. Offer and wait for the answer.
        self.send(TransferFrame::Offer {
            transfer_id: self.transfer_id.to_owned(),
            name: self.name.to_owned(),
            size,
            sha256: sha256.clone(),
            batch: self.batch.cloned(),
        })
        .await?;
        self.guard.armed = true;
        emit(self.events, TransferEvent::Offered(self.progress(0, size))).await;
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
                Some(Answer::Completed) => return Ok(self.already_there(size, sha256).await),
                None => continue,
            }
        };
        if offset > size {
            return Err(TransferError::BadOffset {
                expected: size,
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

        // 3. Stream chunks, read ahead on a blocking thread.
        let capacity = (DISK_BUFFER_BYTES / CHUNK_PAYLOAD_BYTES).max(1) + 1;
        let (chunk_tx, mut chunks) = mpsc::channel(capacity);
        let reader = tokio::task::spawn_blocking({
            let path = self.path.to_path_buf();
            let id_bytes = self.id_bytes;
            move || read_chunks(&path, id_bytes, offset, size, &chunk_tx)
        });
        let mut sent = offset;
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
            let chunk = tokio::select! {
                biased;
                _ = cancelled(self.cancel) => return Err(user_cancelled()),
                c = chunks.recv() => c,
            };
            let Some(chunk) = chunk else { break };
            let (chunk, payload_len) = chunk?;
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
        // The reader ended its channel: it either sent everything or an error.
        reader
            .await
            .map_err(|e| TransferError::Protocol(format!("reader task failed: {e}")))?;
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
        self.send(TransferFrame::Done {
            transfer_id: self.transfer_id.to_owned(),
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
                Some(Answer::Accepted(_)) => {
                    return Err(TransferError::Protocol("`accept` after `done`".into()))
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
            sha256,
            elapsed_ms,
        })
    }

    /// The receiver answered the offer with `complete`: it holds the file
    /// already (same name, size and SHA-256). Reported as completed, nothing
    /// sent.
    async fn already_there(&mut self, size: u64, sha256: String) -> SendOutcome {
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
            sha256,
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
            TransferFrame::Complete { .. } => Ok(Some(Answer::Completed)),
            TransferFrame::Decline { reason, .. } => {
                ended(self.guard, TransferError::Declined { reason })
            }
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

/// SHA-256 (lowercase hex) and length of the file, read with a 1 MiB buffer;
/// stops early (with an `Interrupted` error) when `stop` is set.
fn hash_file(path: &Path, stop: &AtomicBool) -> Result<(String, u64), TransferError> {
    let io_err = |e| TransferError::io(path, e);
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    if !file.metadata().map_err(io_err)?.is_file() {
        return Err(io_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; DISK_BUFFER_BYTES];
    let mut len = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(io_err(std::io::ErrorKind::Interrupted.into()));
        }
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), len))
}

type ChunkResult = Result<(Bytes, usize), TransferError>;

/// Reads `path` from `offset` to `size` in chunk-sized pieces and sends encoded
/// chunk frames (with their payload length) to `tx`; stops when `tx` closes.
/// A read error (or the file ending early) is sent as the last item.
fn read_chunks(path: &Path, id: [u8; 16], offset: u64, size: u64, tx: &mpsc::Sender<ChunkResult>) {
    let path: PathBuf = path.to_path_buf();
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::open(&path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut pos = offset;
        let mut buf = vec![0u8; CHUNK_PAYLOAD_BYTES];
        while pos < size {
            let want = usize::try_from((size - pos).min(CHUNK_PAYLOAD_BYTES as u64))
                .unwrap_or(CHUNK_PAYLOAD_BYTES);
            file.read_exact(&mut buf[..want])?;
            let frame = Bytes::from(encode_chunk(&id, pos, &buf[..want]));
            if tx.blocking_send(Ok((frame, want))).is_err() {
                return Ok(()); // the sender stopped
            }
            pos += want as u64;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let e = if e.kind() == std::io::ErrorKind::UnexpectedEof {
            std::io::Error::new(e.kind(), "the file shrank while sending")
        } else {
            e
        };
        let _ = tx.blocking_send(Err(TransferError::io(path, e)));
    }
}
