//! The client task's side of the queue of files to send (`client/outbox.rs`):
//! queuing what the user sends, offering it again when the contact is back,
//! and taking it out once it arrived or a user said no.

use std::path::PathBuf;
use std::time::Instant;

use parley_proto::PeerId;

use super::Task;
use crate::call::{CallCommand, FileToSend};
use crate::client::outbox::{retry_delay, MAX_ATTEMPTS};
use crate::client::{expand_dropped, ClientEvent};
use crate::storage::OutboxEntry;
use crate::transfer::{TransferCommand, TransferDirection, TransferEvent, TransferOutcome};
use crate::{Error, Result};

impl Task {
    /// Queues `paths` (folders expanded into their files and empty folders,
    /// named by their path inside the folder, [`expand_dropped`]) for `peer` in the
    /// profile and offers them over the call or a data session with them. A
    /// file already queued for them keeps its place (and transfer id).
    ///
    /// Errors: nothing to send there ([`Error::Invalid`]); `peer` is offline
    /// ([`crate::call::CallError::Offline`]; nothing stays queued then);
    /// [`Error::Storage`].
    /// Returns the transfer ids queued, in order.
    pub(super) async fn send_files(
        &mut self,
        peer: &PeerId,
        paths: &[PathBuf],
    ) -> Result<Vec<String>> {
        let files = expand_dropped(paths);
        if files.is_empty() {
            return Err(Error::Invalid("nothing to send there".into()));
        }
        let mut entries = Vec::with_capacity(files.len());
        let mut ids = Vec::with_capacity(files.len());
        let mut seen = std::collections::HashSet::new();
        for entry in self.profile.outbox_queue_many(peer, files)? {
            // A path given twice is one queued file, sent once.
            if !seen.insert(entry.transfer_id.clone()) {
                continue;
            }
            ids.push(entry.transfer_id.clone());
            if !self.outbox.is_active(&entry.transfer_id) {
                entries.push(entry);
            }
        }
        if let Err(e) = self.offer_queued(peer, &entries).await {
            // Never offered: not queued either (the user sees the error).
            for entry in entries.iter().filter(|e| e.attempts == 0) {
                let _ = self.profile.outbox_remove(&entry.transfer_id);
            }
            return Err(e);
        }
        Ok(ids)
    }

