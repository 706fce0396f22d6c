//! File transfer over the reliable, ordered `file` data channel
//! ([`parley_proto::data::FILE_LABEL`]).
//!
//! Protocol (DESIGN rule 8; frames in [`parley_proto::data`], file protocol
//! version 2, docs/protocol.md §8.3):
//!
//! 1. the sender sends `offer {transfer_id, name, size, version}`, without
//!    reading the file first;
//! 2. the receiver answers `accept {offset: 0}` or `decline {reason}`, at once
//!    or once its user has answered ([`ReceiveSession::set_ask`]); or, when it
//!    holds something of the file (a kept partial file, or a file of the same
//!    name and size), first `have {offset, blake3}`, the BLAKE3 of the bytes it
//!    holds; the sender hashes its own first bytes and answers `resume
//!    {offset}` (the same offset, or 0 if they differ), and the receiver then
//!    says `accept {offset}`, or `complete` when it holds the whole file;
//! 3. the sender streams binary chunks (16-byte id, 8-byte offset, flags, the
//!    BLAKE3 chaining value of each 1 MiB block with the chunk its last byte is
//!    in, payload) from `offset`, hashing as it reads (one read of the file),
//!    each send waiting while the channel's buffer is full, then `done
//!    {blake3}` with the whole file's hash;
//! 4. the receiver, which checked every chunk's offset and every block's hash
//!    as it arrived (a wrong block stops the transfer within about a block of
//!    later chunks: the writer thread checks), checks size and
//!    the whole file's BLAKE3 and answers `complete` or `failed {reason}`.
//!
//! Either side may `cancel` at any time. Frames for unknown transfers are ignored
//! (or answered with `failed` when the peer waits for an answer), never a panic.
//!
//! Several transfers run at once each way, their chunks interleaved (each chunk
//! names its transfer): the receiver takes up to [`MAX_CONCURRENT_RECEIVES`], and
//! a call sends up to 16 at once, so many small files do not wait for each
//! other's round trips.
//!
//! Tasks: one task runs [`serve_file_channel`] for the whole call: it reads the
//! file channel, drives the [`ReceiveSession`] (whose finished files are
//! verified and moved into place by a task each) and forwards the frames meant
//! for our sending side to a bounded channel; a call routes them on to each of
//! its sends, each a [`send_file`] with a channel of its own.

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use parley_proto::data::TransferFrame;
use tokio::sync::mpsc;

use crate::channel::{DcMessage, MessageSink};

mod background;
mod block_out;
mod disk;
mod lease;
mod name;
mod read_ahead;
mod receive;
mod send;
mod space;
#[cfg(test)]
mod tests;
mod writer;

pub use name::{
    sanitize_file_name, sanitize_relative_name, unique_name_candidate, RelativeName,
    MAX_FOLDER_DEPTH,
};
pub use parley_proto::data::{Batch, FILE_LABEL};
pub use receive::{
    Later, ReceiveSession, DECLINED_BY_USER, MAX_CONCURRENT_PROBES, MAX_CONCURRENT_RECEIVES,
    PART_SUFFIX, SIDECAR_SUFFIX,
};
pub use send::{send_file, send_file_as, send_file_named, Outgoing, SendOutcome};
pub use space::format_bytes;

/// Read-ahead of the sender and write-behind of the receiver, bytes: disk I/O runs
/// on a blocking thread this far ahead of (or behind) the network.
pub const DISK_BUFFER_BYTES: usize = 1024 * 1024;

/// Minimum interval between two [`TransferEvent::Progress`] events of a transfer.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Capacity of the channel carrying frames to the sending side, frames: room
/// for the answers to every send in flight at once (a router hands them on).
pub const SENDER_INBOUND_CAPACITY: usize = 256;

