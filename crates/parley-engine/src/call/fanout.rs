//! One source, many links: each local source (camera, microphone, screen) is
//! captured and encoded once, and every encoded frame is written to the tracks of
//! all the peer links it is sent on. Links join and leave a [`TrackSet`] while
//! the sender runs; the encoder never restarts for them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::rtc::LocalTrack;

/// The tracks one local source is sent on, one per connected peer link, and the
/// keyframe request shared by all of them. The sender reads the list for every
/// frame. A track that joins asks for a keyframe, so the new member's decoder can
/// start at once (an H.264 decoder can only start at an IDR picture).
#[derive(Clone, Default)]
pub(super) struct TrackSet {
    tracks: Arc<Mutex<Arc<[Arc<LocalTrack>]>>>,
    keyframe: Arc<AtomicBool>,
}

impl TrackSet {
    /// An empty set: frames written to it go nowhere.
    pub(super) fn new() -> TrackSet {
        TrackSet::default()
    }

    /// Sends on `track` from the next frame on (a keyframe, for video).
    pub(super) fn add(&self, track: Arc<LocalTrack>) {
        let mut tracks = self.tracks.lock().unwrap_or_else(PoisonError::into_inner);
        let mut list: Vec<Arc<LocalTrack>> = tracks.iter().cloned().collect();
        if !list.iter().any(|t| Arc::ptr_eq(t, &track)) {
            list.push(track);
        }
        *tracks = list.into();
        self.request_keyframe();
    }

    /// Stops sending on `track`.
    pub(super) fn remove(&self, track: &Arc<LocalTrack>) {
        let mut tracks = self.tracks.lock().unwrap_or_else(PoisonError::into_inner);
        let list: Vec<Arc<LocalTrack>> = tracks
            .iter()
            .filter(|t| !Arc::ptr_eq(t, track))
            .cloned()
            .collect();
        *tracks = list.into();
    }

    /// The tracks now, in the order they joined.
    pub(super) fn current(&self) -> Arc<[Arc<LocalTrack>]> {
        Arc::clone(&self.tracks.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The lowest congestion-control target among the tracks' connections,
    /// bits/s (the encoder must fit the slowest link); `None` when none has one.
    pub(super) fn bandwidth_estimate_bps(&self) -> Option<f64> {
        self.current()
            .iter()
            .filter_map(|t| t.bandwidth_estimate())
            .map(|e| e.target_bps)
            .reduce(f64::min)
    }

    /// The encoder should make its next frame a keyframe (a member's PLI or FIR,
    /// RFC 4585 §6.3.1, or a member that joined).
    pub(super) fn request_keyframe(&self) {
        self.keyframe.store(true, Ordering::Relaxed);
    }

    /// Whether a keyframe was asked for since the last call; clears the request.
    pub(super) fn take_keyframe_request(&self) -> bool {
        self.keyframe.swap(false, Ordering::Relaxed)
    }

    /// Writes one encoded frame (`dur`: its duration, which advances the RTP
    /// timestamp) to every track; whether at least one write succeeded. A failed
    /// write (a link that is closing) does not hold up the others.
    pub(super) async fn write(&self, data: Bytes, dur: Duration) -> bool {
        let mut written = false;
        for track in self.current().iter() {
            match track.write_sample(data.clone(), dur).await {
                Ok(()) => written = true,
                Err(e) => tracing::debug!("write to a track: {e}"),
            }
        }
        written
    }
}

/// Passes the keyframe requests (PLI or FIR) one member sends for `track` to the
/// encoder of `set`, until `stop`.
pub(super) fn forward_keyframe_requests(
    track: Arc<LocalTrack>,
    set: TrackSet,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                r = track.next_keyframe_request() => match r {
                    Some(()) => {
                        tracing::debug!("keyframe requested by a receiver");
                        set.request_keyframe();
                    }
                    None => break,
                },
                _ = crate::stop::stopped(&mut stop) => break,
            }
        }
    })
}

#[cfg(test)]
#[path = "fanout_tests.rs"]
mod tests;
