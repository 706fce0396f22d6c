//! How a transfer being received ends, short of its verdict (`finish.rs`):
//! its `done` handed to a finishing task, a failure or a cancel (the `failed`
//! or `cancel` frame for the peer), the writer stopped and the part kept or
//! discarded; and the UI told of failures.

use parley_proto::data::{Batch, TransferFrame};
use parley_proto::file_hash::{from_hex, to_hex};
use tokio::sync::mpsc;

use super::later::LaterKind;
use super::{finish, ReceiveSession};
use crate::transfer::disk::remove_temp;
use crate::transfer::writer::BlockMismatch;
use crate::transfer::{emit, TransferDirection, TransferError, TransferEvent, TransferOutcome};

impl ReceiveSession {
    /// The sender's `done` for `id`, with the file's BLAKE3 (hex): a short
    /// file (or a malformed hash) fails at once; otherwise a task of its own
    /// verifies it and moves it into place, and its answer comes from
    /// [`later`](Self::later).
    pub(super) async fn on_done(&mut self, id: [u8; 16], blake3: String) -> Vec<TransferFrame> {
        let Some(active) = self.active.get_mut(&id) else {
            return Vec::new();
        };
        match from_hex(&blake3) {
            Ok(hash) => active.blake3 = to_hex(&hash),
            Err(e) => {
                let err = TransferError::Protocol(format!("`done`: {e}"));
                return self.fail(id, err, true).await;
            }
        }
        if active.received != active.size {
            let err = TransferError::SizeMismatch {
                received: active.received,
                expected: active.size,
            };
            return self.fail(id, err, true).await;
        }
        let active = self.active.remove(&id).expect("checked");
        let transfer_id = active.transfer_id.clone();
        self.finishing.push(transfer_id.clone());
        let (events, done) = (self.events.clone(), self.later_tx.clone());
        tokio::spawn(async move {
            let task = tokio::spawn(async move { finish::finish(active, &events).await });
            // A finish that panicked still answers (and frees its place).
            let frame = task.await.unwrap_or_else(|e| TransferFrame::Failed {
                transfer_id: transfer_id.clone(),
                reason: format!("saving the file failed: {e}"),
            });
            let _ = done.send(LaterKind::Finished(transfer_id, frame));
        });
        Vec::new()
    }

    /// Aborts the transfer `id` with `err`, deleting its temp file if `discard`
    /// (wrong data) or keeping it for a resume, and returns the `failed` frame
    /// for the peer.
    pub(super) async fn fail(
        &mut self,
        id: [u8; 16],
        err: TransferError,
        discard: bool,
    ) -> Vec<TransferFrame> {
        let Some(transfer_id) = self.active.get(&id).map(|a| a.transfer_id.clone()) else {
            return Vec::new();
        };
        let reason = err.to_string();
        self.abort(id, err, discard).await;
        vec![TransferFrame::Failed {
            transfer_id,
            reason,
        }]
    }

    /// Cancels the transfer `id` for the receiving user (its temp file is
    /// discarded) and returns the `cancel` frame for the peer.
    pub(super) async fn cancel(&mut self, id: [u8; 16], reason: &str) -> Vec<TransferFrame> {
        let Some(transfer_id) = self.active.get(&id).map(|a| a.transfer_id.clone()) else {
            return Vec::new();
        };
        let err = TransferError::Cancelled {
            reason: format!("by the receiver: {reason}"),
        };
        self.abort(id, err, true).await;
        vec![TransferFrame::Cancel {
            transfer_id,
            reason: reason.to_owned(),
        }]
    }

    /// Stops the writer of transfer `id`; deletes its temp file and sidecar if
    /// `discard` (else keeps them for a resume); reports `err` to the UI.
    pub(super) async fn abort(&mut self, id: [u8; 16], err: TransferError, discard: bool) {
        let Some(active) = self.active.remove(&id) else {
            return;
        };
        // Wait until no writer thread writes to the file before deleting it.
        let _ = active.writer.finish().await;
        if discard {
            remove_temp(&active.part, &active.sidecar).await;
        }
        tracing::warn!(transfer_id = %active.transfer_id, error = %err, discard, "incoming transfer stopped");
        // The writer is gone (finished), so the report borrows the rest.
        let what = Failing {
            transfer_id: &active.transfer_id,
            name: &active.name,
            bytes_total: active.size,
            batch: active.batch.as_ref(),
        };
        self.emit_failed(what, err.outcome(), err.to_string()).await;
    }

    /// Reports to the UI that the incoming file `what` failed (as `outcome`,
    /// for `reason`): [`emit_failed`] on this session's events.
    pub(super) async fn emit_failed(
        &self,
        what: Failing<'_>,
        outcome: TransferOutcome,
        reason: String,
    ) {
        emit_failed(&self.events, what, outcome, reason).await;
    }
}

/// What a failure report is about: the incoming file as the UI knows it.
#[derive(Clone, Copy)]
pub(super) struct Failing<'a> {
    /// The transfer's id (hex).
    pub(super) transfer_id: &'a str,
    /// The file's name as offered (relative, for a folder's file).
    pub(super) name: &'a str,
    /// The offered size, bytes.
    pub(super) bytes_total: u64,
    /// The batch (folder or multi-file send) it belongs to, if any.
    pub(super) batch: Option<&'a Batch>,
}

/// The block-hash mismatch a writer error stands for, if it is one.
pub(super) fn block_mismatch(e: &std::io::Error) -> Option<&BlockMismatch> {
    e.get_ref()?.downcast_ref::<BlockMismatch>()
}

/// Reports to `events` (the UI) that the incoming file `what` failed, as
/// `outcome`, for `reason`.
pub(super) async fn emit_failed(
    events: &mpsc::Sender<TransferEvent>,
    what: Failing<'_>,
    outcome: TransferOutcome,
    reason: String,
) {
    emit(
        events,
        TransferEvent::Failed {
            transfer_id: what.transfer_id.to_owned(),
            name: what.name.to_owned(),
            bytes_total: what.bytes_total,
            outcome,
            reason,
            direction: TransferDirection::Receiving,
            batch: what.batch.cloned(),
        },
    )
    .await;
}