/// Longest text frame accepted on the file channel, bytes.
pub const MAX_TEXT_FRAME_BYTES: usize = 16 * 1024;

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The sender said `done` but the receiver has a different number of bytes, or a
    /// chunk would go beyond the offered size.
    #[error("size mismatch: received {received} bytes, expected {expected}")]
    SizeMismatch {
        /// Bytes received (or that would have been, for an oversized chunk).
        received: u64,
        /// Size from the offer, bytes.
        expected: u64,
    },
    /// The received bytes do not hash to the BLAKE3 in the sender's `done`.
    #[error("BLAKE3 mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        /// Hash from the sender's `done`, lowercase hex.
        expected: String,
        /// Hash of what was received, lowercase hex.
        actual: String,
    },
    /// A block of the file did not hash to the BLAKE3 chaining value the
    /// sender sent with it (docs/protocol.md §8.3): wrong data, caught as it
    /// arrived.
    #[error("corrupt data: the block ending in the chunk at offset {offset} does not match its BLAKE3 hash")]
    BlockMismatch {
        /// Offset of the chunk the block ended in, bytes.
        offset: u64,
    },
    /// The receiver declined the offer.
    #[error("declined by the peer: {reason}")]
    Declined {
        /// The receiver's reason.
        reason: String,
    },
    /// The transfer was cancelled (by us or by the peer).
    #[error("cancelled: {reason}")]
    Cancelled {
        /// Why.
        reason: String,
    },
    /// A chunk did not start where the previous one ended, or an accept offset was
    /// beyond the file.
    #[error("bad offset: expected {expected}, got {got}")]
    BadOffset {
        /// Offset expected, bytes.
        expected: u64,
        /// Offset received, bytes.
        got: u64,
    },
    /// The peer broke the protocol (malformed or unexpected frame).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The receiver reported a failure (hash or size mismatch, disk full, ...).
    #[error("the receiver failed: {reason}")]
    PeerFailed {
        /// The receiver's reason.
        reason: String,
    },
    /// A received file name is unusable even after sanitising (absurdly long).
    #[error("unsafe file name {name:?}: {reason}")]
    UnsafeName {
        /// The name (its first 100 chars).
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// The data channel closed before the transfer finished.
    #[error("the data channel closed")]
    ChannelClosed,
    /// The receiver's disk has too little free space for the offer (checked
    /// before accepting) or filled up while writing. What was received is kept,
    /// so the same file offered again resumes once space is free.
    #[error("not enough space: {} needed, {} free", space::format_bytes_ref(.needed), space::format_bytes_ref(.available))]
    NoSpace {
        /// Bytes still to be written.
        needed: u64,
        /// Bytes free on the receive folder's file system.
        available: u64,
    },
}

impl TransferError {
    /// How a transfer that ended with this error ended: [`TransferOutcome::Declined`]
    /// only for the receiving user's own "no" ([`DECLINED_BY_USER`]; an offer
    /// refused automatically, e.g. for a bad name, is a failure).
    pub fn outcome(&self) -> TransferOutcome {
        match self {
            TransferError::Declined { reason } if reason == DECLINED_BY_USER => {
                TransferOutcome::Declined
            }
            TransferError::Cancelled { .. } => TransferOutcome::Cancelled,
            _ => TransferOutcome::Failed,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TransferError::Io {
            path: path.into(),
            source,
        }
    }
}

/// How a transfer that did not complete ended (see [`TransferEvent::Failed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferOutcome {
    /// The receiving user said no to the offer (nothing was written).
    Declined,
    /// The sender or the receiver stopped it (the receiver keeps the partial file
    /// for a resume when the sender stopped, and deletes it when its own user did).
    Cancelled,
    /// Something went wrong: disk, network, a bad or lying peer, a refused offer.
    Failed,
}

/// Which way a transfer goes, seen from this peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferDirection {
    /// We send the file.
    Sending,
    /// We receive the file.
    Receiving,
}

/// Where a transfer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferProgress {
    /// Transfer id, 32 lowercase hex chars.
    pub transfer_id: String,
    /// File name (the sanitised name when receiving).
    pub name: String,
    /// Bytes sent or received so far, including a resumed prefix.
    pub bytes_done: u64,
    /// File size, bytes.
    pub bytes_total: u64,
    /// Which way it goes.
    pub direction: TransferDirection,
    /// The dropped folder it belongs to (its name sanitised when receiving),
    /// if it was offered as part of one: a UI shows the folder as one
    /// transfer ([`TransferCommand::Accept`] of the batch id accepts it all).
    pub batch: Option<Batch>,
}

/// What the user decided about one transfer, by its id (32 lowercase hex chars),
/// or about a whole dropped folder, by its batch id ([`Batch::id`]): `Accept`
/// and `Decline` of a batch id answer every offer of the folder, now and to
/// come; `Cancel` of a batch id stops all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferCommand {
    /// Accept an offer announced by [`TransferEvent::Incoming`].
    Accept {
        /// Transfer id.
        transfer_id: String,
    },
    /// Decline an offer announced by [`TransferEvent::Incoming`].
    Decline {
        /// Transfer id.
        transfer_id: String,
    },
    /// Stop a transfer, either way, at any point (an unanswered offer we
    /// received is declined).
    Cancel {
        /// Transfer id.
        transfer_id: String,
    },
}

