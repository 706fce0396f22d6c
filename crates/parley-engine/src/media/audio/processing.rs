//! Echo cancellation, noise suppression and gain control on the microphone.
//!
//! [`AudioProcessor`] is the seam: 10 ms frames of 48 kHz mono, the far end as
//! it is played (render) and the microphone (capture). [`SonoraProcessor`]
//! implements it with `sonora`, a pure-Rust port of WebRTC's audio processing
//! module (AEC3, noise suppression, AGC2). [`EchoPath`] is what a call holds:
//! every speaker that plays a remote stream adds the samples as its device
//! plays them, the streams are mixed per 10 ms, and the microphone's frames
//! are processed after the far end they may echo has been given to the
//! processor.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::SAMPLE_RATE_HZ;
use crate::media::MediaError;

/// Samples in one processing frame: 10 ms at 48 kHz.
pub const PROCESSING_FRAME: usize = SAMPLE_RATE_HZ as usize / 100;

/// Far-end audio an [`EchoPath`] holds while no microphone frame comes to
/// take it, samples (500 ms); older audio is dropped.
const MAX_RENDER_QUEUE: usize = SAMPLE_RATE_HZ as usize / 2;

/// Which processing the microphone gets; each part on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingConfig {
    /// Acoustic echo cancellation (WebRTC AEC3): removes what the speaker
    /// played from what the microphone hears.
    pub echo_cancellation: bool,
    /// Noise suppression (WebRTC NS, moderate: about 10 dB).
    pub noise_suppression: bool,
    /// Automatic gain control (WebRTC AGC2's adaptive digital gain and
    /// limiter): speech at a steady level.
    pub gain_control: bool,
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        Self {
            echo_cancellation: true,
            noise_suppression: true,
            gain_control: true,
        }
    }
}

impl ProcessingConfig {
    /// True when no part is on.
    pub fn is_off(&self) -> bool {
        !(self.echo_cancellation || self.noise_suppression || self.gain_control)
    }
}

/// Processes the microphone against the far end, 10 ms at a time.
pub trait AudioProcessor: Send {
    /// Gives the far end as it is played: [`PROCESSING_FRAME`] samples,
    /// 48 kHz mono, in `[-1, 1]`.
    ///
    /// # Errors
    /// [`MediaError::Invalid`] for another length; [`MediaError::Codec`] if
    /// the processor fails.
    fn render(&mut self, frame: &[f32]) -> Result<(), MediaError>;

    /// Processes one microphone frame in place: [`PROCESSING_FRAME`]
    /// samples, 48 kHz mono.
    ///
    /// # Errors
    /// As [`render`](Self::render); the frame is then left as it was.
    fn capture(&mut self, frame: &mut [f32]) -> Result<(), MediaError>;
}

fn check_len(frame: &[f32]) -> Result<(), MediaError> {
    if frame.len() == PROCESSING_FRAME {
        Ok(())
    } else {
        Err(MediaError::Invalid(format!(
            "audio processing takes {PROCESSING_FRAME} samples, got {}",
            frame.len()
        )))
    }
}

/// [`AudioProcessor`] over `sonora` (WebRTC's APM in Rust).
pub struct SonoraProcessor {
    apm: sonora::AudioProcessing,
    out: Vec<f32>,
}

