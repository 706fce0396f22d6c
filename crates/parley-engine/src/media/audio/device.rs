//! Microphone and speaker through cpal (feature `audio-device`).
//!
//! cpal's `Stream` is `!Send` on some platforms, so each stream lives on a
//! dedicated thread that builds it, owns it, and drops it when the Rust handle
//! ([`MicSource`] / [`SpeakerSink`]) is dropped. Samples cross threads through
//! bounded queues that drop the oldest data when the other side lags.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use super::{AudioSource, FRAME_SAMPLES};
use crate::media::MediaError;

/// One audio device as the platform lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioDeviceInfo {
    /// Position in the host's input (or output) list: pass it to `open`.
    pub index: usize,
    /// Human-readable name.
    pub name: String,
}

/// Frames of 20 ms a [`MicSource`] queues before dropping the oldest (200 ms).
const MIC_QUEUE_FRAMES: usize = 10;
/// Audio a [`SpeakerSink`] buffers before dropping the oldest, ms.
const SPEAKER_QUEUE_MS: usize = 300;

/// What the speaker's device callback hands the samples it plays to (device
/// rate, mono).
type PlayedTap = Box<dyn FnMut(&[f32]) + Send>;

/// A bounded FIFO shared with a device callback; drops the oldest on overflow.
struct Shared<T> {
    queue: Mutex<VecDeque<T>>,
    ready: Condvar,
    failed: Mutex<Option<String>>,
    /// Given what the speaker plays, as it plays it (the echo canceller's far end).
    #[cfg_attr(not(feature = "audio-device"), allow(dead_code))]
    tap: Mutex<Option<PlayedTap>>,
}

impl<T> Shared<T> {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            failed: Mutex::new(None),
            tap: Mutex::new(None),
        })
    }

    fn push_bounded(&self, items: impl IntoIterator<Item = T>, cap: usize) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.extend(items);
        let excess = q.len().saturating_sub(cap);
        q.drain(..excess);
        drop(q);
        self.ready.notify_one();
    }

    #[cfg_attr(not(feature = "audio-device"), allow(dead_code))]
    fn fail(&self, msg: String) {
        *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg);
        self.ready.notify_all();
    }

    fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(feature = "audio-device")]
#[path = "device_cpal.rs"]
mod imp;

#[cfg(not(feature = "audio-device"))]
mod imp {
    use super::*;

    pub fn list(_input: bool) -> Vec<AudioDeviceInfo> {
        Vec::new()
    }

    pub struct StreamThread;

    pub fn open_input(
        _: Option<usize>,
        _: Arc<Shared<Vec<f32>>>,
    ) -> Result<StreamThread, MediaError> {
        Err(MediaError::NoDevice {
            kind: "audio input",
        })
    }

    pub fn open_output(
        _: Option<usize>,
        _: Arc<Shared<f32>>,
    ) -> Result<(StreamThread, u32), MediaError> {
        Err(MediaError::NoDevice {
            kind: "audio output",
        })
    }
}

/// Audio input devices; empty (never an error) when there are none, the host
/// fails, or the `audio-device` feature is off.
pub fn list_input_devices() -> Vec<AudioDeviceInfo> {
    imp::list(true)
}

/// Audio output devices; empty (never an error) on failure, as for input.
pub fn list_output_devices() -> Vec<AudioDeviceInfo> {
    imp::list(false)
}

/// An [`AudioSource`] capturing a microphone: any device format converted to
/// mono, resampled to 48 kHz and cut into 960-sample frames. At most 200 ms wait
/// for the consumer; older frames are dropped. Paced by the device clock.
pub struct MicSource {
    shared: Arc<Shared<Vec<f32>>>,
    // Dropping it stops and joins the stream thread.
    _thread: imp::StreamThread,
}

impl MicSource {
    /// How long [`next_frame`](AudioSource::next_frame) waits for the device
    /// before reporting it stalled, ms.
    pub const STALL_MS: u64 = 1_000;

    /// Opens input device `index` (from [`list_input_devices`]) or the default
    /// input when `None`, with its default configuration.
    ///
    /// # Errors
    /// [`MediaError::NoDevice`] when there is no such device (or the feature is
    /// off); [`MediaError::Device`] when it cannot be opened or started.
    pub fn open(index: Option<usize>) -> Result<Self, MediaError> {
        let shared = Shared::new();
        let thread = imp::open_input(index, shared.clone())?;
        Ok(Self {
            shared,
            _thread: thread,
        })
    }
}

impl AudioSource for MicSource {
    fn captures_room(&self) -> bool {
        true
    }

    fn next_frame(&mut self) -> Result<Vec<f32>, MediaError> {
        let timeout = std::time::Duration::from_millis(Self::STALL_MS);
        let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(frame) = q.pop_front() {
                return Ok(frame);
            }
            if let Some(msg) = self.shared.failure() {
                return Err(MediaError::Device(msg));
            }
            let (guard, wait) = self
                .shared
                .ready
                .wait_timeout(q, timeout)
                .unwrap_or_else(|p| p.into_inner());
            q = guard;
            if wait.timed_out() && q.is_empty() {
                return Err(MediaError::Device(format!(
                    "microphone delivered nothing for {} ms",
                    Self::STALL_MS
                )));
            }
        }
    }
}

/// Plays 48 kHz mono audio on a speaker: pushed samples are resampled to the
/// device rate and copied to every channel; the device callback plays silence
/// on underrun. At most 300 ms is buffered; older audio is dropped.
pub struct SpeakerSink {
    shared: Arc<Shared<f32>>,
    resampler: super::StreamResampler,
    cap: usize,
    scratch: Vec<f32>,
    _thread: imp::StreamThread,
}

