//! Dropped folders (batches) as the UI shows them: one transfer per folder,
//! with the folder's progress (files and bytes done, speed, the file moving
//! now), from the events of its files (docs/ui-api.md `Transfer`).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use parley_engine::storage::{OutboxEntry, ReceivedFolderFile};
use parley_engine::transfer::{Batch, TransferDirection, TransferEvent, TransferOutcome};
use parley_proto::PeerId;

use crate::transfers::{dir, now_ms, TransferView};

/// Where one file of a folder stands.
#[derive(Debug, Clone, PartialEq)]
enum File {
    /// Offered to our user, waiting for their answer.
    Asked,
    /// Offered or moving: bytes done, of its size.
    Running(u64, u64),
    /// Queued to be offered again: why the last attempt did not get there.
    Waiting(String),
    /// Arrived: its size, bytes.
    Completed(u64),
    /// Declined, cancelled or failed, and why.
    Ended(TransferOutcome, String),
}

/// One folder: what it is and where each of its files stands.
#[derive(Debug)]
struct Folder {
    batch: Batch,
    peer: PeerId,
    direction: TransferDirection,
    files: HashMap<String, File>,
    /// Its files that ended before these events (an earlier session).
    ended_before: u64,
    /// Where it is saved (receiving), once a file of it arrived.
    path: Option<String>,
    /// The file that moved last, as shown.
    current: Option<String>,
    started_at_ms: u64,
    /// When bytes began to move, and how many were done then.
    started: Option<(Instant, u64)>,
    finished_at_ms: Option<u64>,
}

/// The folders being sent and received, and which folder each file is in.
#[derive(Debug, Default)]
pub struct Batches {
    folders: HashMap<String, Folder>,
    /// Folder (batch id) of each file (transfer id) seen in one.
    member_of: HashMap<String, String>,
}

impl Batches {
    /// Folders still queued to send at start (`waiting`), from the queue in
    /// the profile; returns their views. Files of a folder no longer queued
    /// arrived or ended in an earlier session.
    pub fn add_queued(&mut self, queued: &[OutboxEntry]) -> Vec<TransferView> {
        let mut ids = Vec::new();
        for e in queued {
            let Some(batch) = &e.batch else { continue };
            let folder = self.folders.entry(batch.id.clone()).or_insert_with(|| {
                ids.push(batch.id.clone());
                new_folder(batch.clone(), e.peer.clone(), TransferDirection::Sending)
            });
            let why = "waiting for the contact".to_owned();
            folder
                .files
                .insert(e.transfer_id.clone(), File::Waiting(why));
            self.member_of
                .insert(e.transfer_id.clone(), batch.id.clone());
        }
        ids.iter()
            .filter_map(|id| {
                let f = self.folders.get_mut(id)?;
                f.ended_before = f.batch.files.saturating_sub(f.files.len() as u64);
                Some(view(f, id))
            })
            .collect()
    }

    /// Folders being received whose files arrived in an earlier session
    /// (kept in the profile): each counts those files, so a folder that goes
    /// on after the app restarted ends when the rest arrives. Nothing is shown
    /// for them until a file of theirs moves again.
    pub fn add_received(&mut self, received: &[ReceivedFolderFile]) {
        for f in received {
            let folder = self.folders.entry(f.batch.id.clone()).or_insert_with(|| {
                new_folder(
                    f.batch.clone(),
                    f.peer.clone(),
                    TransferDirection::Receiving,
                )
            });
            if folder.path.is_none() {
                folder.path = folder_path(&f.path, &f.name);
            }
            folder
                .files
                .insert(f.transfer_id.clone(), File::Completed(f.bytes));
            self.member_of
                .insert(f.transfer_id.clone(), f.batch.id.clone());
        }
    }

    /// The folder we receive that the file `transfer_id` is in, and who
    /// sends it.
    pub fn receiving_folder_of(&self, transfer_id: &str) -> Option<(&Batch, &PeerId)> {
        let folder = self.folders.get(self.member_of.get(transfer_id)?)?;
        (folder.direction == TransferDirection::Receiving).then_some((&folder.batch, &folder.peer))
    }

