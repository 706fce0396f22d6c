//! `--clock-stamp`: glass-to-glass latency of the remote video, read from the
//! capture time the sender drew into each frame
//! ([`parley_engine::media::read_stamp`]; both peers on one machine).

use std::sync::Mutex;

use parley_engine::call::VideoSink;
use parley_engine::media::{read_stamp, unix_ms, I420Frame};

/// Latencies measured so far, ms, one per decoded frame with a valid stamp.
static LATENCIES_MS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// A video sink that measures each decoded frame's latency: now minus the
/// capture time stamped in it.
pub struct LatencySink;

impl VideoSink for LatencySink {
    fn frame(&mut self, frame: &I420Frame) -> parley_engine::Result<()> {
        if let Some(captured) = read_stamp(frame) {
            let latency = unix_ms().saturating_sub(captured);
            LATENCIES_MS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(latency);
        }
        Ok(())
    }
}

/// `{"median": ms, "p95": ms, "n": frames}` of the latencies measured, or
/// `None` if no stamped frame was decoded.
pub fn summary() -> Option<serde_json::Value> {
    let mut all = LATENCIES_MS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if all.is_empty() {
        return None;
    }
    all.sort_unstable();
    let at = |q: f64| all[((all.len() - 1) as f64 * q).round() as usize];
    Some(serde_json::json!({"median": at(0.5), "p95": at(0.95), "n": all.len()}))
}
