//! The receiver's writer: a disk thread ([`super::background`]) checks every
//! block against the sender's BLAKE3 chaining value
//! ([`parley_proto::file_hash`]) and writes it to the temp file, a whole block
//! at a time ([`BlockOut`]: direct I/O where it works), at most
//! [`DISK_BUFFER_BYTES`] behind the network (backpressure on the disk).
//!
//! Blocks stay here until the thread reports them written, and the file's
//! hash is assembled here from those reports, so when an idle-class writer
//! keeps the receiver waiting ([`Starvation`]) a fair-share one takes over at
//! once from the first block not reported, without waiting for the starved
//! thread: that one stops before its next write ([`Fence`]), and a write it
//! had already begun puts the same checked bytes where the new thread puts
//! them. [`Writer::finish`] waits for such a write to end, so once it
//! returns no thread writes to the file again (it may be renamed, deleted,
//! or reopened for another transfer).

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use parley_proto::file_hash::{to_hex, BlockHash, FileHasher, HashedBlock, BLOCK_BYTES};
use tokio::sync::mpsc;

use super::background::{note_moved, spawn_disk, DiskClass, DiskTask, Starvation, STARVED_AFTER};
use super::block_out::BlockOut;
use super::DISK_BUFFER_BYTES;

/// Marks the `InvalidData` error of a block whose bytes do not hash to the
/// sender's block hash (wrong data: the part is discarded).
#[derive(Debug, thiserror::Error)]
#[error("the block ending in the chunk at offset {offset} does not match its BLAKE3 hash")]
pub(super) struct BlockMismatch {
    pub(super) offset: u64,
}

/// A whole block received: where it starts (bytes), its chunks' payloads in
/// order, and the sender's chaining value for it.
#[derive(Debug)]
struct Block {
    offset: u64,
    chunks: Vec<Bytes>,
    sent: BlockHash,
}

impl Block {
    /// Offset of the chunk the block ends in (named in a mismatch).
    fn last_chunk(&self) -> u64 {
        let len: usize = self.chunks.iter().map(Bytes::len).sum();
        self.offset + (len - self.chunks.last().map_or(0, Bytes::len)) as u64
    }
}

/// A writer thread: its blocks, its reports (a block written, or the error
/// that stopped it), and the fence that leaves it behind.
#[derive(Debug)]
struct Thread {
    blocks: mpsc::UnboundedSender<Arc<Block>>,
    written: mpsc::UnboundedReceiver<io::Result<HashedBlock>>,
    task: DiskTask<()>,
    fence: Arc<Fence>,
}

/// Leaves a writer thread behind without waiting for it, and later waits
/// only for a write it had already begun: the thread writes only while it
/// holds `writing` and has seen `left_behind` unset under it.
#[derive(Debug, Default)]
struct Fence {
    left_behind: AtomicBool,
    writing: Mutex<()>,
}

