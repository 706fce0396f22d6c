//! The sender's queue in the profile: files the user sent that have not
//! arrived yet, so they are offered again by themselves when the contact is
//! reachable, after either app restarted or the network came back (issue 14).

use std::path::PathBuf;

use parley_proto::data::Batch;
use parley_proto::PeerId;
use rusqlite::params;

use super::{now_ms, Profile};
use crate::Result;

/// One queued file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Transfer id, 32 lowercase hex chars, kept across attempts (the history
    /// and both UIs see one transfer).
    pub transfer_id: String,
    /// Who it goes to.
    pub peer: PeerId,
    /// The file on our disk.
    pub path: PathBuf,
    /// The name it is offered under (`None`: the path's file name).
    pub name: Option<String>,
    /// When the user sent it, ms since the Unix epoch.
    pub queued_at_ms: u64,
    /// How many times it was offered and did not arrive.
    pub attempts: u32,
    /// The dropped folder it belongs to (`None`: sent on its own).
    pub batch: Option<Batch>,
}

/// A file to queue: where it is, the name to offer it under (`None`: its own
/// file name) and the dropped folder it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToQueue {
    /// The file (or empty folder) on our disk.
    pub path: PathBuf,
    /// The name to offer it under.
    pub name: Option<String>,
    /// Its dropped folder.
    pub batch: Option<Batch>,
    /// Its size, bytes (0 for an empty folder): what its folder's
    /// [`Batch::size`] counts for it.
    pub size: u64,
}

fn batch_json(batch: Option<&Batch>) -> Option<String> {
    batch.and_then(|b| serde_json::to_string(b).ok())
}

/// Per dropped folder (batch id), how many of `files` and how many of their
/// bytes are queued already (in `queued`, or earlier in `files`), so stay
/// with the folder they were queued with.
fn already_queued_by_folder(
    queued: &std::collections::HashMap<PathBuf, OutboxEntry>,
    files: &[ToQueue],
) -> std::collections::HashMap<String, (u64, u64)> {
    let mut seen: std::collections::HashSet<&PathBuf> = queued.keys().collect();
    let mut out = std::collections::HashMap::<String, (u64, u64)>::new();
    for f in files {
        if seen.insert(&f.path) {
            continue;
        }
        if let Some(b) = &f.batch {
            let e = out.entry(b.id.clone()).or_default();
            e.0 += 1;
            e.1 += f.size;
        }
    }
    out
}

