//! Transfer history in the profile: one row per finished transfer, so the app
//! lists what was sent and received after a restart.

use std::path::PathBuf;

use parley_proto::PeerId;
use rusqlite::params;

use super::Profile;
use crate::transfer::TransferDirection;
use crate::Result;

/// Most finished transfers kept; older rows are dropped as new ones come.
pub const MAX_TRANSFER_HISTORY: usize = 1000;

/// How a finished transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferEnd {
    /// Arrived and verified.
    Completed,
    /// The receiving user said no.
    Declined,
    /// Stopped by either side.
    Cancelled,
    /// Anything else: disk, network, a refused offer.
    Failed,
}

impl TransferEnd {
    /// The stored (and UI) name: `completed`, `declined`, `cancelled`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferEnd::Completed => "completed",
            TransferEnd::Declined => "declined",
            TransferEnd::Cancelled => "cancelled",
            TransferEnd::Failed => "failed",
        }
    }

    /// The inverse of [`TransferEnd::as_str`]; `None` for anything else.
    pub fn parse(s: &str) -> Option<TransferEnd> {
        [
            TransferEnd::Completed,
            TransferEnd::Declined,
            TransferEnd::Cancelled,
            TransferEnd::Failed,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }
}

/// One finished transfer, as the history lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRecord {
    /// Transfer id, 32 lowercase hex chars (with `direction`, the row's key).
    pub transfer_id: String,
    /// The other party.
    pub peer: PeerId,
    /// File name (the saved name when received).
    pub name: String,
    /// Which way it went.
    pub direction: TransferDirection,
    /// File size, bytes.
    pub bytes_total: u64,
    /// Bytes that had arrived when it ended, bytes.
    pub bytes_done: u64,
    /// How it ended.
    pub end: TransferEnd,
    /// Why it did not complete, for display.
    pub error: Option<String>,
    /// Where the file is: the saved file (received) or the one sent.
    pub path: Option<PathBuf>,
    /// When it was offered, ms since the Unix epoch.
    pub started_at_ms: u64,
    /// When it ended, ms since the Unix epoch.
    pub finished_at_ms: u64,
}

fn direction_to_sql(d: TransferDirection) -> i64 {
    match d {
        TransferDirection::Sending => 0,
        TransferDirection::Receiving => 1,
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Profile {
    /// Records a finished transfer (replacing an earlier record of the same
    /// transfer id and direction) and drops the oldest beyond
    /// [`MAX_TRANSFER_HISTORY`].
    ///
    /// Errors: [`crate::Error::Storage`].
    pub fn record_transfer(&self, r: &TransferRecord) -> Result<()> {
        self.record_transfer_keeping(r, MAX_TRANSFER_HISTORY)
    }

    /// [`Profile::record_transfer`], keeping the newest `keep` rows.
    fn record_transfer_keeping(&self, r: &TransferRecord, keep: usize) -> Result<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO transfers (transfer_id, direction, peer, name, bytes_total,
                 bytes_done, outcome, error, path, started_at_ms, finished_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                r.transfer_id,
                direction_to_sql(r.direction),
                r.peer.as_str(),
                r.name,
                clamp(r.bytes_total),
                clamp(r.bytes_done),
                r.end.as_str(),
                r.error,
                r.path.as_ref().map(|p| p.to_string_lossy().into_owned()),
                clamp(r.started_at_ms),
                clamp(r.finished_at_ms),
            ],
        )?;
        tx.execute(
            "DELETE FROM transfers WHERE seq NOT IN
                 (SELECT seq FROM transfers ORDER BY seq DESC LIMIT ?1)",
            params![clamp(keep as u64)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The newest `limit` finished transfers, oldest first (in the order they
    /// ended). Rows this build cannot read (a bad peer id) are skipped.
    ///
    /// Errors: [`crate::Error::Storage`].
    pub fn transfer_history(&self, limit: usize) -> Result<Vec<TransferRecord>> {
        let db = self.db();
        let mut stmt = db.prepare(
            "SELECT transfer_id, direction, peer, name, bytes_total, bytes_done, outcome, error,
                    path, started_at_ms, finished_at_ms
             FROM transfers ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![clamp(limit as u64)], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                [row.get::<_, i64>(4)?, row.get::<_, i64>(5)?],
                row.get::<_, String>(6)?,
                row.get::<_, Option<String>>(7)?,
                row.get::<_, Option<String>>(8)?,
                [row.get::<_, i64>(9)?, row.get::<_, i64>(10)?],
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (transfer_id, direction, peer, name, bytes, end, error, path, times) = row?;
            let (Ok(peer), Some(end)) = (PeerId::parse(&peer), TransferEnd::parse(&end)) else {
                tracing::warn!(%transfer_id, "skipping a transfer record this build cannot read");
                continue;
            };
            out.push(TransferRecord {
                transfer_id,
                peer,
                name,
                direction: if direction == 0 {
                    TransferDirection::Sending
                } else {
                    TransferDirection::Receiving
                },
                bytes_total: bytes[0].max(0) as u64,
                bytes_done: bytes[1].max(0) as u64,
                end,
                error,
                path: path.map(PathBuf::from),
                started_at_ms: times[0].max(0) as u64,
                finished_at_ms: times[1].max(0) as u64,
            });
        }
        out.reverse();
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

    fn record(n: u64, end: TransferEnd) -> TransferRecord {
        TransferRecord {
            transfer_id: format!("{n:032x}"),
            peer: peer(2),
            name: format!("file {n}.bin"),
            direction: TransferDirection::Receiving,
            bytes_total: 5 << 20,
            bytes_done: 5 << 20,
            end,
            error: (end != TransferEnd::Completed).then(|| "not enough space".into()),
            path: Some(PathBuf::from(format!("/tmp/file {n}.bin"))),
            started_at_ms: 1_000 + n,
            finished_at_ms: 2_000 + n,
        }
    }

    #[test]
    fn history_survives_reopening_newest_last_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::open(dir.path()).unwrap();
        p.record_transfer(&record(1, TransferEnd::Failed)).unwrap();
        p.record_transfer(&record(2, TransferEnd::Completed))
            .unwrap();
        // The same transfer again (a later outcome) replaces its row and moves last.
        p.record_transfer(&record(1, TransferEnd::Completed))
            .unwrap();
        drop(p);
        let p = Profile::open(dir.path()).unwrap();
        let h = p.transfer_history(10).unwrap();
        assert_eq!(
            h,
            [
                record(2, TransferEnd::Completed),
                record(1, TransferEnd::Completed)
            ]
        );
        assert_eq!(
            p.transfer_history(1).unwrap(),
            [record(1, TransferEnd::Completed)]
        );
        for n in 10..20 {
            p.record_transfer_keeping(&record(n, TransferEnd::Cancelled), 5)
                .unwrap();
        }
        let h = p.transfer_history(usize::MAX).unwrap();
        let ids: Vec<String> = (15..20).map(|n| format!("{n:032x}")).collect();
        let got: Vec<&String> = h.iter().map(|r| &r.transfer_id).collect();
        assert_eq!(got, ids.iter().collect::<Vec<_>>());
    }

    #[test]
    fn ends_round_trip() {
        for end in [
            TransferEnd::Completed,
            TransferEnd::Declined,
            TransferEnd::Cancelled,
            TransferEnd::Failed,
        ] {
            assert_eq!(TransferEnd::parse(end.as_str()), Some(end));
        }
        assert_eq!(TransferEnd::parse("exploded"), None);
    }
}
