//! Transfers as the UI shows them, with speed, from the engine's transfer events;
//! finished ones are kept in the profile's history ([`record`], [`from_record`]).

use std::path::PathBuf;
use std::time::Instant;

use parley_engine::storage::{TransferEnd, TransferRecord};
use parley_engine::transfer::{TransferDirection, TransferEvent, TransferOutcome};
use parley_proto::PeerId;
use serde::Serialize;

/// docs/ui-api.md `Transfer`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferView {
    /// Transfer id.
    pub transfer_id: String,
    /// The other party.
    pub peer: PeerId,
    /// File name.
    pub name: String,
    /// `sending` or `receiving`.
    pub direction: &'static str,
    /// Bytes moved.
    pub bytes_done: u64,
    /// File size, bytes.
    pub bytes_total: u64,
    /// Current speed, bytes/s.
    pub bytes_per_sec: f64,
    /// `offered` (waiting for the receiver's answer), `active`, `waiting`
    /// (queued: offered again by itself when the contact is back; `error`
    /// says why the last attempt did not get there), `completed`, `declined`,
    /// `failed` or `cancelled`.
    pub state: &'static str,
    /// Where the file is (received: saved path).
    pub path: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was offered, ms since the Unix epoch.
    pub started_at_ms: u64,
    /// When it ended, ms since the Unix epoch; `None` while it runs.
    pub finished_at_ms: Option<u64>,
    /// A dropped folder (`transfer_id` is its batch id, `name` the folder's,
    /// `path` where it is saved): how many of its files and empty folders
    /// arrived, and how many it has; `None` for a single file.
    pub files_done: Option<u64>,
    /// See `files_done`.
    pub files_total: Option<u64>,
    /// A folder's file moving now (its path in the folder), while `active`.
    pub current: Option<String>,
    /// When bytes began to move in this attempt, and how many were there then
    /// (a resumed prefix does not count towards the speed).
    #[serde(skip)]
    pub(crate) started: Option<(Instant, u64)>,
}

/// Most finished transfers loaded from the history at start.
pub const HISTORY_LOADED: usize = 200;

pub(crate) use parley_engine::storage::now_ms;

/// The history record of a finished transfer; `None` while it runs.
pub fn record(v: &TransferView) -> Option<TransferRecord> {
    let end = TransferEnd::parse(v.state)?;
    Some(TransferRecord {
        transfer_id: v.transfer_id.clone(),
        peer: v.peer.clone(),
        name: v.name.clone(),
        direction: match v.direction {
            "sending" => TransferDirection::Sending,
            _ => TransferDirection::Receiving,
        },
        bytes_total: v.bytes_total,
        bytes_done: v.bytes_done,
        end,
        error: v.error.clone(),
        path: v.path.as_ref().map(PathBuf::from),
        started_at_ms: v.started_at_ms,
        finished_at_ms: v.finished_at_ms.unwrap_or_else(now_ms),
    })
}

/// The view of a file still queued to send from an earlier session (state
/// `waiting`): it goes by itself once the contact is online.
pub fn from_queued(e: &parley_engine::storage::OutboxEntry) -> TransferView {
    let name = e.name.clone().unwrap_or_else(|| {
        e.path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    });
    TransferView {
        transfer_id: e.transfer_id.clone(),
        peer: e.peer.clone(),
        name,
        direction: "sending",
        bytes_done: 0,
        bytes_total: std::fs::metadata(&e.path).map_or(0, |m| m.len()),
        bytes_per_sec: 0.0,
        state: "waiting",
        path: None,
        error: None,
        started_at_ms: now_ms(),
        finished_at_ms: None,
        files_done: None,
        files_total: None,
        current: None,
        started: None,
    }
}

/// The view of a transfer from the history.
pub fn from_record(r: TransferRecord) -> TransferView {
    TransferView {
        transfer_id: r.transfer_id,
        peer: r.peer,
        name: r.name,
        direction: dir(r.direction),
        bytes_done: r.bytes_done,
        bytes_total: r.bytes_total,
        bytes_per_sec: 0.0,
        state: r.end.as_str(),
        path: r.path.map(|p| p.display().to_string()),
        error: r.error,
        started_at_ms: r.started_at_ms,
        finished_at_ms: Some(r.finished_at_ms),
        files_done: None,
        files_total: None,
        current: None,
        started: None,
    }
}

pub(crate) fn dir(d: TransferDirection) -> &'static str {
    match d {
        TransferDirection::Sending => "sending",
        TransferDirection::Receiving => "receiving",
    }
}

