//! Files of dropped folders we are receiving that have arrived, kept in the
//! profile until their folder ends, so a folder that goes on after the app
//! restarted still counts what arrived before (the sender offers only the
//! rest again).

use std::path::PathBuf;

use parley_proto::PeerId;
use rusqlite::params;

use super::{now_ms, Profile};
use crate::transfer::Batch;
use crate::Result;

/// How long an unfinished folder's rows are kept, ms (30 days, as kept parts).
pub const FOLDER_FILES_KEPT_MS: u64 = 30 * 24 * 3600 * 1000;

/// One file of a folder being received that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFolderFile {
    /// Its transfer id, 32 lowercase hex chars.
    pub transfer_id: String,
    /// Who sends the folder.
    pub peer: PeerId,
    /// The folder, as its offers said (name sanitised).
    pub batch: Batch,
    /// Its name inside the folder (`trip/deep/a.bin`).
    pub name: String,
    /// Where it was saved.
    pub path: PathBuf,
    /// Its size, bytes.
    pub bytes: u64,
}

impl Profile {
    /// Keeps `file` (replacing a row with the same transfer id).
    ///
    /// Errors: [`crate::Error::Storage`].
    pub fn folder_file_received(&self, file: &ReceivedFolderFile) -> Result<()> {
        self.db().execute(
            "INSERT OR REPLACE INTO folder_files
                 (transfer_id, batch_id, batch, peer, name, path, bytes, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                file.transfer_id,
                file.batch.id,
                serde_json::to_string(&file.batch).unwrap_or_default(),
                file.peer.as_str(),
                file.name,
                file.path.to_string_lossy(),
                i64::try_from(file.bytes).unwrap_or(i64::MAX),
                i64::try_from(now_ms()).unwrap_or(i64::MAX),
            ],
        )?;
        Ok(())
    }

    /// The files kept by [`folder_file_received`](Self::folder_file_received)
    /// of folders not ended yet, oldest first; folders none of whose files
    /// arrived within [`FOLDER_FILES_KEPT_MS`] are forgotten first, and rows
    /// this build cannot read are skipped.
    ///
    /// Errors: [`crate::Error::Storage`].
    pub fn folder_files_received(&self) -> Result<Vec<ReceivedFolderFile>> {
        let db = self.db();
        let oldest = now_ms().saturating_sub(FOLDER_FILES_KEPT_MS);
        db.execute(
            "DELETE FROM folder_files WHERE batch_id IN
                 (SELECT batch_id FROM folder_files GROUP BY batch_id HAVING MAX(at_ms) < ?1)",
            [i64::try_from(oldest).unwrap_or(0)],
        )?;
        let mut stmt = db.prepare(
            "SELECT transfer_id, batch, peer, name, path, bytes FROM folder_files
             ORDER BY at_ms, rowid",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (transfer_id, batch, peer, name, path, bytes) = row?;
            let (Ok(batch), Ok(peer)) = (serde_json::from_str(&batch), PeerId::parse(&peer)) else {
                continue;
            };
            out.push(ReceivedFolderFile {
                transfer_id,
                peer,
                batch,
                name,
                path: path.into(),
                bytes: u64::try_from(bytes).unwrap_or(0),
            });
        }
        Ok(out)
    }

    /// Forgets the files of the folder `batch_id` (it ended and went into the
    /// history).
    ///
    /// Errors: [`crate::Error::Storage`].
    pub fn folder_files_forget(&self, batch_id: &str) -> Result<()> {
        self.db()
            .execute("DELETE FROM folder_files WHERE batch_id = ?1", [batch_id])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folders_received_files_are_kept_until_it_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::open(dir.path()).unwrap();
        let peer = PeerId::parse("iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w").unwrap();
        let batch = Batch {
            id: "ab".repeat(16),
            name: "trip".into(),
            files: 3,
            size: 30,
        };
        let file = |n: u8| ReceivedFolderFile {
            transfer_id: format!("{n:032x}"),
            peer: peer.clone(),
            batch: batch.clone(),
            name: format!("trip/{n}.bin"),
            path: format!("/dl/trip/{n}.bin").into(),
            bytes: 10,
        };
        p.folder_file_received(&file(1)).unwrap();
        p.folder_file_received(&file(2)).unwrap();
        p.folder_file_received(&file(2)).unwrap();
        drop(p);
        let p = Profile::open(dir.path()).unwrap();
        assert_eq!(p.folder_files_received().unwrap(), [file(1), file(2)]);
        p.folder_files_forget(&batch.id).unwrap();
        assert!(p.folder_files_received().unwrap().is_empty());

        // A folder is forgotten after 30 days without a file arriving, all
        // of it, not file by file.
        p.folder_file_received(&file(1)).unwrap();
        p.folder_file_received(&file(2)).unwrap();
        let old = i64::try_from(now_ms() - FOLDER_FILES_KEPT_MS - 1000).unwrap();
        let set_at = |id: String, at: i64| {
            p.db()
                .execute(
                    "UPDATE folder_files SET at_ms = ?2 WHERE transfer_id = ?1",
                    params![id, at],
                )
                .unwrap();
        };
        set_at(file(1).transfer_id, old);
        assert_eq!(p.folder_files_received().unwrap().len(), 2, "one is recent");
        set_at(file(2).transfer_id, old);
        assert!(p.folder_files_received().unwrap().is_empty());
    }
}
