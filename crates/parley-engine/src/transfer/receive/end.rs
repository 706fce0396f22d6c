//! How a transfer being received ends, short of its verdict (`finish.rs`):
//! its `done` handed to a finishing task, a failure or a cancel (the `failed`
//! or `cancel` frame for the peer), the writer stopped and the part kept or
//! discarded; and the UI told of failures.

use parley_proto::data::{Batch, TransferFrame};
use parley_proto::file_hash::{from_hex, to_hex};
use tokio::sync::mpsc;

use super::later::LaterKind;
use super::{finish, ReceiveSession};
use crate::transfer::disk::{remove_temp, BlockMismatch};
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
            active.batch.as_ref(),
        )
        .await;
    }

    pub(super) async fn emit_failed(
        &self,
        transfer_id: &str,
        name: &str,
        bytes_total: u64,
        outcome: TransferOutcome,
        reason: String,
        batch: Option<&Batch>,
    ) {
        emit_failed(
            &self.events,
            transfer_id,
            name,
            bytes_total,
            outcome,
            reason,
            batch,
        )
        .await;
    }
}

/// The block-hash mismatch a writer error stands for, if it is one.
pub(super) fn block_mismatch(e: &std::io::Error) -> Option<&BlockMismatch> {
    e.get_ref()?.downcast_ref::<BlockMismatch>()
}

/// Reports a failed incoming transfer to the UI.
pub(super) async fn emit_failed(
    events: &mpsc::Sender<TransferEvent>,
    transfer_id: &str,
    name: &str,
    bytes_total: u64,
    outcome: TransferOutcome,
    reason: String,
    batch: Option<&Batch>,
) {
    emit(
        events,
        TransferEvent::Failed {
            transfer_id: transfer_id.to_owned(),
            name: name.to_owned(),
            bytes_total,
            outcome,
            reason,
            direction: TransferDirection::Receiving,
            batch: batch.cloned(),
        },
    )
    .await;
}
