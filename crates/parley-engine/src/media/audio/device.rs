//! Microphone and speaker through cpal (feature `audio-device`).
//!
//! cpal's `Stream` is `!Send` on some platforms, so each stream lives on a
//! dedicated thread that builds it, owns it, and drops it when the Rust handle
//! ([`MicSource`] / [`SpeakerSink`]) is dropped. Samples cross threads through
//! bounded queues that drop the oldest data when the other side lags.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::{AudioSource, FRAME_SAMPLES};
use crate::media::MediaError;

/// One audio device as the platform lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioDeviceInfo {
    /// Position in the host's input (or output) list: pass it to `open`.
    /// Positions shift as devices come and go; [`id`](Self::id) does not.
    pub index: usize,
    /// The host's stable key for the device (a PulseAudio sink or source
    /// name such as `alsa_output.usb-…`, an ALSA PCM name): pass it to
    /// `open_device`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
}

/// Why an open stream moved to another device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchReason {
    /// Its device went away (unplugged, or the host ended the stream): the
    /// stream moved to the default device.
    Lost,
    /// The host ended the stream but the device is still there: reopened on it.
    Reopened,
    /// The stream follows the default device, and the default changed (a
    /// headset plugged in, or chosen in the system's settings).
    NewDefault,
    /// The device asked for by name came back after a [`Lost`](Self::Lost).
    Returned,
}

/// An open microphone or speaker stream that moved to another device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceSwitch {
    /// True for a microphone, false for a speaker.
    pub input: bool,
    /// Display name of the device it was on.
    pub from: String,
    /// Display name of the device it is on now.
    pub to: String,
    /// Why it moved.
    pub reason: SwitchReason,
}

impl std::fmt::Display for DeviceSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.input { "microphone" } else { "speaker" };
        let (from, to) = (&self.from, &self.to);
        match self.reason {
            SwitchReason::Lost => {
                write!(
                    f,
                    "The {what} “{from}” is gone; now using the default, “{to}”."
                )
            }
            SwitchReason::Reopened => write!(f, "The {what} “{to}” stopped; reopened it."),
            SwitchReason::NewDefault => {
                write!(
                    f,
                    "The default {what} is now “{to}”; switched from “{from}”."
                )
            }
            SwitchReason::Returned => write!(f, "The {what} “{to}” is back; using it again."),
        }
    }
}

/// Told of every [`DeviceSwitch`] of one stream, on its device thread.
pub type SwitchFn = Arc<dyn Fn(&DeviceSwitch) + Send + Sync>;

/// Milliseconds since the first call in this process (a monotonic clock).
fn now_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// Frames of 20 ms a [`MicSource`] queues before dropping the oldest (200 ms).
const MIC_QUEUE_FRAMES: usize = 10;
/// Audio a [`SpeakerSink`] buffers before dropping the oldest, ms.
const SPEAKER_QUEUE_MS: usize = 300;

/// What the speaker's device callback hands the samples it plays to (mono,
/// at the device rate, which is the second argument, Hz).
type PlayedTap = Box<dyn FnMut(&[f32], u32) + Send>;

/// A bounded FIFO shared with a device callback; drops the oldest on overflow.
struct Shared<T> {
    queue: Mutex<VecDeque<T>>,
    ready: Condvar,
    failed: Mutex<Option<String>>,
    /// Set by a device callback when its stream ended; the stream's thread
    /// reopens it.
    lost: AtomicBool,
    /// The open device's sample rate, Hz.
    rate_hz: AtomicU32,
    /// When a device last delivered (or a stream opened), [`now_ms`].
    last_data_ms: AtomicU64,
    /// Told when the stream moves to another device.
    on_switch: Mutex<Option<SwitchFn>>,
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
            lost: AtomicBool::new(false),
            rate_hz: AtomicU32::new(0),
            last_data_ms: AtomicU64::new(now_ms()),
            on_switch: Mutex::new(None),
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

