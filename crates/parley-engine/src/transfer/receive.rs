//! The receiving side: accept or decline offers, write chunks through a
//! blocking writer thread while hashing, verify, and move the file into place.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use parley_proto::data::{decode_chunk, transfer_id_from_hex, TransferFrame, CHUNK_PAYLOAD_BYTES};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::name::{confined, sanitize_file_name, unique_name_candidate};
use super::{
    emit, ProgressThrottle, TransferDirection, TransferError, TransferEvent, TransferProgress,
    DISK_BUFFER_BYTES,
};

/// Suffix of the hidden temp file a transfer is written to: `.<name>.parley-part`.
pub const PART_SUFFIX: &str = ".parley-part";

/// Suffix of the sidecar describing a temp file's offer, for resuming:
/// `.<name>.parley-part.json` holding `{"sha256": …, "size": …}`.
pub const SIDECAR_SUFFIX: &str = ".parley-part.json";

/// Most `name (n).ext` candidates tried before giving up.
const MAX_NAME_ATTEMPTS: u32 = 10_000;

/// The offer a temp file belongs to.
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Sidecar {
    sha256: String,
    size: u64,
}

/// The receive side of the file channel: at most one incoming transfer at a time
/// (a second offer meanwhile is declined as busy).
///
/// Policy: with no receive folder every offer is declined ("not accepting
/// files"); with one, every offer is accepted and saved there under its sanitised
/// name, never overwriting an existing file. Feed it with [`ReceiveSession::on_text`]
/// and [`ReceiveSession::on_chunk`] (or let [`super::serve_file_channel`] do it)
/// and send the frames they return to the peer.
#[derive(Debug)]
pub struct ReceiveSession {
    receive_dir: Option<PathBuf>,
    events: mpsc::Sender<TransferEvent>,
    active: Option<Incoming>,
}

