//! Dropped folders offered to us (batches, docs/protocol.md §8.3): the user is
//! asked once per folder, and the answer holds for every offer of it, those
//! waiting now and those still to come, in this call and the next ones while
//! the app runs.

use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock};

use parley_proto::data::{transfer_id_from_hex, Batch, TransferFrame};

use super::{Offer, ReceiveSession, DECLINED_BY_USER};
use crate::transfer::{sanitize_file_name, TransferOutcome};

/// Most batch decisions remembered by the process (the oldest are forgotten:
/// an offer of a forgotten batch is asked about again).
const REMEMBERED: usize = 1024;

/// What our user said about each batch lately: its id and yes (`true`) or no.
/// Ids are 16 random bytes known only to the two peers, so a decision is
/// kept by id alone, across calls.
fn decisions() -> &'static Mutex<VecDeque<(String, bool)>> {
    static DECISIONS: OnceLock<Mutex<VecDeque<(String, bool)>>> = OnceLock::new();
    DECISIONS.get_or_init(|| Mutex::new(VecDeque::new()))
}

/// Our user's answer to batch `id`, if they gave one.
pub(super) fn decided(id: &str) -> Option<bool> {
    let list = decisions().lock().unwrap_or_else(|p| p.into_inner());
    list.iter()
        .rev()
        .find(|(b, _)| b == id)
        .map(|(_, yes)| *yes)
}

/// Remembers our user's answer to batch `id`.
fn decide(id: &str, yes: bool) {
    let mut list = decisions().lock().unwrap_or_else(|p| p.into_inner());
    list.retain(|(b, _)| b != id);
    if list.len() >= REMEMBERED {
        list.pop_front();
    }
    list.push_back((id.to_owned(), yes));
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
    /// Whether `id` is the batch id of an offer waiting for the user or of a
    /// transfer being received.
    pub(super) fn is_batch(&self, id: &str) -> bool {
        self.pending.iter().any(|o| in_batch(o, id))
            || self
                .active
                .values()
                .any(|a| a.batch.as_ref().is_some_and(|b| b.id == id))
    }

    /// The user accepted the whole batch `id`: its waiting offers start (and
    /// later ones will, without asking). Returns the frames for the peer.
    pub(super) async fn accept_batch(&mut self, id: &str) -> Vec<TransferFrame> {
        decide(id, true);
        let (offers, rest) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|o| in_batch(o, id));
        self.pending = rest;
        let offers: Vec<Offer> = offers;
        tracing::info!(batch = id, files = offers.len(), "folder accepted");
        let mut frames = Vec::with_capacity(offers.len());
        for offer in offers {
            frames.extend(self.take(offer).await);
        }
        frames
    }

    /// The user declined (or cancelled) the whole batch `id`: its waiting
    /// offers are declined (and later ones will be), and with `cancel` the
    /// files of it being received are cancelled too (their parts discarded).
    /// Returns the frames for the peer.
    pub(super) async fn decline_batch(&mut self, id: &str, cancel: bool) -> Vec<TransferFrame> {
        decide(id, false);
        let (offers, rest) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|o| in_batch(o, id));
        self.pending = rest;
        let offers: Vec<Offer> = offers;
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

    /// Declines `offer` for the user (reported as declined).
    pub(super) async fn refuse(&mut self, offer: Offer) -> TransferFrame {
        tracing::info!(transfer_id = %offer.transfer_id, name = %offer.name, "offer declined");
        self.emit_failed(
            &offer.transfer_id,
            &offer.name,
            offer.size,
            TransferOutcome::Declined,
            "declined".into(),
        )
        .await;
        TransferFrame::Decline {
            transfer_id: offer.transfer_id,
            reason: DECLINED_BY_USER.into(),
        }
    }
}
