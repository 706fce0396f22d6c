//! Switching the camera, microphone or speakers of a running call: each sender has
//! its own stop switch, so one can be replaced on the same track without touching
//! the others or renegotiating.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::media::AudioSink;
use crate::media::{AudioSource, VideoSource};

/// How long a replaced sender may take to write its last packet, ms.
const SENDER_DRAIN_MS: u64 = 1000;

/// A camera (or file, or pattern) to send on the camera track from now on.
pub struct CameraFeed(pub Box<dyn VideoSource>);

/// A microphone (or file, or tone) to send on the audio track from now on.
pub struct MicrophoneFeed(pub Box<dyn AudioSource>);

/// Where the peer's decoded audio goes from now on (speakers, recorders).
pub struct SpeakerFeed(pub Vec<Box<dyn AudioSink>>);

impl std::fmt::Debug for CameraFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CameraFeed({}x{})", self.0.width(), self.0.height())
    }
}

impl std::fmt::Debug for MicrophoneFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MicrophoneFeed")
    }
}

impl std::fmt::Debug for SpeakerFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SpeakerFeed({} sinks)", self.0.len())
    }
}

/// A running sender (capture, encode, write): its stop switch and tasks.
pub(super) struct Running {
    pub(super) stop: watch::Sender<bool>,
    pub(super) tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops it and waits (at most [`SENDER_DRAIN_MS`]) until its last packet is
    /// written, so packets of the old and the new source never interleave on the
    /// track (the peer's decoder would otherwise mix two streams).
    pub(super) async fn stop(self) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(SENDER_DRAIN_MS);
        let mut tasks = self.tasks;
        for task in &mut tasks {
            let _ = tokio::time::timeout_at(deadline, task).await;
        }
        for task in tasks {
            task.abort();
        }
    }
}

/// A stop switch for one sender that also fires when the call stops (`call_stop`);
/// the task linking them (pushed to `tasks`) ends with the sender, once every
/// receiver of the switch is gone.
pub(super) fn linked_stop(
    call_stop: &watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> (watch::Sender<bool>, watch::Receiver<bool>) {
    let (stop, stop_rx) = watch::channel(false);
    let mut call_stop = call_stop.clone();
    let link = stop.clone();
    tasks.push(tokio::spawn(async move {
        tokio::select! {
            _ = crate::stop::stopped(&mut call_stop) => {
                let _ = link.send(true);
            }
            _ = link.closed() => {}
        }
    }));
    (stop, stop_rx)
}
