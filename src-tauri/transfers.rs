//! Transfers as the UI shows them, with speed, from the engine's transfer events.

use std::time::Instant;

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
    /// `offered` (waiting for the receiver's answer), `active`, `completed`,
    /// `declined`, `failed` or `cancelled`.
    pub state: &'static str,
    /// Where the file is (received: saved path).
    pub path: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    #[serde(skip)]
    started: Option<Instant>,
}

fn dir(d: TransferDirection) -> &'static str {
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
            if p.direction == TransferDirection::Receiving {
                v.state = "active";
            }
        }
        TransferEvent::Progress(p) => {
            let started = *v.started.get_or_insert_with(Instant::now);
            v.state = "active";
            v.bytes_total = p.bytes_total;
            v.bytes_done = p.bytes_done;
            let secs = started.elapsed().as_secs_f64();
            if secs > 0.05 {
                v.bytes_per_sec = p.bytes_done as f64 / secs;
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
        }
        TransferEvent::Failed {
            reason, outcome, ..
        } => {
            v.state = match outcome {
                TransferOutcome::Cancelled => "cancelled",
                TransferOutcome::Declined => "declined",
                TransferOutcome::Failed => "failed",
            };
            v.error = Some(reason.clone());
        }
        _ => {}
    }
    Some(v.clone())
}
