//! Dropped folders offered to us (batches, docs/protocol.md §8.3): the user is
//! asked once per folder, and the answer holds for every offer of it, those
//! waiting now and those still to come, in this call and the next ones while
//! the app runs.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, OnceLock};

use parley_proto::data::{transfer_id_from_hex, Batch, TransferFrame};

use super::{Offer, ReceiveSession, DECLINED_BY_USER};
use crate::transfer::{sanitize_file_name, TransferOutcome};

/// Most folders remembered by the process (the oldest are forgotten: an
/// offer of a forgotten folder is asked about again).
const REMEMBERED: usize = 1024;

/// A folder offered to us: as our user saw it, their answer, the offers
/// taken under a yes (transfer id → its name and size, bytes) and their
/// total size.
#[derive(Debug)]
struct Folder {
    batch: Batch,
    yes: Option<bool>,
    taken: HashMap<String, (String, u64)>,
    bytes: u64,
}

/// How far a folder's files may outgrow the size the user saw (files
/// changed since the drop), bytes: a tenth of it, and at least this.
const SIZE_SLACK_MIN: u64 = 1 << 20;

/// The folders offered lately, oldest first.
fn folders() -> MutexGuard<'static, VecDeque<Folder>> {
    static FOLDERS: OnceLock<Mutex<VecDeque<Folder>>> = OnceLock::new();
    FOLDERS
        .get_or_init(|| Mutex::new(VecDeque::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Remembers `batch` as offered (its first offer is about to be asked about).
pub(super) fn seen(batch: &Batch) {
    let mut list = folders();
    if list.iter().any(|f| f.batch.id == batch.id) {
        return;
    }
    if list.len() >= REMEMBERED {
        list.pop_front();
    }
    list.push_back(Folder {
        batch: batch.clone(),
        yes: None,
        taken: HashMap::new(),
        bytes: 0,
    });
}

/// Whether `id` is a folder offered to us lately.
fn known(id: &str) -> bool {
    folders().iter().any(|f| f.batch.id == id)
}

/// Our user's answer for `offer`'s folder: `Some(false)` after a no;
/// `Some(true)` after a yes when the offer is of that very folder (the same
/// name, number of files and size as the user saw) and fits in it: its path
/// is inside the folder, and with it the offers taken stay within the
/// folder's number of files and size (a tenth more, at least 1 MiB, for
/// files changed since; it is counted then). `None`: ask.
pub(super) fn decided(offer: &Offer) -> Option<bool> {
    let batch = offer.batch.as_ref()?;
    let mut list = folders();
    let folder = list.iter_mut().find(|f| f.batch.id == batch.id)?;
    match folder.yes? {
        false => Some(false),
        true => fits(folder, offer).then_some(true),
    }
}

/// Whether `offer` is one the yes to `folder` covers; counts it if so.
fn fits(folder: &mut Folder, offer: &Offer) -> bool {
    let same = offer.batch.as_ref() == Some(&folder.batch);
    let inside = offer.rel.folders.first() == Some(&folder.batch.name);
    if !same || !inside {
        return false;
    }
    // Offered again (a reconnection): counted once, unless it changed,
    // when it counts as new.
    match folder.taken.get(&offer.transfer_id) {
        Some((name, size)) if *name == offer.name && *size == offer.size => return true,
        Some((_, size)) => {
            folder.bytes -= size;
            folder.taken.remove(&offer.transfer_id);
        }
        None => {}
    }
    let limit = folder
        .batch
        .size
        .saturating_add((folder.batch.size / 10).max(SIZE_SLACK_MIN));
    let room = (folder.taken.len() as u64) < folder.batch.files
        && folder.bytes.saturating_add(offer.size) <= limit;
    if room {
        let entry = (offer.name.clone(), offer.size);
        folder.taken.insert(offer.transfer_id.clone(), entry);
        folder.bytes += offer.size;
    }
    room
}

/// Records our user's answer to folder `id`.
fn decide(id: &str, yes: bool) {
    if let Some(f) = folders().iter_mut().find(|f| f.batch.id == id) {
        f.yes = Some(yes);
    }
}

/// The batch of an offer as we show it: its name sanitised like a file name;
/// `None` (the file is asked about on its own) when its id is not 32
/// lowercase hex chars or its name is unusable.
pub(super) fn checked(batch: Option<Batch>) -> Option<Batch> {
    let mut batch = batch?;
    transfer_id_from_hex(&batch.id).ok()?;
    batch.name = sanitize_file_name(&batch.name).ok()?;
    Some(batch)
}

fn in_batch(offer: &Offer, id: &str) -> bool {
    offer.batch.as_ref().is_some_and(|b| b.id == id)
}

impl ReceiveSession {
    /// Whether `id` is the batch id of a folder offered lately, or of an
    /// offer waiting for the user or a transfer being received.
    pub(super) fn is_batch(&self, id: &str) -> bool {
        known(id)
            || self.pending.iter().any(|o| in_batch(o, id))
            || self
                .active
                .values()
                .any(|a| a.batch.as_ref().is_some_and(|b| b.id == id))
    }

    /// Takes the offers of folder `id` waiting for the user out of the
    /// session's hands, oldest first.
    fn take_pending(&mut self, id: &str) -> Vec<Offer> {
        let (offers, rest) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|o| in_batch(o, id));
        self.pending = rest;
        offers
    }

    /// The user accepted the whole batch `id`: its waiting offers start (and
    /// later ones will, without asking). Returns the frames for the peer.
    pub(super) async fn accept_batch(&mut self, id: &str) -> Vec<TransferFrame> {
        decide(id, true);
        let offers = self.take_pending(id);
        tracing::info!(batch = id, files = offers.len(), "folder accepted");
        let mut frames = Vec::with_capacity(offers.len());
        for offer in offers {
            // Only what the user saw: an offer outside the folder, or beyond
            // its number of files or size, is declined.
            match decided(&offer) {
                Some(true) => frames.extend(self.take(offer).await),
                _ => frames.push(self.refuse(offer).await),
            }
        }
        frames
    }

    /// The user declined (or cancelled) the whole batch `id`: its waiting
    /// offers are declined (and later ones will be), and with `cancel` the
    /// files of it being received are cancelled too (their parts discarded).
    /// Returns the frames for the peer.
    pub(super) async fn decline_batch(&mut self, id: &str, cancel: bool) -> Vec<TransferFrame> {
        // Remembered even if it was never asked about (received without
        // asking): its offers still to come are refused too.
        let mine = self.pending.iter().filter_map(|o| o.batch.as_ref());
        let running = self.active.values().filter_map(|a| a.batch.as_ref());
        if let Some(b) = mine.chain(running).find(|b| b.id == id).cloned() {
            seen(&b);
        }
        decide(id, false);
        let offers = self.take_pending(id);
        tracing::info!(batch = id, files = offers.len(), "folder declined");
        let mut frames = Vec::new();
        for offer in offers {
            frames.push(self.refuse(offer).await);
        }
        if cancel {
            let running: Vec<[u8; 16]> = self
                .active
                .iter()
                .filter(|(_, a)| a.batch.as_ref().is_some_and(|b| b.id == id))
                .map(|(k, _)| *k)
                .collect();
            for k in running {
                frames.extend(self.cancel(k, "cancelled by the receiver").await);
            }
        }
        frames
    }

    /// Declines `offer` for the user (reported as declined; a folder's files
    /// name their folder).
    pub(super) async fn refuse(&mut self, offer: Offer) -> TransferFrame {
        tracing::info!(transfer_id = %offer.transfer_id, name = %offer.name, "offer declined");
        let (shown, reason) = ("declined".into(), DECLINED_BY_USER.into());
        self.decline(offer.failing(), TransferOutcome::Declined, shown, reason)
            .await
    }
}