#[derive(Debug)]
struct Incoming {
    transfer_id: String,
    id_bytes: [u8; 16],
    name: String,
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

/// A blocking thread that appends to the temp file through a 1 MiB `BufWriter`
/// and hashes what it writes; fed by a bounded channel (backpressure on the disk).
#[derive(Debug)]
struct Writer {
    tx: Option<mpsc::Sender<Bytes>>,
    /// `None` once awaited (a `JoinHandle` must not be polled after completion).
    handle: Option<JoinHandle<io::Result<(String, u64)>>>,
}

impl Writer {
    fn spawn(file: File, hasher: Sha256, len: u64) -> Writer {
        let capacity = (DISK_BUFFER_BYTES / CHUNK_PAYLOAD_BYTES).max(1) + 1;
        let (tx, mut rx) = mpsc::channel::<Bytes>(capacity);
        let handle = tokio::task::spawn_blocking(move || {
            let mut hasher = hasher;
            let mut len = len;
            let mut out = BufWriter::with_capacity(DISK_BUFFER_BYTES, file);
            while let Some(buf) = rx.blocking_recv() {
                out.write_all(&buf)?;
                hasher.update(&buf);
                len += buf.len() as u64;
            }
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            Ok((hex::encode(hasher.finalize()), len))
        });
        Writer {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    /// Queues `buf`, waiting while the writer is behind. Errors with the writer's
    /// own error if it stopped (disk full, ...).
    async fn write(&mut self, buf: Bytes) -> io::Result<()> {
        let Some(tx) = &self.tx else {
            return Err(io::Error::other("writer already finished"));
        };
        if tx.send(buf).await.is_ok() {
            return Ok(());
        }
        self.tx = None;
        match self.join().await {
            Err(e) => Err(e),
            Ok(_) => Err(io::Error::other("writer stopped early")),
        }
    }

    async fn join(&mut self) -> io::Result<(String, u64)> {
        let Some(handle) = self.handle.take() else {
            return Err(io::Error::other("writer already stopped"));
        };
        handle
            .await
            .map_err(|e| io::Error::other(format!("writer thread failed: {e}")))?
    }

    /// Flushes and syncs; returns the SHA-256 (hex) and length of the whole file.
    async fn finish(mut self) -> io::Result<(String, u64)> {
        self.tx = None;
        self.join().await
    }
}

impl ReceiveSession {
    /// A session saving files into `receive_dir` (created when the first file
    /// arrives), or declining every offer if `None`. Events go to `events`.
    pub fn new(receive_dir: Option<PathBuf>, events: mpsc::Sender<TransferEvent>) -> Self {
        ReceiveSession {
            receive_dir,
            events,
            active: None,
        }
    }

    /// Changes the receive folder for later offers (`None`: decline them).
    pub fn set_receive_dir(&mut self, receive_dir: Option<PathBuf>) {
        self.receive_dir = receive_dir;
    }

    /// Whether `transfer_id` is the transfer being received now.
    pub fn is_receiving(&self, transfer_id: &str) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.transfer_id == transfer_id)
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
            } => vec![self.on_offer(transfer_id, name, size, sha256).await],
            TransferFrame::Done { transfer_id } => {
                if self.is_receiving(&transfer_id) {
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
                if self.is_receiving(&transfer_id) {
                    let err = TransferError::Cancelled {
                        reason: format!("by the sender: {reason}"),
                    };
                    self.abort(err, true).await;
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
            return self.fail(err).await;
        }
        let end = active.received + payload_len as u64;
        if end > active.size {
            let err = TransferError::SizeMismatch {
                received: end,
                expected: active.size,
            };
            return self.fail(err).await;
        }
        let payload = frame.slice(frame.len() - payload_len..);
        if let Err(e) = active.writer.write(payload).await {
            let err = TransferError::io(active.part.clone(), e);
            return self.fail(err).await;
        }
        active.received = end;
        if active.throttle.ready(Instant::now()) {
            let progress = active.progress();
            emit(&self.events, TransferEvent::Progress(progress)).await;
        }
        Vec::new()
    }

    /// Cancels the transfer being received (a user action): deletes its temp file
    /// and returns the `cancel` frame to send to the peer (empty if none is active).
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

    /// Ends the session (the channel closed): stops the writer and keeps the
    /// partial file and its sidecar so a later offer of the same file resumes.
    pub async fn close(&mut self) {
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
    ) -> TransferFrame {
        let decline = |reason: String| TransferFrame::Decline {
            transfer_id: transfer_id.clone(),
            reason,
        };
        if let Some(active) = &self.active {
            if active.transfer_id == transfer_id {
                tracing::debug!(%transfer_id, "duplicate offer ignored");
                return TransferFrame::Accept {
                    transfer_id,
                    offset: active.received,
                };
            }
            return decline("busy: another transfer is in progress".into());
        }
        let Ok(id_bytes) = transfer_id_from_hex(&transfer_id) else {
            return decline("invalid transfer id".into());
        };
        let Some(dir) = self.receive_dir.clone() else {
            let reason = "not accepting files".to_owned();
            self.emit_failed(&transfer_id, &raw_name, format!("declined: {reason}"))
                .await;
            return decline(reason);
        };
        let sha256 = sha256.to_ascii_lowercase();
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return decline("invalid sha256".into());
        }
        let name = match sanitize_file_name(&raw_name) {
            Ok(name) => name,
            Err(e) => return decline(e.to_string()),
        };
        let prepared = tokio::task::spawn_blocking({
            let (dir, name, sha256) = (dir.clone(), name.clone(), sha256.clone());
            move || prepare_part(&dir, &name, Sidecar { sha256, size })
        })
        .await;
        let (part, sidecar, file, hasher, offset) = match prepared {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                self.emit_failed(&transfer_id, &name, e.to_string()).await;
                return decline(format!("cannot save the file: {e}"));
            }
            Err(e) => return decline(format!("cannot save the file: {e}")),
        };
        tracing::info!(%transfer_id, %name, size, offset, "receiving a file");
        let active = Incoming {
            transfer_id: transfer_id.clone(),
            id_bytes,
            name,
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
            return self.fail(err).await.pop().unwrap_or(TransferFrame::Failed {
                transfer_id,
                reason,
            });
        }
        let Incoming {
            transfer_id,
            name,
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
            Err(e) => Err(TransferError::io(part.clone(), e)),
            Ok((actual, _)) if actual != sha256 => Err(TransferError::HashMismatch {
                expected: sha256,
                actual,
            }),
            Ok(_) => {
                let (dir, name, part) = (dir.clone(), name.clone(), part.clone());
                tokio::task::spawn_blocking(move || move_into_place(&dir, &name, &part))
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
                let final_name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(name);
                emit(
                    &self.events,
                    TransferEvent::Completed {
                        transfer_id: transfer_id.clone(),
                        name: final_name,
                        path,
                        bytes: size,
                        elapsed_ms,
                        direction: TransferDirection::Receiving,
                    },
                )
                .await;
                TransferFrame::Complete { transfer_id }
            }
            Err(err) => {
                remove_temp(&part, &sidecar).await;
                tracing::warn!(%transfer_id, error = %err, "received file rejected");
                self.emit_failed(&transfer_id, &name, err.to_string()).await;
                TransferFrame::Failed {
                    transfer_id,
                    reason: err.to_string(),
                }
            }
        }
    }