impl TransferCommand {
    /// The transfer it is about.
    pub fn transfer_id(&self) -> &str {
        match self {
            TransferCommand::Accept { transfer_id }
            | TransferCommand::Decline { transfer_id }
            | TransferCommand::Cancel { transfer_id } => transfer_id,
        }
    }
}

/// What a transfer reports to the UI, on a bounded `mpsc` channel. `Progress` is
/// dropped if the channel is full (a slow UI never slows a transfer); the other
/// events are waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferEvent {
    /// The peer offers a file and waits for our user's answer (receiving side, ask
    /// mode only; `bytes_done` is 0, `name` is sanitised).
    Incoming(TransferProgress),
    /// An offer was sent or accepted; `bytes_done` is the resume offset when known
    /// (0 on the sending side before the answer).
    Offered(TransferProgress),
    /// Bytes moved; at most one per [`PROGRESS_INTERVAL`] per transfer.
    Progress(TransferProgress),
    /// The file arrived and was verified.
    Completed {
        /// Transfer id.
        transfer_id: String,
        /// File name (sanitised, final name when receiving).
        name: String,
        /// Where it was saved (receiving) or read from (sending).
        path: PathBuf,
        /// File size, bytes.
        bytes: u64,
        /// Time from accept to completion, ms.
        elapsed_ms: u64,
        /// Which way it went.
        direction: TransferDirection,
        /// No bytes moved: the receiver held this very file already (same
        /// name, size and BLAKE3) and said so. The
        /// receiving side says so for an empty folder that existed before;
        /// the sending side for any empty folder it offered (it cannot tell).
        already_there: bool,
    },
    /// The transfer failed, was declined or was cancelled.
    Failed {
        /// Transfer id.
        transfer_id: String,
        /// File name.
        name: String,
        /// File size, bytes (0 when not known).
        bytes_total: u64,
        /// Declined, cancelled or failed.
        outcome: TransferOutcome,
        /// What went wrong, for display.
        reason: String,
        /// Which way it went.
        direction: TransferDirection,
        /// The dropped folder it belongs to, when known.
        batch: Option<Batch>,
    },
    /// A file we send did not arrive this time (the connection dropped, the
    /// contact went offline, the receiver's disk was full, ...) but stays in the
    /// queue and is offered again by itself (sending side, from the client's
    /// queue: [`crate::client`]); sent in place of the attempt's `Failed`.
    Queued {
        /// Transfer id (the same on every attempt).
        transfer_id: String,
        /// File name.
        name: String,
        /// File size, bytes (0 when not known).
        bytes_total: u64,
        /// Why the last attempt did not get it there, for display.
        reason: String,
        /// When the next attempt is due while the contact stays online, ms from
        /// now; `None`: as soon as they are online again.
        retry_in_ms: Option<u64>,
    },
}

/// Rate limit of progress events: pure, the caller passes the time.
#[derive(Debug)]
pub(crate) struct ProgressThrottle {
    last: Option<Instant>,
}

impl ProgressThrottle {
    pub(crate) fn new() -> Self {
        ProgressThrottle { last: None }
    }

