//! What a [`ReceiveSession`]'s own tasks hand back ([`Later`]: a received
//! file's verdict, or what the receive folder holds of an offer) and how the
//! session takes it, with the states of an offer whose held bytes are
//! probed: being hashed, hashed, answered with `have`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parley_proto::data::{Batch, TransferFrame};

use super::end::Failing;
use super::{Offer, ReceiveSession};
use crate::transfer::disk::Probe;
use crate::transfer::lease::PartLease;

/// What comes back to a [`ReceiveSession`] from a task of its own: the verdict
/// on a received file, or what the receive folder holds of an offer. Take it
/// with [`ReceiveSession::later`], hand it to [`ReceiveSession::on_later`].
#[derive(Debug)]
pub struct Later(LaterKind);

#[derive(Debug)]
pub(super) enum LaterKind {
    /// The answer to `done` (`complete` or `failed`) of this transfer id.
    Finished(String, TransferFrame),
    /// An offer's held bytes, hashed.
    Probed(Box<Probed>),
}

/// An offer being hashed: what the UI is told if it ends before its `have`,
/// and the flag that stops its task.
#[derive(Debug)]
pub(super) struct Hashing {
    pub(super) transfer_id: String,
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) batch: Option<Batch>,
    /// The part file it is hashed under the lease of.
    pub(super) part: PathBuf,
    pub(super) stop: Arc<AtomicBool>,
}

impl Hashing {
    pub(super) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The offer being hashed as a failure report names it.
    pub(super) fn failing(&self) -> Failing<'_> {
        Failing {
            transfer_id: &self.transfer_id,
            name: &self.name,
            bytes_total: self.size,
            batch: self.batch.as_ref(),
        }
    }
}

/// An offer whose receive folder was probed: what it holds of it (`None`:
/// nothing usable), under the part's lease.
#[derive(Debug)]
pub(super) struct Probed {
    pub(super) offer: Offer,
    pub(super) dir: PathBuf,
    /// `None` when it never got the lease (nor so found anything).
    pub(super) lease: Option<PartLease>,
    pub(super) found: Option<Probe>,
    /// Its [`Hashing`] entry's flag (which entry it is).
    pub(super) stop: Arc<AtomicBool>,
}

/// An offer answered with `have`: what we hold of it, and the lease on its
/// part file, held so that nothing else writes the part between the `have`
/// and the transfer going on from it.
#[derive(Debug)]
pub(super) struct Probing {
    pub(super) offer: Offer,
    pub(super) probe: Probe,
    pub(super) lease: PartLease,
    /// The receive folder it was found in.
    pub(super) dir: PathBuf,
}

impl ReceiveSession {
    /// The next thing a task of this session hands back: the verdict on a
    /// received file, or what the receive folder holds of an offer. Waits
    /// until one is ready (forever if no task runs). Cancel-safe: nothing is
    /// lost if the future is dropped, so it can sit in a `select!`.
    pub async fn later(&mut self) -> Later {
        Later(
            self.later_rx
                .recv()
                .await
                .expect("the session holds a sender"),
        )
    }

    /// Handles what [`later`](Self::later) returned and returns the frames to
    /// send to the peer: the answer to a `done` (`complete` once the file was
    /// verified and moved into place, else `failed`), or the answer to an
    /// offer whose held bytes were hashed (`have`, `complete`, `accept`,
    /// `decline`, or nothing while the user is asked).
    pub async fn on_later(&mut self, later: Later) -> Vec<TransferFrame> {
        match later.0 {
            LaterKind::Finished(transfer_id, frame) => {
                self.finishing.retain(|f| *f != transfer_id);
                vec![frame]
            }
            LaterKind::Probed(probed) => self.on_probed(*probed).await,
        }
    }
}