    /// Aborts the active transfer with `err`, deleting its temp file, and returns
    /// the `failed` frame for the peer.
    async fn fail(&mut self, err: TransferError) -> Vec<TransferFrame> {
        let Some(transfer_id) = self.active.as_ref().map(|a| a.transfer_id.clone()) else {
            return Vec::new();
        };
        let reason = err.to_string();
        self.abort(err, true).await;
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
        self.emit_failed(&active.transfer_id, &active.name, err.to_string())
            .await;
    }

    async fn emit_failed(&self, transfer_id: &str, name: &str, reason: String) {
        emit(
            &self.events,
            TransferEvent::Failed {
                transfer_id: transfer_id.to_owned(),
                name: name.to_owned(),
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

type Prepared = (PathBuf, PathBuf, File, Sha256, u64);

/// Opens `dir/.<name>.parley-part` for appending. If its sidecar describes the
/// same offer and the file is no longer than the offer, the existing bytes are
/// kept and hashed (resume); otherwise the file is emptied and the sidecar
/// rewritten. Returns the paths, the file, the hasher and the resume offset.
fn prepare_part(dir: &Path, name: &str, offer: Sidecar) -> Result<Prepared, TransferError> {
    std::fs::create_dir_all(dir).map_err(|e| TransferError::io(dir, e))?;
    let part = confined(dir, &format!(".{name}{PART_SUFFIX}"))?;
    let sidecar = confined(dir, &format!(".{name}{SIDECAR_SUFFIX}"))?;
    let io_err = |e| TransferError::io(&part, e);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&part)
        .map_err(io_err)?;
    let existing = file.metadata().map_err(io_err)?.len();
    let previous: Option<Sidecar> = std::fs::read(&sidecar)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let mut hasher = Sha256::new();
    let offset = if previous.as_ref() == Some(&offer) && existing <= offer.size && existing > 0 {
        let mut buf = vec![0u8; DISK_BUFFER_BYTES];
        let mut hashed = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(io_err)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            hashed += n as u64;
        }
        hashed
    } else {
        if existing > 0 {
            file.set_len(0).map_err(io_err)?;
        }
        let json =
            serde_json::to_vec(&offer).map_err(|e| TransferError::Protocol(e.to_string()))?;
        std::fs::write(&sidecar, json).map_err(|e| TransferError::io(&sidecar, e))?;
        0
    };
    file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
    Ok((part, sidecar, file, hasher, offset))
}

/// Renames the verified temp file to `dir/name`, or `name (1)`, `name (2)`, … if
/// taken: each candidate is reserved with `create_new` first, so an existing file
/// is never overwritten. Returns the final path.
fn move_into_place(dir: &Path, name: &str, part: &Path) -> Result<PathBuf, TransferError> {
    for n in 0..MAX_NAME_ATTEMPTS {
        let candidate = confined(dir, &unique_name_candidate(name, n))?;
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(_) => {
                return match std::fs::rename(part, &candidate) {
                    Ok(()) => Ok(candidate),
                    Err(e) => {
                        let _ = std::fs::remove_file(&candidate);
                        Err(TransferError::io(candidate, e))
                    }
                };
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(TransferError::io(candidate, e)),
        }
    }
    Err(TransferError::io(
        dir.join(name),
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            "too many files with this name",
        ),
    ))
}

async fn remove_temp(part: &Path, sidecar: &Path) {
    for path in [part, sidecar] {
        if let Err(e) = tokio::fs::remove_file(path).await {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove temp file");
            }
        }
    }
}
