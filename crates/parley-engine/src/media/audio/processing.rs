//! Echo cancellation, noise suppression and gain control on the microphone.
//!
//! [`AudioProcessor`] is the seam: 10 ms frames of 48 kHz mono, the far end as
//! it is played (render) and the microphone (capture). [`SonoraProcessor`]
//! implements it with `sonora`, a pure-Rust port of WebRTC's audio processing
//! module (AEC3, noise suppression, AGC2). [`EchoPath`] is what a call holds:
//! every remote audio stream that plays adds its frames as they go to the
//! speaker, mixed per 10 ms, and the microphone's frames are processed after
//! the far end they may echo has been given to the processor.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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

struct PathState {
    processor: Box<dyn AudioProcessor>,
    /// Far-end audio not yet given to the processor, per remote stream.
    queues: BTreeMap<u64, VecDeque<f32>>,
    mix: Vec<f32>,
}

/// A call's processing: shared by the microphone's sender and every remote
/// audio stream that plays. Cloning shares it.
#[derive(Clone)]
pub struct EchoPath {
    state: Arc<Mutex<PathState>>,
    next_id: Arc<AtomicU64>,
}

impl EchoPath {
    /// A path through `processor`.
    pub fn new(processor: Box<dyn AudioProcessor>) -> Self {
        Self {
            state: Arc::new(Mutex::new(PathState {
                processor,
                queues: BTreeMap::new(),
                mix: vec![0.0; PROCESSING_FRAME],
            })),
            next_id: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A path through [`SonoraProcessor`] doing what `config` turns on;
    /// `None` when it turns nothing on.
    pub fn sonora(config: ProcessingConfig) -> Option<Self> {
        (!config.is_off()).then(|| Self::new(Box::new(SonoraProcessor::new(config))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PathState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A handle for one remote audio stream's far end; dropping it removes
    /// the stream from the mix.
    pub fn far_end(&self) -> FarEnd {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().queues.insert(id, VecDeque::new());
        FarEnd {
            path: self.clone(),
            id,
        }
    }

    /// Processes one microphone frame in place (any multiple of 10 ms; our
    /// 20 ms frames are two), after giving the processor the far end played
    /// since the last one: each 10 ms, the sum of every stream that played
    /// then.
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
        let mut guard = self.lock();
        let st = &mut *guard;
        while st.queues.values().any(|q| q.len() >= PROCESSING_FRAME) {
            st.mix.fill(0.0);
            for q in st.queues.values_mut() {
                if q.len() >= PROCESSING_FRAME {
                    for (m, s) in st.mix.iter_mut().zip(q.drain(..PROCESSING_FRAME)) {
                        *m += s;
                    }
                }
            }
            st.processor.render(&st.mix)?;
        }
        for chunk in frame.chunks_exact_mut(PROCESSING_FRAME) {
            st.processor.capture(chunk)?;
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
    /// Adds samples (48 kHz mono) as they go to the speaker.
    pub fn played(&self, samples: &[f32]) {
        let mut st = self.path.lock();
        if let Some(q) = st.queues.get_mut(&self.id) {
            q.extend(samples);
            let over = q.len().saturating_sub(MAX_RENDER_QUEUE);
            q.drain(..over);
        }
    }
}

impl Drop for FarEnd {
    fn drop(&mut self) {
        self.path.lock().queues.remove(&self.id);
    }
}

#[cfg(test)]
#[path = "processing_tests.rs"]
mod tests;
