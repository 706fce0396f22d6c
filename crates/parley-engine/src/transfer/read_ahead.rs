//! The sender's read-ahead: a disk thread reads the file a block at a time,
//! hashes each block and encodes its chunk frames ahead of the network; the
//! thread is idle-class for large files and, when it falls behind, the rest
//! of the file goes to a fair-share one ([`super::background`]).
//!
//! Each block is hashed on its own ([`HashedBlock`]) and the file's hash is
//! assembled here, block by block as they are handed over, so a new reader
//! can start at the first block not handed over without waiting for the old
//! one: a starved idle-class thread may take seconds to finish its block.
//! Every reader reads the one handle opened at the start, at explicit
//! offsets, so a file replaced under its name after that is not mixed in
//! (before it, a resume's prefix was hashed from its own handle).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parley_proto::data::{write_chunk_header, CHUNK_HEADER_BYTES, CHUNK_PAYLOAD_BYTES};
use parley_proto::file_hash::{BlockHash, FileHasher, HashedBlock, BLOCK_BYTES};
use tokio::sync::mpsc;

use super::background::{note_moved, spawn_disk, DiskClass, DiskTask, Starvation, STARVED_AFTER};
use super::{TransferError, DISK_BUFFER_BYTES};

/// The encoded chunk frames of one block, each with its payload length, bytes.
pub(super) type Batch = Vec<(Bytes, usize)>;

/// One block read, hashed and framed; or why the reader stopped.
type Read = Result<(Batch, HashedBlock), TransferError>;

/// A file's blocks, read ahead of the network (up to [`DISK_BUFFER_BYTES`]
/// queued besides the one being read and the one being sent).
pub(super) struct ReadAhead {
    path: PathBuf,
    file: Arc<File>,
    id: [u8; 16],
    class: DiskClass,
    /// The running reader's blocks.
    blocks: mpsc::Receiver<Read>,
    reader: DiskTask<()>,
    /// The blocks handed over so far.
    hasher: FileHasher,
    /// How long an idle-class reader has kept the sender waiting.
    starvation: Starvation,
}

impl ReadAhead {
    /// Opens `path` and starts reading it from `hasher`'s position (a block
    /// boundary) to its size, for the transfer `id`.
    ///
    /// Errors: [`TransferError::Io`] opening the file.
    pub(super) async fn start(
        path: &Path,
        id: [u8; 16],
        hasher: FileHasher,
    ) -> Result<ReadAhead, TransferError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| TransferError::io(path, e))?;
        let file = Arc::new(file.into_std().await);
        let class = DiskClass::for_bytes(hasher.size() - hasher.position());
        let (blocks, reader) = spawn_reader(class, path, &file, id, &hasher);
        Ok(ReadAhead {
            path: path.to_path_buf(),
            file,
            id,
            class,
            blocks,
            reader,
            hasher,
            starvation: Starvation::new(),
        })
    }

    /// The next block's frames, in order; `None` once every block was handed
    /// over. An idle-class reader that keeps the sender waiting (see
    /// [`Starvation`]) is left behind, and a fair-share one reads on from the
    /// first block not handed over.
    ///
    /// Errors: [`TransferError::Io`] reading the file (or if it shrank);
    /// [`TransferError::Protocol`] if the reader thread failed.
    pub(super) async fn next(&mut self) -> Result<Option<Batch>, TransferError> {
        while self.hasher.position() < self.hasher.size() {
            let got = if self.class == DiskClass::Idle {
                let asked = Instant::now();
                match tokio::time::timeout(STARVED_AFTER, self.blocks.recv()).await {
                    Ok(got) => {
                        if self.starvation.waited(asked.elapsed()) {
                            // This block is taken; the next one comes from
                            // a fair-share reader.
                            let batch = self.take(got).await?;
                            self.move_reader();
                            return Ok(Some(batch));
                        }
                        got
                    }
                    Err(_) => {
                        self.move_reader();
                        continue;
                    }
                }
            } else {
                self.blocks.recv().await
            };
            return self.take(got).await.map(Some);
        }
        Ok(None)
    }

    /// What the reader sent: a block (its hash goes into the file's), or its
    /// error; its channel closing before the end means the thread failed.
    async fn take(&mut self, got: Option<Read>) -> Result<Batch, TransferError> {
        match got {
            Some(Ok((batch, hashed))) => {
                self.hasher.push_block(&hashed).map_err(|e| {
                    TransferError::Protocol(format!("read-ahead out of order: {e}"))
                })?;
                Ok(batch)
            }
            Some(Err(e)) => Err(e),
            None => {
                let reader =
                    std::mem::replace(&mut self.reader, DiskTask::NotStarted(String::new()));
                let why = reader.join().await.err().unwrap_or_default();
                Err(TransferError::Protocol(format!(
                    "reader task failed: {why}"
                )))
            }
        }
    }

    /// Leaves the idle-class reader behind (it stops when it next hands over
    /// a block) and reads on from the first block not handed over on a
    /// fair-share thread.
    fn move_reader(&mut self) {
        self.class = DiskClass::Batch;
        (self.blocks, self.reader) =
            spawn_reader(self.class, &self.path, &self.file, self.id, &self.hasher);
        note_moved("reader", &self.path);
    }

    /// The file's BLAKE3, once [`next`](Self::next) returned `None`.
    pub(super) fn digest(&self) -> Option<BlockHash> {
        (self.hasher.position() == self.hasher.size())
            .then(|| self.hasher.digest())
            .flatten()
    }
}