    /// Applies `ev` if it concerns a file of a folder: `Some` with the
    /// folder's updated view (`None` when nothing changed, e.g. late progress
    /// of a file that ended); `None` for a file sent on its own.
    pub fn apply(&mut self, peer: &PeerId, ev: &TransferEvent) -> Option<Option<TransferView>> {
        let (transfer_id, batch, direction) = match ev {
            TransferEvent::Incoming(p) | TransferEvent::Offered(p) | TransferEvent::Progress(p) => {
                (&p.transfer_id, p.batch.as_ref(), p.direction)
            }
            TransferEvent::Failed {
                transfer_id,
                batch,
                direction,
                ..
            } => (transfer_id, batch.as_ref(), *direction),
            TransferEvent::Completed { transfer_id, .. }
            | TransferEvent::Queued { transfer_id, .. } => {
                (transfer_id, None, TransferDirection::Sending)
            }
            _ => return None,
        };
        let batch_id = match (batch, self.member_of.get(transfer_id)) {
            (Some(b), _) => {
                self.folders
                    .entry(b.id.clone())
                    .or_insert_with(|| new_folder(b.clone(), peer.clone(), direction));
                self.member_of.insert(transfer_id.clone(), b.id.clone());
                b.id.clone()
            }
            (None, Some(id)) => id.clone(),
            (None, None) => return None,
        };
        let folder = self.folders.get_mut(&batch_id)?;
        Some(update(folder, &batch_id, transfer_id, ev))
    }
}

/// Applies `ev`, about the file `transfer_id` of `folder`; returns the
/// folder's view, or `None` when nothing changed.
fn update(
    folder: &mut Folder,
    batch_id: &str,
    transfer_id: &str,
    ev: &TransferEvent,
) -> Option<TransferView> {
    {
        let file = match ev {
            TransferEvent::Incoming(_) => File::Asked,
            TransferEvent::Offered(p) | TransferEvent::Progress(p) => {
                if matches!(ev, TransferEvent::Progress(_))
                    && matches!(
                        folder.files.get(transfer_id),
                        Some(File::Completed(_) | File::Ended(..))
                    )
                {
                    return None; // late progress of a file that ended
                }
                folder.current = Some(p.name.clone());
                File::Running(p.bytes_done, p.bytes_total)
            }
            TransferEvent::Completed {
                bytes, path, name, ..
            } => {
                if folder.direction == TransferDirection::Receiving && folder.path.is_none() {
                    folder.path = folder_path(path, name);
                }
                File::Completed(*bytes)
            }
            TransferEvent::Failed {
                outcome, reason, ..
            } => File::Ended(*outcome, reason.clone()),
            TransferEvent::Queued { reason, .. } => File::Waiting(reason.clone()),
            _ => return None,
        };
        folder.files.insert(transfer_id.to_owned(), file);
        Some(view(folder, batch_id))
    }
}

fn new_folder(batch: Batch, peer: PeerId, direction: TransferDirection) -> Folder {
    Folder {
        batch,
        peer,
        direction,
        files: HashMap::new(),
        ended_before: 0,
        path: None,
        current: None,
        started_at_ms: now_ms(),
        started: None,
        finished_at_ms: None,
    }
}

/// The received folder's path from one of its files': `path` (where the file
/// was saved) less the parts of `name` below the folder (`trip/deep/a.bin` →
/// two levels up).
fn folder_path(path: &Path, name: &str) -> Option<String> {
    let below = name
        .trim_end_matches('/')
        .split('/')
        .count()
        .saturating_sub(1);
    let mut p = path;
    for _ in 0..below {
        p = p.parent()?;
    }
    Some(p.display().to_string())
}

