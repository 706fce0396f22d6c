//! Finishing a received file, in a task of its own so that one file's flush,
//! fsync and rename do not hold up the chunks of the others: the writer's
//! BLAKE3 of the file checked against the sender's `done`, then the move into
//! place.

use parley_proto::data::TransferFrame;
use tokio::sync::mpsc;

use super::super::disk::{move_into_place, remove_temp};
use super::super::{emit, TransferDirection, TransferError, TransferEvent};
use super::checks::write_failure;
use super::end::{block_mismatch, emit_failed, Failing};
use super::Incoming;

/// Verifies `active` (all its bytes received), moves it into place and reports
/// [`TransferEvent::Completed`], or [`TransferEvent::Failed`]; returns the
/// answer for the sender: `complete`, or `failed {reason}`.
///
/// A wrong hash (of the file or of a block) deletes the temp file (wrong data); a disk error keeps it (a
/// good prefix, or a verified whole file that could not be moved) to resume.
pub(super) async fn finish(
    active: Incoming,
    events: &mpsc::Sender<TransferEvent>,
) -> TransferFrame {
    let Incoming {
        transfer_id,
        name,
        leaf,
        size,
        blake3,
        dir,
        part,
        sidecar,
        started,
        writer,
        lease,
        batch,
        ..
    } = active;
    let verdict = match writer.finish().await {
        Err(e) => match block_mismatch(&e) {
            Some(m) => Err(TransferError::BlockMismatch { offset: m.offset }),
            None => Err(write_failure(&part, &dir, size, e).await),
        },
        Ok((actual, _)) if actual != blake3 => Err(TransferError::HashMismatch {
            expected: blake3,
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
    let frame = match verdict {
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
            let event = TransferEvent::Completed {
                transfer_id: transfer_id.clone(),
                name: final_name,
                path,
                bytes: size,
                elapsed_ms,
                direction: TransferDirection::Receiving,
                already_there: false,
            };
            emit(events, event).await;
            TransferFrame::Complete { transfer_id }
        }
        Err(err) => {
            let discard = matches!(
                err,
                TransferError::HashMismatch { .. } | TransferError::BlockMismatch { .. }
            );
            if discard {
                remove_temp(&part, &sidecar).await;
            }
            tracing::warn!(%transfer_id, error = %err, discard, "received file rejected");
            let what = Failing {
                transfer_id: &transfer_id,
                name: &name,
                bytes_total: size,
                batch: batch.as_ref(),
            };
            emit_failed(events, what, err.outcome(), err.to_string()).await;
            TransferFrame::Failed {
                transfer_id,
                reason: err.to_string(),
            }
        }
    };
    drop(lease);
    frame
}
