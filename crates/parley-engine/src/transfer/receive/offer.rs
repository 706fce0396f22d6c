//! Offers as they come: checked, declined, held for the user, made (an empty
//! folder), answered with `have` when something of the file is here already
//! and taken on from the sender's `resume` (docs/protocol.md §8.3), or
//! accepted.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parley_proto::data::{transfer_id_from_hex, TransferFrame, FILE_PROTOCOL_VERSION};
use parley_proto::file_hash::to_hex;

use super::checks::{may_hold, probe, room_for};
use super::end::Failing;
use super::later::{Hashing, LaterKind, Probed, Probing};
use super::{batch, Offer, RawOffer, ReceiveSession, Resume, MAX_CONCURRENT_RECEIVES};
use crate::transfer::disk::{make_folders, Held, Probe};
use crate::transfer::lease::PartLease;
use crate::transfer::name::sanitize_relative_name;
use crate::transfer::{emit, TransferDirection, TransferError, TransferEvent, TransferOutcome};

/// How long an offer waits for a stopped probe of the same part to let go
/// of its lease before it is taken on without probing.
const LEASE_WAIT: Duration = Duration::from_secs(5);

/// The part lease a probe hashes under.
enum ProbeLease {
    /// Taken already.
    Held(PartLease),
    /// Held by a probe the sender stopped: waited for, up to [`LEASE_WAIT`].
    After(PathBuf),
}