/// The folder as one transfer.
fn view(f: &mut Folder, batch_id: &str) -> TransferView {
    let (mut done_files, mut ended, mut bytes_done) = (f.ended_before, f.ended_before, 0u64);
    let (mut asked, mut running, mut waiting) = (0, 0, None);
    let mut failure: Option<(TransferOutcome, String)> = None;
    for file in f.files.values() {
        match file {
            File::Asked => asked += 1,
            File::Running(done, _) => {
                running += 1;
                bytes_done += done;
            }
            File::Waiting(why) => waiting = Some(why.clone()),
            File::Completed(bytes) => {
                done_files += 1;
                ended += 1;
                bytes_done += bytes;
            }
            File::Ended(outcome, why) => {
                ended += 1;
                // A cancel says more than a decline, and either more than the
                // failures they cause.
                let rank = |o: &TransferOutcome| match o {
                    TransferOutcome::Cancelled => 2,
                    TransferOutcome::Declined => 1,
                    _ => 0,
                };
                if failure
                    .as_ref()
                    .is_none_or(|(o, _)| rank(outcome) > rank(o))
                {
                    failure = Some((*outcome, why.clone()));
                }
            }
        }
    }
    let idle = asked == 0 && running == 0 && waiting.is_none();
    let ended_as = match &failure {
        None => "completed",
        Some((TransferOutcome::Declined, _)) => "declined",
        Some((TransferOutcome::Cancelled, _)) => "cancelled",
        Some(_) => "failed",
    };
    // A question waiting for the user shows first: its files wait for it.
    let state = if asked > 0 {
        "offered"
    } else if idle
        && (ended >= f.batch.files
            || (failure.is_some() && f.direction == TransferDirection::Receiving))
    {
        // All of it ended; or, receiving, nothing more moves after a failure,
        // a no or a cancel (what is left of the folder is not coming this
        // time; a sender reports an end for every file it had).
        ended_as
    } else if running > 0 {
        "active"
    } else if waiting.is_some() {
        "waiting"
    } else if done_files > f.ended_before {
        "active" // between two files
    } else {
        "offered"
    };
    let all_ended = !matches!(state, "offered" | "active" | "waiting");
    if all_ended {
        f.finished_at_ms.get_or_insert_with(now_ms);
    } else {
        f.finished_at_ms = None;
    }
    let mut bytes_per_sec = 0.0;
    if state == "active" {
        let (started, from) = *f.started.get_or_insert((Instant::now(), bytes_done));
        let secs = started.elapsed().as_secs_f64();
        if secs > 0.05 {
            bytes_per_sec = bytes_done.saturating_sub(from) as f64 / secs;
        }
    }
    let error = match state {
        "failed" | "declined" | "cancelled" => failure.map(|(_, why)| why),
        "waiting" => waiting,
        _ => None,
    };
    TransferView {
        transfer_id: batch_id.to_owned(),
        peer: f.peer.clone(),
        name: f.batch.name.clone(),
        direction: dir(f.direction),
        bytes_done: bytes_done.min(f.batch.size),
        bytes_total: f.batch.size,
        bytes_per_sec,
        state,
        path: f.path.clone(),
        error,
        started_at_ms: f.started_at_ms,
        finished_at_ms: f.finished_at_ms,
        files_done: Some(done_files),
        files_total: Some(f.batch.files),
        current: f.current.clone().filter(|_| state == "active"),
        started: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_engine::transfer::TransferProgress;

    fn peer() -> PeerId {
        PeerId::parse("gTl3Dqh9F19Wo1Rmw0x-zMuNipG07jeiXfYPW4_Js5Q").unwrap()
    }

    fn trip() -> Batch {
        Batch {
            id: "b".repeat(32),
            name: "trip".into(),
            files: 3,
            size: 30,
        }
    }

    fn progress(id: &str, name: &str, done: u64) -> TransferProgress {
        TransferProgress {
            transfer_id: id.into(),
            name: name.into(),
            bytes_done: done,
            bytes_total: 10,
            direction: TransferDirection::Receiving,
            batch: Some(trip()),
        }
    }

    fn completed(id: &str, name: &str) -> TransferEvent {
        TransferEvent::Completed {
            transfer_id: id.into(),
            name: name.into(),
            path: format!("/in/{name}").trim_end_matches('/').into(),
            bytes: 10,
            elapsed_ms: 5,
            direction: TransferDirection::Receiving,
            already_there: false,
        }
    }

    #[test]
    fn a_folder_is_one_transfer_from_the_question_to_the_last_file() {
        let mut b = Batches::default();
        let names = ["trip/a", "trip/deep/b", "trip/c"];
        for (i, name) in names.iter().enumerate() {
            let ev = TransferEvent::Incoming(progress(&i.to_string(), name, 0));
            let v = b.apply(&peer(), &ev).unwrap().unwrap();
            assert_eq!(
                (v.transfer_id.as_str(), v.state),
                ("b".repeat(32).as_str(), "offered")
            );
            assert_eq!(
                (v.files_done, v.files_total, v.bytes_total),
                (Some(0), Some(3), 30)
            );
        }
        // The yes starts them all; the question stands until the last one.
        let mut v = None;
        for (i, name) in names.iter().enumerate() {
            let ev = TransferEvent::Offered(progress(&i.to_string(), name, 0));
            v = b.apply(&peer(), &ev).unwrap();
            let want = if i < 2 { "offered" } else { "active" };
            assert_eq!(v.as_ref().unwrap().state, want);
        }
        drop(v);
        let v = b
            .apply(
                &peer(),
                &TransferEvent::Progress(progress("0", "trip/a", 4)),
            )
            .unwrap()
            .unwrap();
        assert_eq!((v.bytes_done, v.current.as_deref()), (4, Some("trip/a")));
        let v = b
            .apply(&peer(), &completed("1", "trip/deep/b"))
            .unwrap()
            .unwrap();
        assert_eq!(
            v.path.as_deref(),
            Some("/in/trip"),
            "the folder, not the file"
        );
        assert_eq!(
            (v.files_done, v.bytes_done, v.state),
            (Some(1), 14, "active")
        );
        b.apply(&peer(), &completed("0", "trip/a")).unwrap();
        let v = b
            .apply(&peer(), &completed("2", "trip/c"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (v.files_done, v.bytes_done, v.state),
            (Some(3), 30, "completed")
        );
        assert!(v.finished_at_ms.is_some() && crate::transfers::record(&v).is_some());
        // A file on its own is not a folder's.
        let single = TransferEvent::Offered(TransferProgress {
            batch: None,
            ..progress("9", "x", 0)
        });
        assert!(b.apply(&peer(), &single).is_none());
    }

    #[test]
    fn a_folder_received_across_a_restart_counts_what_arrived_before() {
        // The app restarted after file 0 of three arrived; the sender offers
        // the other two again.
        let mut b = Batches::default();
        b.add_received(&[ReceivedFolderFile {
            transfer_id: "0".into(),
            peer: peer(),
            batch: trip(),
            name: "trip/a".into(),
            path: "/in/trip/a".into(),
            bytes: 10,
        }]);
        assert_eq!(b.receiving_folder_of("0").map(|f| f.0), Some(&trip()));
        for (i, name) in [(1, "trip/b"), (2, "trip/c")] {
            b.apply(
                &peer(),
                &TransferEvent::Offered(progress(&i.to_string(), name, 0)),
            );
        }
        let v = b
            .apply(&peer(), &completed("1", "trip/b"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (v.files_done, v.bytes_done, v.state),
            (Some(2), 20, "active")
        );
        let v = b
            .apply(&peer(), &completed("2", "trip/c"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (v.files_done, v.bytes_done, v.state),
            (Some(3), 30, "completed")
        );
        assert_eq!(v.path.as_deref(), Some("/in/trip"));
        // A file whose `complete` was lost comes back "already there": counted once.
        let v = b
            .apply(&peer(), &completed("0", "trip/a"))
            .unwrap()
            .unwrap();
        assert_eq!(v.files_done, Some(3));
    }

    #[test]
    fn a_declined_folder_ends_declined_and_a_queued_one_waits() {
        let mut b = Batches::default();
        for i in 0..3 {
            let ev = TransferEvent::Incoming(progress(&i.to_string(), "trip/x", 0));
            b.apply(&peer(), &ev);
        }
        let mut last = None;
        for i in 0..3 {
            let ev = TransferEvent::Failed {
                transfer_id: i.to_string(),
                name: "trip/x".into(),
                bytes_total: 10,
                outcome: TransferOutcome::Declined,
                reason: "declined".into(),
                direction: TransferDirection::Receiving,
                batch: Some(trip()),
            };
            last = b.apply(&peer(), &ev).unwrap();
            // Declined once nothing of it waits for the user any more.
            let want = if i < 2 { "offered" } else { "declined" };
            assert_eq!(last.as_ref().unwrap().state, want);
        }
        // A later offer refused on that no ends there too: no row of its own.
        let ev = TransferEvent::Failed {
            transfer_id: "9".into(),
            name: "trip/later".into(),
            bytes_total: 10,
            outcome: TransferOutcome::Declined,
            reason: "declined".into(),
            direction: TransferDirection::Receiving,
            batch: Some(trip()),
        };
        assert_eq!(b.apply(&peer(), &ev).unwrap().unwrap().state, "declined");
        let _ = last;

        let mut b = Batches::default();
        let queued: Vec<OutboxEntry> = (0..2)
            .map(|i| OutboxEntry {
                transfer_id: format!("q{i}"),
                peer: peer(),
                path: format!("/src/trip/{i}").into(),
                name: Some(format!("trip/{i}")),
                queued_at_ms: 0,
                attempts: 1,
                batch: Some(trip()),
            })
            .collect();
        let views = b.add_queued(&queued);
        assert_eq!(views.len(), 1);
        let v = &views[0];
        assert_eq!(
            (v.state, v.files_done, v.direction),
            ("waiting", Some(1), "sending")
        );
        let sent = TransferEvent::Completed {
            transfer_id: "q0".into(),
            name: "trip/0".into(),
            path: "/src/trip/0".into(),
            bytes: 10,
            elapsed_ms: 5,
            direction: TransferDirection::Sending,
            already_there: false,
        };
        let v = b.apply(&peer(), &sent).unwrap().unwrap();
        assert_eq!((v.files_done, v.state), (Some(2), "waiting"));
    }
}