    /// Whether to emit a progress event at `now`.
    pub(crate) fn ready(&mut self, now: Instant) -> bool {
        match self.last {
            Some(last) if now.duration_since(last) < PROGRESS_INTERVAL => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

/// Sends `event` without ever blocking on a slow UI for progress events; waits
/// for the others. A closed event channel is ignored.
pub(crate) async fn emit(events: &mpsc::Sender<TransferEvent>, event: TransferEvent) {
    if matches!(event, TransferEvent::Progress(_)) {
        let _ = events.try_send(event);
    } else {
        let _ = events.send(event).await;
    }
}

pub(crate) fn text(frame: &TransferFrame) -> DcMessage {
    DcMessage::Text(frame.to_json())
}

/// Whether a frame is an answer to our own offers (for the sending side) rather
/// than part of a transfer we receive. `cancel` goes either way: pass whether the
/// receive side knows the transfer.
pub fn is_for_sender(frame: &TransferFrame, receiving_this_transfer: bool) -> bool {
    match frame {
        TransferFrame::Accept { .. }
        | TransferFrame::Have { .. }
        | TransferFrame::Decline { .. }
        | TransferFrame::Complete { .. }
        | TransferFrame::Failed { .. } => true,
        TransferFrame::Cancel { .. } => !receiving_this_transfer,
        _ => false,
    }
}

/// Longest reason sent back for a malformed offer, chars.
const MAX_REASON_CHARS: usize = 200;

/// The `decline` for a text frame that is an offer but not a valid one (a
/// `transfer_id` that is not 32 hex chars, a negative or missing `size`, ...),
/// so its sender, which waits for an answer, gets one; `None` for anything
/// else that does not parse (ignored). The id is echoed as sent (at most 64
/// chars), for the sender to match.
fn decline_malformed(text: &str, error: &parley_proto::ProtoError) -> Option<TransferFrame> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    if value.get("type")?.as_str()? != "offer" {
        return None;
    }
    let transfer_id = value
        .get("transfer_id")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .chars()
        .take(64)
        .collect();
    let reason = format!("malformed offer: {error}")
        .chars()
        .take(MAX_REASON_CHARS)
        .collect();
    Some(TransferFrame::Decline {
        transfer_id,
        reason,
    })
}

type SendFuture<'a> = Pin<Box<dyn Future<Output = crate::Result<()>> + Send + 'a>>;

/// Runs the file channel for a whole call: reads every message from `incoming`,
/// drives `session` with the frames and chunks of transfers we receive and with the
/// user's `commands` about them (sending its answers on `sink`), and forwards the answers to our own offers to `to_sender`
/// (the `inbound` of [`send_file`], or a router that hands each to its send;
/// dropped with a warning if that channel is full or closed).
///
/// Answers are sent while incoming messages keep being read, so two peers
/// sending files to each other over full channels cannot deadlock. Returns when
/// `incoming` ends; partial files are then kept for a later resume.
///
/// Errors: [`crate::Error::ChannelClosed`] if an answer cannot be sent; the
/// session is closed first, as when `incoming` ends (incoming files reported
/// failed, their parts kept, probes stopped).
pub async fn serve_file_channel(
    incoming: &mut mpsc::Receiver<DcMessage>,
    sink: &dyn MessageSink,
    session: &mut ReceiveSession,
    to_sender: &mpsc::Sender<TransferFrame>,
    commands: &mut mpsc::Receiver<TransferCommand>,
) -> crate::Result<()> {
    let mut queue: VecDeque<TransferFrame> = VecDeque::new();
    let mut in_flight: Option<SendFuture<'_>> = None;
    let mut commands_open = true;
    loop {
        if in_flight.is_none() {
            if let Some(frame) = queue.pop_front() {
                in_flight = Some(sink.send(text(&frame)));
            }
        }
        tokio::select! {
            biased;
            result = async {
                match in_flight.as_mut() {
                    Some(send) => send.await,
                    None => std::future::pending().await,
                }
            } => {
                in_flight = None;
                if let Err(e) = result {
                    // The channel failed under us: what was coming in is
                    // reported failed and its probes stopped, as on a close.
                    session.close().await;
                    return Err(e);
                }
            }
            later = session.later() => queue.extend(session.on_later(later).await),
            command = commands.recv(), if commands_open => match command {
                Some(command) => queue.extend(session.command(command).await),
                None => commands_open = false,
            },
            msg = incoming.recv() => {
                let Some(msg) = msg else { break };
                match msg {
                    DcMessage::Binary(bytes) => queue.extend(session.on_chunk(&bytes).await),
                    DcMessage::Text(text) => {
                        if text.len() > MAX_TEXT_FRAME_BYTES {
                            tracing::warn!(bytes = text.len(), "file channel: oversized text frame ignored");
                            continue;
                        }
                        let frame = match TransferFrame::parse(&text) {
                            Ok(frame) => frame,
                            Err(e) => {
                                tracing::warn!(error = %e, "file channel: bad frame");
                                // A sender waits for an answer to its offer.
                                queue.extend(decline_malformed(&text, &e));
                                continue;
                            }
                        };
                        if is_for_sender(&frame, session.is_receiving(frame.transfer_id())) {
                            if let Err(e) = to_sender.try_send(frame) {
                                tracing::warn!(error = %e, "file channel: frame for the sending side dropped");
                            }
                        } else {
                            queue.extend(session.on_text(frame).await);
                        }
                    }
                }
            }
        }
    }
    // Answers still queued are dropped: the channel they would go on is closing.
    session.close().await;
    Ok(())
}
