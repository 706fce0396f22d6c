//! The checks an offer goes through before it is accepted, and the error a
//! failed write becomes.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::super::disk::{may_hold as may_hold_in, probe as probe_dir, Probe};
use super::super::space::{check_space, write_error};
use super::super::TransferError;
use super::Offer;

/// What the receive folder holds of `offer` (a file of the same name and
/// size, if `file_first`, else or then a kept partial file of it), its first
/// bytes hashed for `have`; `None` as well if `stop` is set meanwhile.
pub(super) async fn probe(
    root: &Path,
    offer: &Offer,
    file_first: bool,
    stop: Arc<AtomicBool>,
) -> Option<Probe> {
    let (dir, name, size) = (offer.dir(root), offer.leaf(), offer.size);
    tokio::task::spawn_blocking(move || probe_dir(&dir, &name, size, file_first, &stop))
        .await
        .ok()
        .flatten()
}

/// Whether the receive folder may hold something of `offer` that [`probe`]
/// would hash (a file of its name and size, or a kept part of at least one
/// block): file metadata only, nothing read.
pub(super) async fn may_hold(root: &Path, offer: &Offer) -> bool {
    let (dir, name, size) = (offer.dir(root), offer.leaf(), offer.size);
    tokio::task::spawn_blocking(move || may_hold_in(&dir, &name, size))
        .await
        .unwrap_or(false)
}

/// Errors with [`TransferError::NoSpace`] unless `dir`'s disk has room for the
/// rest of `offer`: its size less the `held` bytes a kept partial file of it
/// already holds there.
pub(super) async fn room_for(root: &Path, offer: &Offer, held: u64) -> Result<(), TransferError> {
    let (root, size) = (root.to_path_buf(), offer.size);
    tokio::task::spawn_blocking(move || {
        // The receive folder: the offer's own folders may not exist yet.
        check_space(&root, size.saturating_sub(held))
    })
    .await
    .unwrap_or_else(|e| Err(TransferError::Protocol(format!("space check failed: {e}"))))
}

/// The error for a failed write of `part` (of a `size`-byte file in `dir`):
/// [`TransferError::NoSpace`] naming the bytes still missing from the part on
/// disk when the disk is full, else [`TransferError::Io`]. Call once the
/// writer has stopped, so the part's length is final.
pub(super) async fn write_failure(
    part: &Path,
    dir: &Path,
    size: u64,
    e: std::io::Error,
) -> TransferError {
    let (part, dir) = (part.to_path_buf(), dir.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let on_disk = std::fs::metadata(&part).map_or(0, |m| m.len());
        write_error(&part, &dir, size.saturating_sub(on_disk), e)
    })
    .await
    .unwrap_or_else(|e| TransferError::Protocol(format!("write check failed: {e}")))
}