    /// Hands `entries` to the call or a data session with `peer`.
    async fn offer_queued(&mut self, peer: &PeerId, entries: &[OutboxEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // One command for them all: the call's command queue is bounded, and
        // the call may be waiting for us to take its events meanwhile.
        let files = entries
            .iter()
            .map(|e| FileToSend {
                path: e.path.clone(),
                name: e.name.clone(),
                to: Some(peer.clone()),
                transfer_id: Some(e.transfer_id.clone()),
                batch: e.batch.clone(),
            })
            .collect();
        let commands = vec![CallCommand::SendFiles(files)];
        let call_id = self.send_to_peer(peer, commands).await?;
        for e in entries {
            self.outbox.started(&e.transfer_id, &call_id);
        }
        Ok(())
    }

    /// Offers again what is queued for `peer` and not on its way (all of it,
    /// or only the transfer ids in `only`), when `peer` is online. A queued
    /// file that is no longer on our disk, or that failed [`MAX_ATTEMPTS`]
    /// times, is reported failed and taken out of the queue.
    pub(super) async fn resume_outbox(&mut self, peer: &PeerId, only: Option<&[String]>) {
        if self.presence.online(peer) != Some(true) {
            return;
        }
        let queued = match self.profile.outbox(Some(peer)) {
            Ok(q) => q,
            Err(e) => return tracing::warn!("reading the queue of files to send: {e}"),
        };
        let only: Option<std::collections::HashSet<&str>> =
            only.map(|ids| ids.iter().map(String::as_str).collect());
        let mut ready = Vec::new();
        for e in queued {
            let wanted = only
                .as_ref()
                .is_none_or(|ids| ids.contains(e.transfer_id.as_str()));
            if !wanted || self.outbox.is_active(&e.transfer_id) {
                continue;
            }
            let there = std::fs::symlink_metadata(&e.path).is_ok_and(|m| m.is_file() || m.is_dir());
            if !there {
                let why = format!("{} is no longer there", e.path.display());
                self.give_up(&e, why).await;
            } else if e.attempts >= MAX_ATTEMPTS {
                let why = format!("gave up after {} attempts", e.attempts);
                self.give_up(&e, why).await;
            } else {
                ready.push(e);
            }
        }
        if ready.is_empty() {
            return;
        }
        tracing::info!(%peer, files = ready.len(), "offering queued files again");
        if let Err(err) = self.offer_queued(peer, &ready).await {
            tracing::info!(%peer, "queued files wait: {err}");
            let now = Instant::now();
            for e in &ready {
                self.outbox
                    .retry_later(&e.transfer_id, now, retry_delay(e.attempts.max(1)));
            }
        }
    }

    /// Offers again the queued files whose wait is over (their contacts still
    /// online; the others go when their contact comes back).
    pub(super) async fn retry_due(&mut self) {
        let due = self.outbox.take_due(Instant::now());
        let due_set: std::collections::HashSet<&str> = due.iter().map(String::as_str).collect();
        let queued = self.profile.outbox(None).unwrap_or_default();
        let mut peers: Vec<PeerId> = Vec::new();
        for e in queued {
            if due_set.contains(e.transfer_id.as_str()) && !peers.contains(&e.peer) {
                peers.push(e.peer);
            }
        }
        for peer in peers {
            self.resume_outbox(&peer, Some(&due)).await;
        }
    }

    /// Takes the file `transfer_id` out of the queue while it waits (no call or
    /// session carries it) and reports it cancelled; `false` if it is not queued.
    pub(super) async fn cancel_queued(&mut self, transfer_id: &str) -> bool {
        let queued = self.profile.outbox(None).unwrap_or_default();
        let Some(e) = queued.into_iter().find(|e| e.transfer_id == transfer_id) else {
            return false;
        };
        tracing::info!(%transfer_id, "queued file cancelled by the user");
        self.end_queued(&e, TransferOutcome::Cancelled, "cancelled".into())
            .await;
        true
    }

    /// Cancels every queued file of the dropped folder `batch_id` (those on
    /// their way through the call or session carrying them, the others out of
    /// the queue at once); `false` if none is queued.
    pub(super) async fn cancel_batch(&mut self, batch_id: &str) -> bool {
        let queued = self.profile.outbox(None).unwrap_or_default();
        let files: Vec<OutboxEntry> = queued
            .into_iter()
            .filter(|e| e.batch.as_ref().is_some_and(|b| b.id == batch_id))
            .collect();
        if files.is_empty() {
            return false;
        }
        tracing::info!(
            batch = batch_id,
            files = files.len(),
            "folder cancelled by the user"
        );
        // Those on their way: one command for the whole folder (the call's
        // command queue is bounded, and the call may be waiting for us to
        // take its events meanwhile).
        let mut carried = false;
        for e in &files {
            carried |= self.outbox.cancel_sent(&e.transfer_id);
        }
        if carried {
            let command = TransferCommand::Cancel {
                transfer_id: batch_id.to_owned(),
            };
            if let Some(a) = &self.call {
                let _ = a.call.command(CallCommand::Transfer(command.clone())).await;
            }
            self.sessions
                .broadcast(|| CallCommand::Transfer(command.clone()))
                .await;
        }
        let waiting: Vec<OutboxEntry> = files
            .into_iter()
            .filter(|e| !self.outbox.is_active(&e.transfer_id))
            .collect();
        for e in &waiting {
            self.end_queued(e, TransferOutcome::Cancelled, "cancelled".into())
                .await;
        }
        true
    }

    /// Takes `e` out of the queue and says why it will not be sent.
    async fn give_up(&mut self, e: &OutboxEntry, reason: String) {
        tracing::info!(transfer_id = %e.transfer_id, %reason, "queued file given up");
        self.end_queued(e, TransferOutcome::Failed, reason).await;
    }

    /// Takes `e` out of the queue and reports it ended with `outcome`.
    async fn end_queued(&mut self, e: &OutboxEntry, outcome: TransferOutcome, reason: String) {
        let _ = self.profile.outbox_remove(&e.transfer_id);
        self.outbox.finished(&e.transfer_id);
        let name = e.name.clone().unwrap_or_else(|| {
            e.path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        });
        let event = TransferEvent::Failed {
            transfer_id: e.transfer_id.clone(),
            name,
            bytes_total: std::fs::metadata(&e.path).map_or(0, |m| m.len()),
            outcome,
            reason,
            direction: TransferDirection::Sending,
            batch: e.batch.clone(),
        };
        let peer = e.peer.clone();
        self.emit(ClientEvent::Transfer { peer, event }).await;
    }

    /// Keeps the queue in step with a transfer event: a file that arrived, or
    /// that a user declined or cancelled, leaves it; one that failed otherwise
    /// waits for its next attempt. Returns the event to report: the same, or
    /// for a file that stays queued, [`TransferEvent::Queued`] in place of
    /// its `Failed` (the user sees it waiting, not failed).
    pub(super) fn note_transfer(&mut self, event: TransferEvent) -> TransferEvent {
        let (transfer_id, failed) = match &event {
            TransferEvent::Completed {
                transfer_id,
                direction: TransferDirection::Sending,
                ..
            } => (transfer_id.clone(), None),
            TransferEvent::Failed {
                transfer_id,
                outcome,
                direction: TransferDirection::Sending,
                ..
            } => (transfer_id.clone(), Some(*outcome)),
            _ => return event,
        };
        let mut keep = failed == Some(TransferOutcome::Failed);
        let mut event = event;
        if keep && self.outbox.is_cancelling(&transfer_id) {
            // It failed before the user's cancel reached it (its connection
            // closed first): cancelled all the same, not tried again.
            keep = false;
            if let TransferEvent::Failed {
                outcome, reason, ..
            } = &mut event
            {
                *outcome = TransferOutcome::Cancelled;
                *reason = "cancelled".into();
            }
        }
        if !keep {
            match self.profile.outbox_remove(&transfer_id) {
                Ok(_) => self.outbox.finished(&transfer_id),
                Err(e) => tracing::warn!(%transfer_id, "taking a file out of the queue: {e}"),
            }
            return event;
        }
        let now = Instant::now();
        if !self.outbox.is_active(&transfer_id) {
            // Already counted (the session's end reports it once more).
            return match self.outbox.retry_in(&transfer_id, now) {
                Some(wait) => queued(event, Some(wait)),
                None => event,
            };
        }
        match self.profile.outbox_attempted(&transfer_id) {
            Ok(0) => event, // not queued (already taken out)
            Ok(attempts) => {
                let delay = retry_delay(attempts);
                tracing::info!(%transfer_id, attempts, ?delay, "queued file will be offered again");
                self.outbox.retry_later(&transfer_id, now, delay);
                queued(event, Some(delay))
            }
            Err(e) => {
                tracing::warn!(%transfer_id, "counting an attempt: {e}");
                event
            }
        }
    }

    /// The call or session `call_id` ended: queued files it still carried wait
    /// for their next attempt, but those the user cancelled meanwhile leave the
    /// queue, reported cancelled.
    pub(super) async fn note_call_ended(&mut self, call_id: &str) {
        let cancelled = self
            .outbox
            .call_ended(call_id, Instant::now(), retry_delay(1));
        if cancelled.is_empty() {
            return;
        }
        let queued = self.profile.outbox(None).unwrap_or_default();
        for e in queued.iter().filter(|e| cancelled.contains(&e.transfer_id)) {
            tracing::info!(transfer_id = %e.transfer_id, "cancelled while its call ended");
            self.end_queued(e, TransferOutcome::Cancelled, "cancelled".into())
                .await;
        }
    }
}

/// The [`TransferEvent::Queued`] that stands for `failed` (a `Failed` event)
/// of a file that stays queued, its next attempt due after `wait`.
fn queued(failed: TransferEvent, wait: Option<std::time::Duration>) -> TransferEvent {
    match failed {
        TransferEvent::Failed {
            transfer_id,
            name,
            bytes_total,
            reason,
            ..
        } => TransferEvent::Queued {
            transfer_id,
            name,
            bytes_total,
            reason,
            retry_in_ms: wait.map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX)),
        },
        other => other,
    }
}
