//! Starting an accepted transfer: the room for it checked again, its part
//! file's lease taken, its folders and part file made (or a kept part opened
//! to go on from) and its writer thread spawned.

use std::time::Instant;

use parley_proto::data::TransferFrame;
use parley_proto::file_hash::FileHasher;

use super::checks::room_for;
use super::end::Failing;
use super::{Incoming, Offer, ReceiveSession, Resume};
use crate::transfer::disk::{make_folders, prepare_part};
use crate::transfer::lease::PartLease;
use crate::transfer::writer::Writer;
use crate::transfer::{emit, ProgressThrottle, TransferError, TransferEvent, TransferOutcome};

impl ReceiveSession {
    /// Accepts `offer`: opens its temp file (going on after the kept bytes
    /// `resume` hashed, under its lease) and returns `accept`, or `decline` if
    /// the file cannot be saved (or another transfer is writing the same temp
    /// file).
    pub(super) async fn start(&mut self, offer: Offer, resume: Option<Resume>) -> TransferFrame {
        let transfer_id = offer.transfer_id.clone();
        let decline = |reason: String| TransferFrame::Decline {
            transfer_id: transfer_id.clone(),
            reason,
        };
        let Some(dir) = self.receive_dir.clone() else {
            let why = "declined: not accepting files".to_owned();
            self.emit_failed(offer.failing(), TransferOutcome::Failed, why)
                .await;
            return decline("not accepting files".into());
        };
        // Again: the user may have taken a while to answer.
        let held = resume.as_ref().map_or(0, |(h, _)| h.position());
        if let Err(err) = room_for(&dir, &offer, held).await {
            self.emit_failed(offer.failing(), err.outcome(), err.to_string())
                .await;
            return decline(err.to_string());
        }
        let leaf = offer.leaf();
        let (resume, lease) = match resume {
            Some((hasher, lease)) => (Some(hasher), Some(lease)),
            None => (None, None),
        };
        let lease =
            lease.or_else(|| PartLease::take(&PartLease::part_path(&offer.dir(&dir), &leaf)));
        let Some(lease) = lease else {
            tracing::info!(%transfer_id, name = %offer.name, "the same file is being received already");
            let why = "busy: a file of the same name is being received".to_owned();
            self.emit_failed(offer.failing(), TransferOutcome::Failed, why.clone())
                .await;
            return decline(why);
        };
        let Offer {
            id_bytes,
            name,
            rel,
            size,
            batch,
            ..
        } = offer;
        let prepared = tokio::task::spawn_blocking({
            let (root, leaf) = (dir.clone(), leaf.clone());
            let resume = resume.as_ref().map(FileHasher::position);
            move || {
                let dir = make_folders(&root, &rel.folders)?;
                let prepared = prepare_part(&dir, &leaf, size, resume)?;
                Ok::<_, TransferError>((dir, prepared))
            }
        })
        .await;
        let what = Failing {
            transfer_id: &transfer_id,
            name: &name,
            bytes_total: size,
            batch: batch.as_ref(),
        };
        let (dir, (part, sidecar, file, offset)) = match prepared {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                self.emit_failed(what, e.outcome(), e.to_string()).await;
                return decline(format!("cannot save the file: {e}"));
            }
            Err(e) => {
                let why = format!("cannot save the file: {e}");
                self.emit_failed(what, TransferOutcome::Failed, why.clone())
                    .await;
                return decline(why);
            }
        };
        tracing::info!(%transfer_id, %name, size, offset, "receiving a file");
        let hasher = match resume {
            Some(hasher) if offset > 0 && hasher.position() == offset => hasher,
            _ => FileHasher::new(size),
        };
        let writer = Writer::spawn(file, &part, hasher);
        let active = Incoming {
            transfer_id: transfer_id.clone(),
            name,
            leaf,
            size,
            blake3: String::new(),
            dir,
            part,
            sidecar,
            received: offset,
            started: Instant::now(),
            throttle: ProgressThrottle::new(),
            writer,
            lease,
            batch,
        };
        let progress = active.progress();
        self.active.insert(id_bytes, active);
        emit(&self.events, TransferEvent::Offered(progress)).await;
        TransferFrame::Accept {
            transfer_id,
            offset,
        }
    }
}