impl ReceiveSession {
    pub(super) async fn on_offer(&mut self, raw: RawOffer) -> Vec<TransferFrame> {
        let RawOffer {
            transfer_id,
            name: raw_name,
            size,
            version,
            batch,
        } = raw;
        let decline = |reason: String| {
            vec![TransferFrame::Decline {
                transfer_id: transfer_id.clone(),
                reason,
            }]
        };
        if let Some(id) = self.active_id(&transfer_id) {
            tracing::debug!(%transfer_id, "duplicate offer ignored");
            let offset = self.active[&id].received;
            return vec![TransferFrame::Accept {
                transfer_id,
                offset,
            }];
        }
        if self.is_receiving(&transfer_id) {
            tracing::debug!(%transfer_id, "duplicate offer: still waiting for the user or the disk");
            return Vec::new();
        }
        if self.in_hand() >= MAX_CONCURRENT_RECEIVES {
            return decline(format!(
                "busy: {MAX_CONCURRENT_RECEIVES} transfers are in progress"
            ));
        }
        let Ok(id_bytes) = transfer_id_from_hex(&transfer_id) else {
            return decline("invalid transfer id".into());
        };
        let reason = if self.receive_dir.is_none() {
            Some("not accepting files".to_owned())
        } else if version != FILE_PROTOCOL_VERSION {
            Some(format!(
                "unsupported file protocol {version}: this receiver speaks version \
                 {FILE_PROTOCOL_VERSION}; update Parley to send it files"
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            let offer = Failing {
                transfer_id: &transfer_id,
                name: &raw_name,
                bytes_total: size,
                batch: batch.as_ref(),
            };
            let shown = format!("declined: {reason}");
            let frame = self
                .decline(offer, TransferOutcome::Failed, shown, reason)
                .await;
            return vec![frame];
        }
        let rel = match sanitize_relative_name(&raw_name) {
            Ok(rel) => rel,
            Err(e) => return decline(e.to_string()),
        };
        let dir = self.receive_dir.clone().expect("checked above");
        let offer = Offer {
            transfer_id,
            id_bytes,
            name: rel.display(),
            rel,
            size,
            batch,
        };
        if offer.rel.file.is_none() {
            // An empty folder of a folder the user has not answered yet waits
            // for the answer with the rest of it, unless it is here already.
            let here = std::fs::symlink_metadata(offer.dir(&dir)).is_ok_and(|m| m.is_dir());
            let undecided = offer.batch.as_ref().map(|_| batch::decided(&offer));
            return match undecided {
                Some(None) if self.ask && !here => self.ask_user(offer).await,
                Some(Some(false)) if !here => vec![self.refuse(offer).await],
                _ => self.on_folder(offer, dir).await,
            };
        }
        // What we hold of it is read under the part's lease: nothing writes
        // the part meanwhile (and a part being written is not probed).
        let part = PartLease::part_path(&offer.dir(&dir), &offer.leaf());
        let Some(lease) = PartLease::take(&part) else {
            // A probe of the same part that the sender stopped (it cancelled
            // and offered the file again) lets go of it in a moment: this
            // offer's probe starts then, rather than the offer being declined
            // as busy.
            let stopped = |h: &&Hashing| h.stopped() && PartLease::same_part(&h.part, &part);
            if self.hashing.iter().any(|h| stopped(&h)) {
                self.spawn_probe(offer, dir, ProbeLease::After(part), true);
                return Vec::new();
            }
            return self.consider(offer, dir, None).await;
        };
        if !may_hold(&dir, &offer).await {
            drop(lease); // `start` takes it again
            return self.consider(offer, dir, None).await;
        }
        self.spawn_probe(offer, dir, ProbeLease::Held(lease), true);
        Vec::new()
    }

    /// Hashes what the receive folder `dir` holds of `offer` (a file of its
    /// name and size first if `file_first`, else only a kept part) in a task
    /// of its own, holding `lease` meanwhile: that may take seconds (gigabytes
    /// of a kept part), and other transfers on the channel go on; at most
    /// [`MAX_CONCURRENT_PROBES`](super::MAX_CONCURRENT_PROBES) hash at once. The answer comes from
    /// [`later`](Self::later), then [`on_probed`](Self::on_probed).
    fn spawn_probe(&mut self, offer: Offer, dir: PathBuf, lease: ProbeLease, file_first: bool) {
        let stop = Arc::new(AtomicBool::new(false));
        self.hashing.push(Hashing {
            transfer_id: offer.transfer_id.clone(),
            name: offer.name.clone(),
            size: offer.size,
            batch: offer.batch.clone(),
            part: PartLease::part_path(&offer.dir(&dir), &offer.leaf()),
            stop: Arc::clone(&stop),
        });
        let later = self.later_tx.clone();
        let slots = Arc::clone(&self.probe_slots);
        tokio::spawn(async move {
            let lease = match lease {
                ProbeLease::Held(lease) => Some(lease),
                ProbeLease::After(part) => {
                    match PartLease::take_within(&part, LEASE_WAIT).await {
                        Some(lease) if may_hold(&dir, &offer).await => Some(lease),
                        // Nothing to probe: `start` takes the lease again.
                        _ => None,
                    }
                }
            };
            // A probe the sender stopped lets go of the lease at once rather
            // than after its turn (a re-offer of the file may be waiting).
            let stopped = || stop.load(Ordering::Relaxed);
            let mut lease = lease.filter(|_| !stopped());
            // Waits its turn (MAX_CONCURRENT_PROBES at once); the
            // semaphore is never closed.
            let slot = slots.acquire_owned().await;
            if stopped() {
                lease = None;
            }
            let found = match lease {
                Some(_) => probe(&dir, &offer, file_first, Arc::clone(&stop)).await,
                None => None,
            };
            drop(slot);
            let probed = Probed {
                offer,
                dir,
                lease,
                found,
                stop,
            };
            let _ = later.send(LaterKind::Probed(Box::new(probed)));
        });
    }

    /// Answers an offer once what the receive folder holds of it is hashed:
    /// `complete` for an empty file that is here, `have` for a file or a kept
    /// part (the sender's `resume` follows), or on as any other offer when
    /// nothing usable is here. Nothing if the sender cancelled meanwhile or
    /// the channel closed (the part's lease is released then).
    pub(super) async fn on_probed(&mut self, probed: Probed) -> Vec<TransferFrame> {
        let Probed {
            offer,
            dir,
            lease,
            found,
            stop,
        } = probed;
        let at = self
            .hashing
            .iter()
            .position(|h| Arc::ptr_eq(&h.stop, &stop));
        let Some(at) = at else {
            return Vec::new();
        };
        if self.hashing.remove(at).stopped() {
            return Vec::new();
        }
        // A probe finds something only under the lease.
        match (found, lease) {
            (
                Some(Probe {
                    held: Held::File(path),
                    ..
                }),
                _,
            ) if offer.size == 0 => self.already_here(offer, path).await,
            (Some(probe), Some(lease)) => self.have(offer, probe, lease, dir),
            (_, lease) => {
                drop(lease); // `start` takes it again
                self.consider(offer, dir, None).await
            }
        }
    }

    /// Answers `offer` with `have` (what `probe` found of it) and holds it
    /// until the sender's `resume`.
    fn have(
        &mut self,
        offer: Offer,
        probe: Probe,
        lease: PartLease,
        dir: PathBuf,
    ) -> Vec<TransferFrame> {
        let offset = probe.hasher.position();
        let digest = probe.hasher.digest().expect("whole blocks hashed");
        tracing::debug!(transfer_id = %offer.transfer_id, offset, "offered file partly or wholly here: `have`");
        let frame = TransferFrame::Have {
            transfer_id: offer.transfer_id.clone(),
            offset,
            blake3: to_hex(&digest),
        };
        self.probing.push(Probing {
            offer,
            probe,
            lease,
            dir,
        });
        vec![frame]
    }

    /// The sender's `resume` of an offer we answered with `have`: the file is
    /// here already (complete), or its kept part goes on without asking again
    /// (the user said yes to it before), or, at offset 0, the offer is taken
    /// like any other (after a `have` of its kept part, if a different file
    /// of its name and size was what we offered first).
    pub(super) async fn on_resume(
        &mut self,
        transfer_id: String,
        offset: u64,
    ) -> Vec<TransferFrame> {
        let Some(at) = self
            .probing
            .iter()
            .position(|p| p.offer.transfer_id == transfer_id)
        else {
            tracing::debug!(%transfer_id, "`resume` for no offer we asked about");
            return Vec::new();
        };
        let Probing {
            offer,
            probe: held,
            lease,
            dir: held_in,
        } = self.probing.remove(at);
        let Some(dir) = self.receive_dir.clone() else {
            drop(lease);
            return vec![self.start(offer, None).await];
        };
        let position = held.hasher.position();
        if offset != 0 && offset != position {
            let err = TransferError::BadOffset {
                expected: position,
                got: offset,
            };
            let (shown, reason) = (err.to_string(), err.to_string());
            let frame = self
                .decline(offer.failing(), TransferOutcome::Failed, shown, reason)
                .await;
            return vec![frame];
        }
        if dir != held_in {
            // The receive folder changed since the `have`: what we hold is in
            // the old one. The file is taken as an offer of which nothing is
            // here, in the new folder and under its own part's lease, and
            // never from a part there that nobody checked (a sender takes
            // `accept` at 0 after any `resume`).
            tracing::info!(transfer_id = %offer.transfer_id, "receive folder changed since `have`: starting over");
            drop(lease);
            return self.consider(offer, dir, None).await;
        }
        if offset == 0 {
            if matches!(held.held, Held::File(_)) {
                // Not this file after all; a kept part of it may be here.
                self.spawn_probe(offer, dir, ProbeLease::Held(lease), false);
                return Vec::new();
            }
            drop(lease);
            return self.consider(offer, dir, None).await;
        }
        match held.held {
            Held::File(path) => self.already_here(offer, path).await,
            Held::Part => self.consider(offer, dir, Some((held.hasher, lease))).await,
        }
    }

    /// Reports `offer` as arrived already (a file of its name, size and hash is
    /// at `path`) and answers `complete`: nothing is sent.
    async fn already_here(&mut self, offer: Offer, path: PathBuf) -> Vec<TransferFrame> {
        tracing::info!(transfer_id = %offer.transfer_id, path = %path.display(), "offered file already here");
        if offer.batch.is_some() {
            // So a UI counts it in its folder.
            let progress = offer.progress(offer.size);
            emit(&self.events, TransferEvent::Offered(progress)).await;
        }
        let event = TransferEvent::Completed {
            transfer_id: offer.transfer_id.clone(),
            name: offer.name,
            path,
            bytes: offer.size,
            elapsed_ms: 0,
            direction: TransferDirection::Receiving,
            already_there: true,
        };
        emit(&self.events, event).await;
        vec![TransferFrame::Complete {
            transfer_id: offer.transfer_id,
        }]
    }

    /// Decides on a file offer: declined without room for it (its size less
    /// what `resume` holds) or when its folder was declined, resumed at once
    /// (`resume`: a kept part the sender vouched for, hashed, and its lease),
    /// held for the user in ask mode, else accepted.
    async fn consider(
        &mut self,
        offer: Offer,
        dir: PathBuf,
        resume: Option<Resume>,
    ) -> Vec<TransferFrame> {
        let held = resume.as_ref().map_or(0, |(h, _)| h.position());
        if let Err(err) = room_for(&dir, &offer, held).await {
            tracing::info!(transfer_id = %offer.transfer_id, name = %offer.name, error = %err, "offer declined");
            let (shown, reason) = (err.to_string(), err.to_string());
            let frame = self
                .decline(offer.failing(), err.outcome(), shown, reason)
                .await;
            return vec![frame];
        }
        // A folder the user answered already: no need to ask again (and a
        // folder they declined or cancelled stays refused).
        let answer = batch::decided(&offer);
        if answer == Some(false) {
            return vec![self.refuse(offer).await];
        }
        // A file whose part we kept was accepted by our user before: it
        // resumes without asking again.
        if self.ask && answer.is_none() && resume.is_none() {
            return self.ask_user(offer).await;
        }
        vec![self.start(offer, resume).await]
    }

    /// Holds `offer` until the user answers, and asks them
    /// ([`TransferEvent::Incoming`]; a UI shows the offers of one batch as one
    /// question).
    async fn ask_user(&mut self, offer: Offer) -> Vec<TransferFrame> {
        if let Some(b) = &offer.batch {
            batch::seen(b);
        }
        tracing::info!(transfer_id = %offer.transfer_id, name = %offer.name, size = offer.size, "file offered; asking the user");
        let progress = offer.progress(0);
        self.pending.push(offer);
        emit(&self.events, TransferEvent::Incoming(progress)).await;
        Vec::new()
    }

    /// Accepts `offer`, a file or an empty folder.
    pub(super) async fn take(&mut self, offer: Offer) -> Vec<TransferFrame> {
        match (&offer.rel.file, self.receive_dir.clone()) {
            (None, Some(dir)) => self.on_folder(offer, dir).await,
            _ => vec![self.start(offer, None).await],
        }
    }

    /// An offer of a folder on its own (an empty folder of a dropped folder,
    /// its name ending with `/`): made at once, without asking (it holds
    /// nothing), and answered `complete`; `decline` if it cannot be made.
    async fn on_folder(&mut self, offer: Offer, root: PathBuf) -> Vec<TransferFrame> {
        if offer.batch.is_some() {
            // So a UI counts it in its folder.
            emit(&self.events, TransferEvent::Offered(offer.progress(0))).await;
        }
        let Offer {
            transfer_id,
            rel,
            size,
            batch,
            ..
        } = offer;
        let name = rel.display();
        let existed = std::fs::symlink_metadata(rel.dir(&root)).is_ok_and(|m| m.is_dir());
        let made = if size != 0 {
            Err(TransferError::Protocol(format!("a folder of {size} bytes")))
        } else {
            tokio::task::spawn_blocking(move || make_folders(&root, &rel.folders))
                .await
                .unwrap_or_else(|e| {
                    Err(TransferError::Protocol(format!("folder task failed: {e}")))
                })
        };
        match made {
            Ok(path) => {
                tracing::info!(%transfer_id, path = %path.display(), "folder received");
                let event = TransferEvent::Completed {
                    transfer_id: transfer_id.clone(),
                    name,
                    path,
                    bytes: 0,
                    elapsed_ms: 0,
                    direction: TransferDirection::Receiving,
                    already_there: existed,
                };
                emit(&self.events, event).await;
                vec![TransferFrame::Complete { transfer_id }]
            }
            Err(e) => {
                let offer = Failing {
                    transfer_id: &transfer_id,
                    name: &name,
                    bytes_total: size,
                    batch: batch.as_ref(),
                };
                let reason = format!("cannot make the folder: {e}");
                vec![
                    self.decline(offer, e.outcome(), e.to_string(), reason)
                        .await,
                ]
            }
        }
    }
}