impl SonoraProcessor {
    /// A processor doing what `config` turns on (the high-pass filter comes
    /// with echo cancellation, as in WebRTC).
    pub fn new(config: ProcessingConfig) -> Self {
        use sonora::config::{
            AdaptiveDigital, EchoCanceller, GainController2, HighPassFilter, NoiseSuppression,
        };
        let cfg = sonora::Config {
            high_pass_filter: config.echo_cancellation.then(HighPassFilter::default),
            echo_canceller: config.echo_cancellation.then(EchoCanceller::default),
            noise_suppression: config.noise_suppression.then(NoiseSuppression::default),
            gain_controller2: config.gain_control.then(|| GainController2 {
                adaptive_digital: Some(AdaptiveDigital::default()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let stream = sonora::StreamConfig::new(SAMPLE_RATE_HZ, 1);
        let apm = sonora::AudioProcessing::builder()
            .config(cfg)
            .capture_config(stream)
            .render_config(stream)
            .build();
        Self {
            apm,
            out: vec![0.0; PROCESSING_FRAME],
        }
    }
}

fn apm_err(what: &str, e: sonora::Error) -> MediaError {
    MediaError::Codec(format!("audio processing {what}: {e:?}"))
}

impl AudioProcessor for SonoraProcessor {
    fn render(&mut self, frame: &[f32]) -> Result<(), MediaError> {
        check_len(frame)?;
        self.apm
            .process_render_f32(&[frame], &mut [&mut self.out])
            .map_err(|e| apm_err("render", e))
    }

    fn capture(&mut self, frame: &mut [f32]) -> Result<(), MediaError> {
        check_len(frame)?;
        // The delay between playing and hearing is AEC3's to find.
        let _ = self.apm.set_stream_delay_ms(0);
        self.apm
            .process_capture_f32(&[frame], &mut [&mut self.out])
            .map_err(|e| apm_err("capture", e))?;
        frame.copy_from_slice(&self.out);
        Ok(())
    }
}

/// One far end's audio not yet given to the processor.
struct FarQueue {
    samples: VecDeque<f32>,
    /// When it was last fed: a stream silent for longer than [`STALE`] (its
    /// device stopped) no longer holds the others back.
    fed: Instant,
}

/// How long a far end may go unfed before the mix stops waiting for it.
const STALE: Duration = Duration::from_millis(200);

/// A call's processing: shared by the microphone's sender and every remote
/// audio stream that plays. Cloning shares it.
///
/// Two locks: the far ends' queues, taken briefly by each speaker's device
/// callback (a real-time thread) and by [`capture`](Self::capture) to copy
/// them out; and the processor, taken only by `capture`, for AEC3's work.
#[derive(Clone)]
pub struct EchoPath {
    queues: Arc<Mutex<BTreeMap<u64, FarQueue>>>,
    processor: Arc<Mutex<Box<dyn AudioProcessor>>>,
    next_id: Arc<AtomicU64>,
}

impl EchoPath {
    /// A path through `processor`.
    pub fn new(processor: Box<dyn AudioProcessor>) -> Self {
        Self {
            queues: Arc::new(Mutex::new(BTreeMap::new())),
            processor: Arc::new(Mutex::new(processor)),
            next_id: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A path through [`SonoraProcessor`] doing what `config` turns on;
    /// `None` when it turns nothing on.
    pub fn sonora(config: ProcessingConfig) -> Option<Self> {
        (!config.is_off()).then(|| Self::new(Box::new(SonoraProcessor::new(config))))
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, FarQueue>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A handle for one remote audio stream's far end; dropping it removes
    /// the stream from the mix.
    pub fn far_end(&self) -> FarEnd {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.queues().insert(
            id,
            FarQueue {
                samples: VecDeque::new(),
                fed: Instant::now(),
            },
        );
        FarEnd {
            path: self.clone(),
            id,
        }
    }

    /// The far end played since the last call, mixed per 10 ms: as many
    /// 10 ms frames as every live stream has (so the streams stay aligned
    /// however their devices' callbacks fall), each the sum of the streams,
    /// clamped to `[-1, 1]`.
    fn take_mix(&self) -> Vec<Vec<f32>> {
        let mut queues = self.queues();
        let now = Instant::now();
        let live = |q: &FarQueue| now.duration_since(q.fed) < STALE;
        let frames = queues
            .values()
            .filter(|q| live(q))
            .map(|q| q.samples.len() / PROCESSING_FRAME)
            .min()
            .unwrap_or(0);
        let mut mix = vec![vec![0.0f32; PROCESSING_FRAME]; frames];
        for q in queues.values_mut() {
            for frame in mix.iter_mut() {
                if q.samples.len() < PROCESSING_FRAME {
                    break;
                }
                for (m, s) in frame.iter_mut().zip(q.samples.drain(..PROCESSING_FRAME)) {
                    *m += s;
                }
            }
        }
        for frame in mix.iter_mut() {
            frame.iter_mut().for_each(|s| *s = s.clamp(-1.0, 1.0));
        }
        mix
    }

    /// Processes one microphone frame in place (any multiple of 10 ms; our
    /// 20 ms frames are two), after giving the processor the far end played
    /// since the last one.
    ///
    /// # Errors
    /// [`MediaError::Invalid`] for a length that is not a multiple of
    /// [`PROCESSING_FRAME`]; [`MediaError::Codec`] if the processor fails
    /// (the rest of the frame is left as it was).
    pub fn capture(&self, frame: &mut [f32]) -> Result<(), MediaError> {
        if !frame.len().is_multiple_of(PROCESSING_FRAME) {
            return Err(MediaError::Invalid(format!(
                "audio processing takes multiples of {PROCESSING_FRAME} samples, got {}",
                frame.len()
            )));
        }
        let mix = self.take_mix();
        let mut processor = self
            .processor
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for far in &mix {
            processor.render(far)?;
        }
        for chunk in frame.chunks_exact_mut(PROCESSING_FRAME) {
            processor.capture(chunk)?;
        }
        Ok(())
    }
}

/// One remote audio stream's far end in an [`EchoPath`].
pub struct FarEnd {
    path: EchoPath,
    id: u64,
}

impl FarEnd {
    /// Adds samples (48 kHz mono) as they are played. Takes only the queues'
    /// lock, briefly: fit for a device callback.
    pub fn played(&self, samples: &[f32]) {
        let mut queues = self.path.queues();
        if let Some(q) = queues.get_mut(&self.id) {
            q.samples.extend(samples);
            q.fed = Instant::now();
            let over = q.samples.len().saturating_sub(MAX_RENDER_QUEUE);
            q.samples.drain(..over);
        }
    }
}

impl Drop for FarEnd {
    fn drop(&mut self) {
        self.path.queues().remove(&self.id);
    }
}

#[cfg(test)]
#[path = "processing_tests.rs"]
mod tests;
