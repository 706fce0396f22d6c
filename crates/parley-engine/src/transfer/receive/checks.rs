//! The checks an offer goes through before it is accepted, and the error a
//! failed write becomes.

use std::path::{Path, PathBuf};

use super::super::disk::{holds_same, resumable_len, Sidecar};
use super::super::space::{check_space, write_error};
use super::super::TransferError;
use super::Offer;

/// The file in `dir` that is `offer` already (same name, size and SHA-256),
/// if there is one: the offer is answered `complete` and nothing is sent.
pub(super) async fn already_here(root: &Path, offer: &Offer) -> Option<PathBuf> {
    let (dir, name) = (offer.dir(root), offer.leaf());
    let sidecar = Sidecar {
        sha256: offer.sha256.clone(),
        size: offer.size,
    };
    tokio::task::spawn_blocking(move || holds_same(&dir, &name, &sidecar))
        .await
        .ok()
        .flatten()
}

/// Whether `dir` holds a kept partial file of `offer` (same name, size and
/// SHA-256, some bytes in it).
pub(super) async fn resumes(root: &Path, offer: &Offer) -> bool {
    let (dir, name) = (offer.dir(root), offer.leaf());
    let sidecar = Sidecar {
        sha256: offer.sha256.clone(),
        size: offer.size,
    };
    tokio::task::spawn_blocking(move || resumable_len(&dir, &name, &sidecar) > 0)
        .await
        .unwrap_or(false)
}

/// Errors with [`TransferError::NoSpace`] unless `dir`'s disk has room for the
/// rest of `offer`: its size less what a partial file of the same offer already
/// holds there.
pub(super) async fn room_for(root: &Path, offer: &Offer) -> Result<(), TransferError> {
    let (root, dir, name) = (root.to_path_buf(), offer.dir(root), offer.leaf());
    let sidecar = Sidecar {
        sha256: offer.sha256.clone(),
        size: offer.size,
    };
    tokio::task::spawn_blocking(move || {
        let have = resumable_len(&dir, &name, &sidecar);
        // The receive folder: the offer's own folders may not exist yet.
        check_space(&root, sidecar.size - have)
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