/// Starts a reader of `class` of `file` (at `path`) from `hasher`'s position.
fn spawn_reader(
    class: DiskClass,
    path: &Path,
    file: &Arc<File>,
    id: [u8; 16],
    hasher: &FileHasher,
) -> (mpsc::Receiver<Read>, DiskTask<()>) {
    let capacity = (DISK_BUFFER_BYTES / BLOCK_BYTES as usize).max(1);
    let (tx, rx) = mpsc::channel(capacity);
    let (path, file) = (path.to_path_buf(), Arc::clone(file));
    let (size, from) = (hasher.size(), hasher.position());
    let task = spawn_disk(class, move || {
        read_blocks(&file, &path, id, size, from, &tx)
    });
    (rx, task)
}

/// Reads the `size`-byte `file` (at `path`) from `from` (a block boundary) a block
/// at a time, hashes each block whole (BLAKE3 is a quarter faster on a whole
/// block than on chunk-sized pieces at odd offsets, more than the copy into
/// the frames costs), and sends its encoded chunk frames (the block's hash in
/// its last one) to `tx`, so the sender wakes this thread once per block.
/// Stops at the end, at a read error (or the file ending early: sent as the
/// last item), or when `tx` closes (the sender left this reader behind).
fn read_blocks(
    file: &File,
    path: &Path,
    id: [u8; 16],
    size: u64,
    from: u64,
    tx: &mpsc::Sender<Read>,
) {
    let result = (|| -> std::io::Result<()> {
        let mut block = vec![0u8; BLOCK_BYTES as usize];
        let mut pos = from;
        while pos < size {
            let len = usize::try_from(BLOCK_BYTES.min(size - pos)).unwrap_or(usize::MAX);
            let block = &mut block[..len];
            read_exact_at(file, block, pos)?;
            let hashed = HashedBlock::hash(size, pos, block).map_err(std::io::Error::other)?;
            let pieces = block.chunks(CHUNK_PAYLOAD_BYTES);
            let last = pieces.len() - 1;
            let mut batch = Vec::with_capacity(last + 1);
            for (i, piece) in pieces.enumerate() {
                let mut frame = Vec::with_capacity(CHUNK_HEADER_BYTES + piece.len());
                frame.resize(CHUNK_HEADER_BYTES, 0);
                frame.extend_from_slice(piece);
                // A block's hash goes with its last chunk.
                let ends = (i == last).then(|| hashed.cv());
                write_chunk_header(&mut frame, &id, pos, ends.as_ref());
                batch.push((Bytes::from(frame), piece.len()));
                pos += piece.len() as u64;
            }
            if tx.blocking_send(Ok((batch, hashed))).is_err() {
                return Ok(()); // left behind, or the transfer ended
            }
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

/// Fills `buf` from `pos` of `file`, whatever the position its handle shares
/// with other readers.
///
/// Errors: the read's; `UnexpectedEof` if the file ends first.
#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    file.read_exact_at(buf, pos)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut pos: u64) -> std::io::Result<()> {
    use std::io::ErrorKind;
    use std::os::windows::fs::FileExt as _;
    while !buf.is_empty() {
        match file.seek_read(buf, pos) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                pos += n as u64;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