/// Applies `ev` to the view of its transfer (creating it on the first event) and
/// returns the updated view.
pub fn apply(
    map: &mut std::collections::BTreeMap<String, TransferView>,
    peer: &PeerId,
    ev: &TransferEvent,
) -> Option<TransferView> {
    let (id, name, direction) = match ev {
        TransferEvent::Incoming(p) | TransferEvent::Offered(p) | TransferEvent::Progress(p) => {
            (&p.transfer_id, &p.name, p.direction)
        }
        TransferEvent::Completed {
            transfer_id,
            name,
            direction,
            ..
        }
        | TransferEvent::Failed {
            transfer_id,
            name,
            direction,
            ..
        } => (transfer_id, name, *direction),
        TransferEvent::Queued {
            transfer_id, name, ..
        } => (transfer_id, name, TransferDirection::Sending),
        _ => return None,
    };
    let v = map.entry(id.clone()).or_insert_with(|| TransferView {
        transfer_id: id.clone(),
        peer: peer.clone(),
        name: name.clone(),
        direction: dir(direction),
        bytes_done: 0,
        bytes_total: 0,
        bytes_per_sec: 0.0,
        state: "offered",
        path: None,
        error: None,
        started_at_ms: now_ms(),
        finished_at_ms: None,
        files_done: None,
        files_total: None,
        current: None,
        started: None,
    });
    match ev {
        TransferEvent::Incoming(p) => {
            v.bytes_total = p.bytes_total;
        }
        TransferEvent::Offered(p) => {
            v.bytes_total = p.bytes_total;
            v.bytes_done = p.bytes_done;
            // Receiving: `Offered` means we accepted; bytes are about to flow.
            // Either way a new attempt (a queued file offered again) starts
            // afresh: no error, no end, speed measured anew.
            v.state = match p.direction {
                TransferDirection::Receiving => "active",
                TransferDirection::Sending => "offered",
            };
            v.error = None;
            v.finished_at_ms = None;
            v.started = None;
        }
        // Progress of an attempt that has ended is stale (a new attempt starts
        // with `Offered`): it must not turn a finished transfer active again.
        TransferEvent::Progress(_) if v.finished_at_ms.is_some() => return None,
        TransferEvent::Progress(p) => {
            let (started, from) = *v.started.get_or_insert((Instant::now(), v.bytes_done));
            v.state = "active";
            v.bytes_total = p.bytes_total;
            v.bytes_done = p.bytes_done;
            let secs = started.elapsed().as_secs_f64();
            if secs > 0.05 {
                v.bytes_per_sec = p.bytes_done.saturating_sub(from) as f64 / secs;
            }
        }
        TransferEvent::Completed {
            path,
            bytes,
            elapsed_ms,
            ..
        } => {
            v.state = "completed";
            v.bytes_done = *bytes;
            v.bytes_total = *bytes;
            v.bytes_per_sec = *bytes as f64 / (*elapsed_ms).max(1) as f64 * 1000.0;
            v.path = Some(path.display().to_string());
            v.finished_at_ms = Some(now_ms());
        }
        TransferEvent::Failed {
            reason,
            outcome,
            bytes_total,
            ..
        } => {
            if v.bytes_total == 0 {
                v.bytes_total = *bytes_total;
            }
            v.state = match outcome {
                TransferOutcome::Cancelled => "cancelled",
                TransferOutcome::Declined => "declined",
                TransferOutcome::Failed => "failed",
            };
            v.error = Some(reason.clone());
            v.finished_at_ms = Some(now_ms());
        }
        TransferEvent::Queued {
            reason,
            bytes_total,
            ..
        } => {
            if v.bytes_total == 0 {
                v.bytes_total = *bytes_total;
            }
            v.state = "waiting";
            v.bytes_per_sec = 0.0;
            v.error = Some(reason.clone());
            v.finished_at_ms = None;
            v.started = None;
        }
        _ => {}
    }
    Some(v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_engine::transfer::TransferProgress;

    fn peer() -> PeerId {
        PeerId::parse("gTl3Dqh9F19Wo1Rmw0x-zMuNipG07jeiXfYPW4_Js5Q").unwrap()
    }

    fn progress(done: u64) -> TransferEvent {
        TransferEvent::Progress(TransferProgress {
            transfer_id: "t".into(),
            name: "a.bin".into(),
            bytes_done: done,
            bytes_total: 10,
            direction: TransferDirection::Receiving,
            batch: None,
        })
    }

    #[test]
    fn late_progress_does_not_reopen_a_finished_transfer() {
        let mut map = std::collections::BTreeMap::new();
        apply(&mut map, &peer(), &progress(5)).unwrap();
        let done = TransferEvent::Completed {
            transfer_id: "t".into(),
            name: "a.bin".into(),
            path: "/tmp/a.bin".into(),
            bytes: 10,
            elapsed_ms: 5,
            direction: TransferDirection::Receiving,
            already_there: false,
        };
        assert_eq!(apply(&mut map, &peer(), &done).unwrap().state, "completed");
        assert!(apply(&mut map, &peer(), &progress(8)).is_none());
        assert_eq!(map["t"].state, "completed");
    }

    #[test]
    fn a_file_that_stays_queued_shows_waiting_and_goes_on() {
        let mut map = std::collections::BTreeMap::new();
        let queued = TransferEvent::Queued {
            transfer_id: "t".into(),
            name: "a.bin".into(),
            bytes_total: 10,
            reason: "the connection closed".into(),
            retry_in_ms: Some(1000),
        };
        let v = apply(&mut map, &peer(), &queued).unwrap();
        assert_eq!((v.state, v.direction), ("waiting", "sending"));
        assert_eq!(v.error.as_deref(), Some("the connection closed"));
        assert!(
            v.finished_at_ms.is_none() && record(&v).is_none(),
            "not history yet"
        );
        let again = TransferEvent::Offered(TransferProgress {
            transfer_id: "t".into(),
            name: "a.bin".into(),
            bytes_done: 0,
            bytes_total: 10,
            direction: TransferDirection::Sending,
            batch: None,
        });
        let v = apply(&mut map, &peer(), &again).unwrap();
        assert_eq!(v.state, "offered");
        assert!(v.error.is_none());
    }
}