impl SpeakerSink {
    /// Opens output device `index` (from [`list_output_devices`]) or the default
    /// output when `None`, with its default configuration.
    ///
    /// # Errors
    /// [`MediaError::NoDevice`] when there is no such device (or the feature is
    /// off); [`MediaError::Device`] when it cannot be opened or started.
    pub fn open(index: Option<usize>) -> Result<Self, MediaError> {
        let shared = Shared::new();
        let (thread, rate_hz) = imp::open_output(index, shared.clone())?;
        Ok(Self {
            shared,
            resampler: super::StreamResampler::new(super::SAMPLE_RATE_HZ, rate_hz)?,
            cap: rate_hz as usize * SPEAKER_QUEUE_MS / 1000,
            scratch: Vec::new(),
            _thread: thread,
        })
    }

    /// The device's sample rate, Hz.
    pub fn device_rate_hz(&self) -> u32 {
        self.resampler.rate_out_hz()
    }

    /// Queues 48 kHz mono samples (any length, typically one 960-sample frame).
    ///
    /// # Errors
    /// [`MediaError::Device`] once the output stream has failed.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        if let Some(msg) = self.shared.failure() {
            return Err(MediaError::Device(msg));
        }
        self.scratch.clear();
        self.resampler.process(samples, &mut self.scratch)?;
        self.shared
            .push_bounded(self.scratch.iter().copied(), self.cap);
        Ok(())
    }

    /// Gives `far` every sample as the device plays it (resampled to 48 kHz
    /// mono; silence where the queue ran dry): the exact far end the echo
    /// canceller needs, whatever the queue dropped or the device delayed.
    ///
    /// # Errors
    /// [`MediaError::Invalid`] if no resampler can be made for the device rate.
    pub fn tap_played(&mut self, far: super::FarEnd) -> Result<(), MediaError> {
        let mut back = super::StreamResampler::new(self.device_rate_hz(), super::SAMPLE_RATE_HZ)?;
        let mut out = Vec::new();
        let tap: PlayedTap = Box::new(move |played: &[f32]| {
            out.clear();
            if back.process(played, &mut out).is_ok() {
                far.played(&out);
            }
        });
        *self.shared.tap.lock().unwrap_or_else(|p| p.into_inner()) = Some(tap);
        Ok(())
    }

    /// Samples (at the device rate) waiting to be played.
    pub fn queued_samples(&self) -> usize {
        self.shared
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// Cuts a mono 48 kHz stream into frames and queues them (mic side).
#[cfg_attr(not(feature = "audio-device"), allow(dead_code))]
struct Framer {
    pending: Vec<f32>,
}

#[cfg_attr(not(feature = "audio-device"), allow(dead_code))]
impl Framer {
    fn new() -> Self {
        Self {
            pending: Vec::with_capacity(2 * FRAME_SAMPLES),
        }
    }

    fn push(&mut self, mono_48k: &[f32], shared: &Shared<Vec<f32>>) {
        self.pending.extend_from_slice(mono_48k);
        let whole = self.pending.len() / FRAME_SAMPLES * FRAME_SAMPLES;
        if whole == 0 {
            return;
        }
        let frames: Vec<Vec<f32>> = self.pending[..whole]
            .chunks_exact(FRAME_SAMPLES)
            .map(<[f32]>::to_vec)
            .collect();
        self.pending.drain(..whole);
        shared.push_bounded(frames, MIC_QUEUE_FRAMES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_devices_fail_cleanly() {
        let inputs = list_input_devices();
        let outputs = list_output_devices();
        println!("inputs {inputs:?}, outputs {outputs:?}");
        assert!(matches!(
            MicSource::open(Some(10_000)),
            Err(MediaError::NoDevice { .. })
        ));
        assert!(matches!(
            SpeakerSink::open(Some(10_000)),
            Err(MediaError::NoDevice { .. })
        ));
    }

    /// Exercises the cpal paths on whatever device is listed first (on a headless
    /// machine ALSA's `null` device: zeros, unpaced). Not a timing test.
    #[test]
    fn first_listed_devices_stream() {
        if list_input_devices().is_empty() {
            println!("skipping: no audio input device");
        } else {
            match MicSource::open(Some(0)) {
                Ok(mut mic) => {
                    for _ in 0..3 {
                        assert_eq!(mic.next_frame().unwrap().len(), FRAME_SAMPLES);
                    }
                }
                Err(e) => println!("input 0 did not open: {e}"),
            }
        }
        if list_output_devices().is_empty() {
            println!("skipping: no audio output device");
            return;
        }
        match SpeakerSink::open(Some(0)) {
            Ok(mut spk) => {
                for _ in 0..50 {
                    spk.push(&[0.1; FRAME_SAMPLES]).unwrap();
                }
                let cap = spk.device_rate_hz() as usize * SPEAKER_QUEUE_MS / 1000;
                assert!(spk.queued_samples() <= cap);
            }
            Err(e) => println!("output 0 did not open: {e}"),
        }
    }

    #[test]
    fn framer_and_queue_drop_oldest() {
        let shared: Arc<Shared<Vec<f32>>> = Shared::new();
        let mut framer = Framer::new();
        for i in 0..(MIC_QUEUE_FRAMES + 5) {
            framer.push(&vec![i as f32; FRAME_SAMPLES / 2], &shared);
            framer.push(&vec![i as f32; FRAME_SAMPLES / 2], &shared);
        }
        framer.push(&[1.0; 10], &shared);
        let q = shared.queue.lock().unwrap();
        assert_eq!(q.len(), MIC_QUEUE_FRAMES);
        assert_eq!(q.front().unwrap()[0], 5.0);
        assert!(q.iter().all(|f| f.len() == FRAME_SAMPLES));
    }
}