impl Profile {
    /// Queues `entry` (replacing a row with the same transfer id).
    ///
    /// Errors: [`crate::Error::Storage`].
    pub fn outbox_add(&self, entry: &OutboxEntry) -> Result<()> {
        self.db().execute(
            "INSERT OR REPLACE INTO outbox (transfer_id, peer, path, name, queued_at_ms, attempts, batch)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                entry.transfer_id,
                entry.peer.as_str(),
                entry.path.to_string_lossy(),
                entry.name,
                i64::try_from(entry.queued_at_ms).unwrap_or(i64::MAX),
                entry.attempts,
                batch_json(entry.batch.as_ref()),
            ],
        )?;
        Ok(())
    }

    /// Queues `path` for `peer`, offered as `name` (`None`: its own file
    /// name), under a new transfer id, unless the same path is already queued
    /// for them (then that entry is returned).
    ///
    /// Errors: [`crate::Error::Storage`].
    pub fn outbox_queue(
        &self,
        peer: &PeerId,
        path: PathBuf,
        name: Option<String>,
    ) -> Result<OutboxEntry> {
        let file = ToQueue {
            path,
            name,
            batch: None,
            size: 0,
        };
        let mut one = self.outbox_queue_many(peer, vec![file])?;
        Ok(one.pop().expect("one file in, one entry out"))
    }

    /// [`outbox_queue`](Self::outbox_queue) for many files at once, in one
    /// transaction (a dropped folder of 10,000 files reads the queue once and
    /// commits once). Returns their entries in the order given.
    ///
    /// A file already queued keeps its entry and its folder (a send of it may
    /// be under way, naming that folder); a folder dropped again counts only
    /// its files not queued before ([`Batch::files`] and [`Batch::size`] of
    /// the new entries leave the others out).
    ///
    /// Errors: [`crate::Error::Storage`] (nothing is queued then).
    pub fn outbox_queue_many(
        &self,
        peer: &PeerId,
        files: Vec<ToQueue>,
    ) -> Result<Vec<OutboxEntry>> {
        let mut queued: std::collections::HashMap<PathBuf, OutboxEntry> = self
            .outbox(Some(peer))?
            .into_iter()
            .map(|e| (e.path.clone(), e))
            .collect();
        let counted_elsewhere = already_queued_by_folder(&queued, &files);
        let mut db = self.db();
        let tx = db.transaction()?;
        let mut out = Vec::with_capacity(files.len());
        {
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO outbox (transfer_id, peer, path, name, queued_at_ms, attempts, batch)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
            )?;
            for ToQueue {
                path,
                name,
                mut batch,
                ..
            } in files
            {
                if let Some(e) = queued.get(&path) {
                    out.push(e.clone());
                    continue;
                }
                if let Some(b) = batch.as_mut() {
                    if let Some((n, bytes)) = counted_elsewhere.get(&b.id) {
                        b.files = b.files.saturating_sub(*n);
                        b.size = b.size.saturating_sub(*bytes);
                    }
                }
                let id: [u8; 16] = rand::random();
                let entry = OutboxEntry {
                    transfer_id: parley_proto::data::transfer_id_to_hex(&id),
                    peer: peer.clone(),
                    path,
                    name,
                    queued_at_ms: now_ms(),
                    attempts: 0,
                    batch,
                };
                insert.execute(params![
                    entry.transfer_id,
                    entry.peer.as_str(),
                    entry.path.to_string_lossy(),
                    entry.name,
                    i64::try_from(entry.queued_at_ms).unwrap_or(i64::MAX),
                    batch_json(entry.batch.as_ref()),
                ])?;
                queued.insert(entry.path.clone(), entry.clone());
                out.push(entry);
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Removes a queued file (it arrived, or was declined or cancelled);
    /// `false` if it was not queued.
    ///
    /// Errors: [`crate::Error::Storage`].
    pub fn outbox_remove(&self, transfer_id: &str) -> Result<bool> {
        let n = self
            .db()
            .execute("DELETE FROM outbox WHERE transfer_id = ?1", [transfer_id])?;
        Ok(n > 0)
    }

    /// Counts one more attempt that did not arrive; returns the new count (0
    /// when not queued).
    ///
    /// Errors: [`crate::Error::Storage`].
    pub fn outbox_attempted(&self, transfer_id: &str) -> Result<u32> {
        let db = self.db();
        db.execute(
            "UPDATE outbox SET attempts = attempts + 1 WHERE transfer_id = ?1",
            [transfer_id],
        )?;
        let n = db
            .query_row(
                "SELECT attempts FROM outbox WHERE transfer_id = ?1",
                [transfer_id],
                |row| row.get::<_, u32>(0),
            )
            .unwrap_or(0);
        Ok(n)
    }

    /// The queued files for `peer` (all of them for `None`), oldest first.
    /// Rows this build cannot read (a bad peer id) are skipped.
    ///
    /// Errors: [`crate::Error::Storage`].
    pub fn outbox(&self, peer: Option<&PeerId>) -> Result<Vec<OutboxEntry>> {
        let db = self.db();
        let mut stmt = db.prepare(
            "SELECT transfer_id, peer, path, name, queued_at_ms, attempts, batch FROM outbox
             WHERE ?1 IS NULL OR peer = ?1 ORDER BY queued_at_ms, rowid",
        )?;
        let rows = stmt.query_map(params![peer.map(|p| p.as_str())], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, u32>(5)?,
                row.get::<_, Option<String>>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (transfer_id, peer, path, name, queued_at_ms, attempts, batch) = row?;
            // A batch this build cannot read: the file goes on its own.
            let batch = batch.and_then(|b| serde_json::from_str(&b).ok());
            let Ok(peer) = PeerId::parse(&peer) else {
                tracing::warn!(%transfer_id, "skipping a queued file this build cannot read");
                continue;
            };
            out.push(OutboxEntry {
                transfer_id,
                peer,
                path: PathBuf::from(path),
                name,
                queued_at_ms: queued_at_ms.max(0) as u64,
                attempts,
                batch,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    fn peer(seed: u8) -> PeerId {
        PeerId::from_public_key(&SigningKey::from_bytes(&[seed; 32]).verifying_key())
    }

    #[test]
    fn the_queue_survives_reopening_and_keeps_one_entry_per_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::open(dir.path()).unwrap();
        let a = p
            .outbox_queue(&peer(2), "/data/a.bin".into(), None)
            .unwrap();
        let b = p
            .outbox_queue(&peer(3), "/data/b.bin".into(), Some("d/b.bin".into()))
            .unwrap();
        assert_eq!(a.transfer_id.len(), 32);
        assert_ne!(a.transfer_id, b.transfer_id);
        // The same file for the same contact again: the entry already queued.
        assert_eq!(
            p.outbox_queue(&peer(2), "/data/a.bin".into(), None)
                .unwrap(),
            a
        );
        assert_eq!(p.outbox_attempted(&a.transfer_id).unwrap(), 1);
        assert_eq!(p.outbox_attempted(&a.transfer_id).unwrap(), 2);
        drop(p);
        let p = Profile::open(dir.path()).unwrap();
        let mine = p.outbox(Some(&peer(2))).unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].attempts, 2);
        assert_eq!(mine[0].path, PathBuf::from("/data/a.bin"));
        assert_eq!(p.outbox(None).unwrap().len(), 2);
        assert!(p.outbox_remove(&a.transfer_id).unwrap());
        assert!(!p.outbox_remove(&a.transfer_id).unwrap());
        assert_eq!(p.outbox(None).unwrap(), [b]);
        assert_eq!(p.outbox_attempted("0".repeat(32).as_str()).unwrap(), 0);
    }

    #[test]
    fn a_queued_file_keeps_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::open(dir.path()).unwrap();
        let batch = Batch {
            id: "cd".repeat(16),
            name: "trip".into(),
            files: 2,
            size: 10,
        };
        let file = |n: &str, batch: &Batch| ToQueue {
            path: format!("/data/trip/{n}").into(),
            name: Some(format!("trip/{n}")),
            batch: Some(batch.clone()),
            size: 5,
        };
        let files = ["a", "b"].map(|n| file(n, &batch));
        let queued = p.outbox_queue_many(&peer(2), files.to_vec()).unwrap();
        drop(p);
        let p = Profile::open(dir.path()).unwrap();
        let read = p.outbox(None).unwrap();
        assert_eq!(read, queued);
        assert!(read.iter().all(|e| e.batch.as_ref() == Some(&batch)));

        // The folder dropped again with one more file: a and b keep their
        // folder (a send of them may be under way); the new one counts c only.
        let again = Batch {
            id: "ef".repeat(16),
            files: 3,
            size: 15,
            ..batch.clone()
        };
        let files = ["a", "b", "c"].map(|n| file(n, &again));
        let entries = p.outbox_queue_many(&peer(2), files.to_vec()).unwrap();
        assert_eq!(entries[..2], queued[..]);
        let only_c = Batch {
            files: 1,
            size: 5,
            ..again
        };
        assert_eq!(entries[2].batch.as_ref(), Some(&only_c));
        drop(p);
        let p = Profile::open(dir.path()).unwrap();
        let read = p.outbox(None).unwrap();
        assert_eq!(read[..2], queued[..]);
        assert_eq!(read[2].batch.as_ref(), Some(&only_c));
    }
}