impl Fence {
    /// Runs `write` unless the thread was left behind (then `None`).
    fn write<T>(&self, write: impl FnOnce() -> T) -> Option<T> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        (!self.left_behind.load(Ordering::Acquire)).then(write)
    }

    /// Leaves the thread behind: it starts no write from now on.
    fn leave_behind(&self) {
        self.left_behind.store(true, Ordering::Release);
    }

    /// Blocks until a write begun before [`leave_behind`](Self::leave_behind)
    /// has ended.
    fn wait_out(&self) {
        drop(self.writing.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// The received file's writer (see the module docs).
#[derive(Debug)]
pub(super) struct Writer {
    path: PathBuf,
    /// The temp file, kept for writer threads started later and the final sync.
    file: File,
    class: DiskClass,
    /// `None` once it stopped (finished, or failed).
    thread: Option<Thread>,
    /// Chunks of the block being received, not yet handed over.
    chunks: Vec<Bytes>,
    /// Bytes in `chunks`.
    collected: u64,
    /// Blocks handed over and not yet reported written, in order.
    in_flight: VecDeque<Arc<Block>>,
    /// The fences of the threads left behind.
    behind: Vec<Arc<Fence>>,
    /// The blocks written (and the resumed prefix): the next one starts at
    /// its position.
    hasher: FileHasher,
    /// How long an idle-class writer has kept the receiver waiting.
    starvation: Starvation,
}

impl Writer {
    /// A writer appending to `file` (the temp file at `path`) at `hasher`'s
    /// position (the bytes before it hashed already: a resumed part).
    /// [`finish`](Self::finish) returns the file's BLAKE3 (hex) and length.
    pub(super) fn spawn(file: File, path: &Path, hasher: FileHasher) -> Writer {
        let class = DiskClass::for_bytes(hasher.size() - hasher.position());
        let mut writer = Writer {
            path: path.to_path_buf(),
            file,
            class,
            thread: None,
            chunks: Vec::new(),
            collected: 0,
            in_flight: VecDeque::new(),
            behind: Vec::new(),
            hasher,
            starvation: Starvation::new(),
        };
        writer.thread = Some(writer.start_thread());
        writer
    }

    /// Starts a writer thread of the current class at the hasher's position.
    fn start_thread(&self) -> Thread {
        let (blocks, rx) = mpsc::unbounded_channel();
        let (tx, written) = mpsc::unbounded_channel();
        let fence = Arc::new(Fence::default());
        let out = self.file.try_clone().map(|file| {
            let (path, size) = (self.path.clone(), self.hasher.size());
            (BlockOut::new(file, &path, self.hasher.position()), size)
        });
        let thread_fence = Arc::clone(&fence);
        let task = spawn_disk(self.class, move || match out {
            Ok((out, size)) => write_blocks(out, size, rx, &tx, &thread_fence),
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        });
        Thread {
            blocks,
            written,
            task,
            fence,
        }
    }

    /// Takes the next chunk's payload `buf`, with the sender's hash of the
    /// block if the chunk ends one; a block's chunks go to the writer thread
    /// together once it ends, waiting while the writer is
    /// [`DISK_BUFFER_BYTES`] behind.
    ///
    /// Errors: `InvalidData` ([`BlockMismatch`]) for a chunk past its block's
    /// end, a block's last chunk without its hash or a hash before the end
    /// (as wrong as a wrong hash), and for a block that does not match its
    /// hash; the writer's own error if it stopped (disk full, ...).
    pub(super) async fn write(&mut self, buf: Bytes, block: Option<BlockHash>) -> io::Result<()> {
        if buf.is_empty() && block.is_none() {
            return Ok(());
        }
        let start = self.next_block_start();
        let offset = start + self.collected;
        let end = offset + buf.len() as u64;
        let block_end = (start + BLOCK_BYTES).min(self.hasher.size());
        if end > block_end || (end == block_end) != block.is_some() {
            return Err(mismatch(offset));
        }
        self.collected += buf.len() as u64;
        self.chunks.push(buf);
        let Some(sent) = block else {
            return Ok(());
        };
        let block = Arc::new(Block {
            offset: start,
            chunks: std::mem::take(&mut self.chunks),
            sent,
        });
        self.collected = 0;
        self.hand_over(block).await
    }

    /// Where the block being collected starts: after the blocks written and
    /// those handed over.
    fn next_block_start(&self) -> u64 {
        self.in_flight.back().map_or(self.hasher.position(), |b| {
            (b.offset + BLOCK_BYTES).min(self.hasher.size())
        })
    }

    /// Hands `block` to the writer thread once no more than the buffer's
    /// worth of blocks wait there besides the one being written.
    async fn hand_over(&mut self, block: Arc<Block>) -> io::Result<()> {
        let most = (DISK_BUFFER_BYTES / BLOCK_BYTES as usize).max(1);
        self.take_reports()?;
        while self.in_flight.len() > most {
            self.wait_for_report().await?;
        }
        let thread = self.running()?;
        let sent = thread.blocks.send(Arc::clone(&block)).is_ok();
        self.in_flight.push_back(block);
        if !sent {
            // The thread is gone: its report says why.
            self.wait_for_report().await?;
        }
        Ok(())
    }

    fn running(&mut self) -> io::Result<&mut Thread> {
        self.thread
            .as_mut()
            .ok_or_else(|| io::Error::other("the writer already stopped"))
    }

    /// Waits until every block handed over is reported written.
    async fn write_in_flight(&mut self) -> io::Result<()> {
        while !self.in_flight.is_empty() {
            self.wait_for_report().await?;
        }
        Ok(())
    }

    /// Takes the reports already in, without waiting.
    fn take_reports(&mut self) -> io::Result<()> {
        loop {
            let report = match self.running()?.written.try_recv() {
                Ok(report) => report,
                Err(mpsc::error::TryRecvError::Empty) => return Ok(()),
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.thread = None;
                    return Err(io::Error::other(
                        "the writer thread stopped without a report",
                    ));
                }
            };
            self.take_report(report)?;
        }
    }

    /// Waits for the thread's next report. An idle-class thread that keeps
    /// the receiver waiting (see [`Starvation`]) is left behind and a
    /// fair-share one writes on from the first block not reported.
    async fn wait_for_report(&mut self) -> io::Result<()> {
        let idle = self.class == DiskClass::Idle;
        let asked = Instant::now();
        let written = &mut self.running()?.written;
        let report = if idle {
            match tokio::time::timeout(STARVED_AFTER, written.recv()).await {
                Ok(report) => report,
                Err(_) => {
                    self.move_writer();
                    return Ok(());
                }
            }
        } else {
            written.recv().await
        };
        match report {
            Some(report) => self.take_report(report)?,
            None => {
                let thread = self.thread.take().expect("running");
                let why = thread.task.join().await.err().unwrap_or_default();
                return Err(io::Error::other(format!("writer thread failed: {why}")));
            }
        }
        if idle && self.starvation.waited(asked.elapsed()) {
            self.move_writer();
        }
        Ok(())
    }

    /// A block written (its hash goes into the file's), or the error that
    /// stopped the thread.
    fn take_report(&mut self, report: io::Result<HashedBlock>) -> io::Result<()> {
        let hashed = match report {
            Ok(hashed) => hashed,
            Err(e) => {
                self.thread = None;
                return Err(e);
            }
        };
        match self.in_flight.pop_front() {
            Some(block) if block.offset == hashed.offset() => {}
            _ => return Err(io::Error::other("the writer reported a block out of order")),
        }
        self.hasher.push_block(&hashed).map_err(io::Error::other)?;
        Ok(())
    }

    /// Leaves the idle-class thread behind and hands every block it has not
    /// reported to a fair-share one.
    fn move_writer(&mut self) {
        if let Some(old) = self.thread.take() {
            old.fence.leave_behind();
            self.behind.push(old.fence);
        }
        self.class = DiskClass::Batch;
        let thread = self.start_thread();
        for block in &self.in_flight {
            let _ = thread.blocks.send(Arc::clone(block));
        }
        self.thread = Some(thread);
        note_moved("writer", &self.path);
    }

    /// Waits until every block handed over is written (a block never ended
    /// is dropped: it was never checked), lets the thread end (not waiting
    /// for it), waits out a write a thread left behind had begun, and syncs
    /// the file; returns the BLAKE3
    /// (hex) and length of the whole file. Once it returns (either way), no
    /// writer thread writes to the file again.
    ///
    /// Errors: the writer's (a block that did not match, the disk's), the
    /// sync's, or the file ending mid-block.
    pub(super) async fn finish(mut self) -> io::Result<(String, u64)> {
        let written = self.write_in_flight().await;
        if let Some(thread) = self.thread.take() {
            // Nothing is left for it to write (or it failed): it ends at once.
            thread.fence.leave_behind();
            self.behind.push(thread.fence);
        }
        let (file, hasher, behind) = (self.file, self.hasher, self.behind);
        tokio::task::spawn_blocking(move || {
            behind.iter().for_each(|fence| fence.wait_out());
            written?;
            file.sync_all()?;
            let digest = hasher
                .digest()
                .ok_or_else(|| io::Error::other("the file ended mid-block"))?;
            Ok((to_hex(&digest), hasher.position()))
        })
        .await
        .map_err(|e| io::Error::other(format!("writer thread failed: {e}")))?
    }
}

fn mismatch(offset: u64) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, BlockMismatch { offset })
}