    #[cfg_attr(not(feature = "audio-device"), allow(dead_code))]
    fn clear_failure(&self) {
        *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    #[cfg_attr(not(feature = "audio-device"), allow(dead_code))]
    fn switched(&self, switch: &DeviceSwitch) {
        // Called unlocked: the callback may set another.
        let f = self
            .on_switch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(f) = f {
            f(switch);
        }
    }

    /// Notes that the device delivered (or the stream opened) now.
    #[cfg_attr(not(feature = "audio-device"), allow(dead_code))]
    fn touch(&self) {
        self.last_data_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Milliseconds since the device last delivered.
    #[cfg_attr(not(feature = "audio-device"), allow(dead_code))]
    fn idle_ms(&self) -> u64 {
        now_ms().saturating_sub(self.last_data_ms.load(Ordering::Relaxed))
    }

    fn set_on_switch(&self, f: SwitchFn) {
        *self.on_switch.lock().unwrap_or_else(|p| p.into_inner()) = Some(f);
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

#[cfg(all(feature = "audio-device", target_os = "linux"))]
#[path = "device_pulse.rs"]
mod pulse;

#[cfg(not(feature = "audio-device"))]
mod imp {
    use super::*;

    pub fn list(_input: bool) -> Vec<AudioDeviceInfo> {
        Vec::new()
    }

    pub struct StreamThread;

    pub fn open_input(
        _: (Option<String>, bool),
        _: Arc<Shared<Vec<f32>>>,
    ) -> Result<StreamThread, MediaError> {
        Err(MediaError::NoDevice {
            kind: "audio input",
        })
    }

    pub fn open_output(_: Option<String>, _: Arc<Shared<f32>>) -> Result<StreamThread, MediaError> {
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
    /// input when `None`, with its default configuration; as
    /// [`open_device`](Self::open_device) with that device's id.
    ///
    /// # Errors
    /// [`MediaError::NoDevice`] when there is no such device (or the feature is
    /// off); [`MediaError::Device`] when it cannot be opened or started.
    pub fn open(index: Option<usize>) -> Result<Self, MediaError> {
        Self::open_device(id_at(index, true)?.as_deref())
    }

    /// Opens the input device `wanted` names (its [`AudioDeviceInfo::id`],
    /// else its display name) or the default input when `None`. The stream
    /// then survives its device: gone, it moves to the default input; asked
    /// for by name, it returns when the device does; following the default,
    /// it moves when the default changes. [`on_switch`](Self::on_switch)
    /// hears of each move.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_device(wanted: Option<&str>) -> Result<Self, MediaError> {
        Self::open_with(wanted, true)
    }

    /// As [`open_device`](Self::open_device) with `wanted` named, except
    /// that while it is absent the default input stands in (a headset the
    /// settings name, not plugged in yet): the stream moves to it when it
    /// appears.
    ///
    /// # Errors
    /// As [`open`](Self::open), for the default when `wanted` is absent.
    pub fn open_preferring(wanted: &str) -> Result<Self, MediaError> {
        Self::open_with(Some(wanted), false)
    }

    fn open_with(wanted: Option<&str>, strict: bool) -> Result<Self, MediaError> {
        let shared = Shared::new();
        let thread = imp::open_input((wanted.map(str::to_owned), strict), shared.clone())?;
        Ok(Self {
            shared,
            _thread: thread,
        })
    }

    /// Calls `f` (on the device thread) each time the stream moves to
    /// another device.
    pub fn on_switch(&self, f: impl Fn(&DeviceSwitch) + Send + Sync + 'static) {
        self.shared.set_on_switch(Arc::new(f));
    }
}

/// The id of device `index` of the input (or output) list; `None` for `None`.
fn id_at(index: Option<usize>, input: bool) -> Result<Option<String>, MediaError> {
    let Some(i) = index else {
        return Ok(None);
    };
    let kind = if input { "audio input" } else { "audio output" };
    let dev = imp::list(input).into_iter().nth(i);
    dev.map(|d| Some(d.id)).ok_or(MediaError::NoDevice { kind })
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
    /// output when `None`, with its default configuration; as
    /// [`open_device`](Self::open_device) with that device's id.
    ///
    /// # Errors
    /// [`MediaError::NoDevice`] when there is no such device (or the feature is
    /// off); [`MediaError::Device`] when it cannot be opened or started.
    pub fn open(index: Option<usize>) -> Result<Self, MediaError> {
        Self::open_device(id_at(index, false)?.as_deref())
    }

    /// Opens the output device `wanted` names (its [`AudioDeviceInfo::id`],
    /// else its display name) or the default output when `None`; the stream
    /// survives its device as [`MicSource::open_device`] says.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_device(wanted: Option<&str>) -> Result<Self, MediaError> {
        Self::open_with(wanted, true)
    }

    /// As [`MicSource::open_preferring`], for an output device.
    ///
    /// # Errors
    /// As [`open`](Self::open), for the default when `wanted` is absent.
    pub fn open_preferring(wanted: &str) -> Result<Self, MediaError> {
        Self::open_with(Some(wanted), false)
    }

    fn open_with(wanted: Option<&str>, strict: bool) -> Result<Self, MediaError> {
        let shared = Shared::new();
        let thread = imp::open_output((wanted.map(str::to_owned), strict), shared.clone())?;
        let rate_hz = shared.rate_hz.load(Ordering::Relaxed);
        Ok(Self {
            shared,
            resampler: super::StreamResampler::new(super::SAMPLE_RATE_HZ, rate_hz)?,
            cap: queue_cap(rate_hz),
            scratch: Vec::new(),
            _thread: thread,
        })
    }

    /// Calls `f` (on the device thread) each time the stream moves to
    /// another device.
    pub fn on_switch(&self, f: impl Fn(&DeviceSwitch) + Send + Sync + 'static) {
        self.shared.set_on_switch(Arc::new(f));
    }

    /// The device's sample rate, Hz.
    pub fn device_rate_hz(&self) -> u32 {
        self.resampler.rate_out_hz()
    }

    /// Queues 48 kHz mono samples (any length, typically one 960-sample frame).
    ///
    /// # Errors
    /// [`MediaError::Device`] while the output stream has failed (no device
    /// to play on; it is retried every half second).
    pub fn push(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        if let Some(msg) = self.shared.failure() {
            return Err(MediaError::Device(msg));
        }
        let rate_hz = self.shared.rate_hz.load(Ordering::Relaxed);
        if rate_hz != self.resampler.rate_out_hz() {
            // Moved to a device with another rate: what is queued was
            // resampled for the old one.
            self.resampler = super::StreamResampler::new(super::SAMPLE_RATE_HZ, rate_hz)?;
            self.cap = queue_cap(rate_hz);
            self.shared
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        self.scratch.clear();
        self.resampler.process(samples, &mut self.scratch)?;
        self.shared
            .push_bounded(self.scratch.iter().copied(), self.cap);
        Ok(())
    }

    /// Gives `far` every sample as the device plays it (resampled to 48 kHz
    /// mono; silence where the queue ran dry): the exact far end the echo
    /// canceller needs, whatever the queue dropped or the device delayed,
    /// and on whichever device the stream has moved to.
    ///
    /// # Errors
    /// [`MediaError::Invalid`] if no resampler can be made for the device rate.
    pub fn tap_played(&mut self, far: super::FarEnd) -> Result<(), MediaError> {
        let mut rate_hz = self.device_rate_hz();
        let mut back = super::StreamResampler::new(rate_hz, super::SAMPLE_RATE_HZ)?;
        let mut out = Vec::new();
        let tap: PlayedTap = Box::new(move |played: &[f32], played_hz: u32| {
            if played_hz != rate_hz {
                match super::StreamResampler::new(played_hz, super::SAMPLE_RATE_HZ) {
                    Ok(r) => (back, rate_hz) = (r, played_hz),
                    Err(_) => return,
                }
            }
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

/// Samples a [`SpeakerSink`] queues at `rate_hz` ([`SPEAKER_QUEUE_MS`]).
fn queue_cap(rate_hz: u32) -> usize {
    rate_hz as usize * SPEAKER_QUEUE_MS / 1000
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
        shared.touch();
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