/// The writer thread: stages each block's chunks in `out`, hashes the block
/// whole (BLAKE3 is a quarter faster on a whole block than on 64 KiB pieces at
/// odd offsets), writes it only if it matches the sender's hash, and reports
/// it to `written`; stops when `blocks` closes, at the first error (reported),
/// or before a write once `fence` leaves it behind.
fn write_blocks(
    mut out: BlockOut,
    size: u64,
    mut blocks: mpsc::UnboundedReceiver<Arc<Block>>,
    written: &mpsc::UnboundedSender<io::Result<HashedBlock>>,
    fence: &Fence,
) {
    while let Some(block) = blocks.blocking_recv() {
        if fence.left_behind.load(Ordering::Acquire) {
            return;
        }
        let report = (|| {
            for chunk in &block.chunks {
                out.stage(chunk).map_err(|_| mismatch(block.last_chunk()))?;
            }
            let hashed = HashedBlock::hash(size, block.offset, out.staged())
                .map_err(|_| mismatch(block.last_chunk()))?;
            if hashed.cv() != block.sent {
                return Err(mismatch(block.last_chunk()));
            }
            match fence.write(|| out.write_staged()) {
                Some(wrote) => wrote.map(|()| Some(hashed)),
                None => Ok(None),
            }
        })();
        match report {
            Ok(None) => return,
            Ok(Some(hashed)) => {
                if written.send(Ok(hashed)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = written.send(Err(e));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn a_fence_waits_out_a_write_begun_and_lets_none_start_after() {
        let fence = Arc::new(Fence::default());
        let (began, has_begun) = channel();
        let (go, may_go) = channel::<()>();
        let writer = std::thread::spawn({
            let fence = Arc::clone(&fence);
            move || {
                fence.write(|| {
                    began.send(()).unwrap();
                    may_go.recv().unwrap();
                    "written"
                })
            }
        });
        has_begun.recv().unwrap();
        fence.leave_behind();
        let waiter = std::thread::spawn({
            let fence = Arc::clone(&fence);
            move || fence.wait_out()
        });
        // The write holds the fence until it may go on.
        assert!(!waiter.is_finished());
        go.send(()).unwrap();
        waiter.join().unwrap();
        assert_eq!(writer.join().unwrap(), Some("written"));
        assert_eq!(fence.write(|| "again"), None, "left behind");
    }
}
