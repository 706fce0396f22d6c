//! Audio: mono `f32` samples at 48 kHz in 20 ms frames of 960 samples, everywhere.
//!
//! Sources pace themselves like video sources; the Opus codec, a pure jitter
//! buffer, WAV and speaker sinks, a streaming resampler and a correlation helper.

mod device;
mod jitter;
mod jitter_delay;
mod opus_codec;
mod processing;
mod resample;
mod wav;
mod xcorr;

pub use device::{
    list_input_devices, list_output_devices, AudioDeviceInfo, DeviceSwitch, MicSource, SpeakerSink,
    SwitchFn, SwitchReason,
};
pub use jitter::{JitterBuffer, JitterOut, JitterStats};
pub use opus_codec::{opus_has_fec, OpusDecoder, OpusEncoder};
pub use processing::{
    AudioProcessor, EchoPath, FarEnd, ProcessingConfig, SonoraProcessor, PROCESSING_FRAME,
};
pub use resample::{resample_all, StreamResampler};
pub use wav::{WavFileSource, WavRecorder};
pub use xcorr::normalized_xcorr_best;

use std::time::Duration;

use super::pace::Pacer;
use super::MediaError;

/// The internal sample rate, Hz.
pub const SAMPLE_RATE_HZ: u32 = 48_000;
/// Samples in one 20 ms frame at [`SAMPLE_RATE_HZ`] (one Opus packet).
pub const FRAME_SAMPLES: usize = 960;
/// Duration of one frame, ms.
pub const FRAME_MS: u64 = 20;

/// A producer of audio that paces itself at real time.
pub trait AudioSource: Send {
    /// Blocks until the next 20 ms frame is due and returns it: exactly
    /// [`FRAME_SAMPLES`] mono samples at 48 kHz, nominally in −1.0..=1.0.
    ///
    /// # Errors
    /// [`MediaError::EndOfStream`] when a finite source is done; device or I/O
    /// errors otherwise.
    fn next_frame(&mut self) -> Result<Vec<f32>, MediaError>;

    /// Whether this is a live microphone, hearing the room (the speaker's
    /// echo, noise): only such a source gets echo cancellation, noise
    /// suppression and gain control. False for files and test signals.
    fn captures_room(&self) -> bool {
        false
    }
}

pub(crate) fn frame_pacer() -> Pacer {
    Pacer::new(Duration::from_millis(FRAME_MS), true)
}

/// A sine wave source (test signal), phase-continuous across frames.
pub struct ToneSource {
    freq_hz: f64,
    amplitude: f32,
    phase: f64,
    pacer: Pacer,
}

impl ToneSource {
    /// A sine of `freq_hz` Hz with peak `amplitude` (0.0..=1.0) at 48 kHz.
    pub fn new(freq_hz: f64, amplitude: f32) -> Self {
        Self {
            freq_hz,
            amplitude,
            phase: 0.0,
            pacer: frame_pacer(),
        }
    }

    /// Turns real-time pacing on (default) or off (tests).
    pub fn set_paced(&mut self, paced: bool) {
        self.pacer.set_paced(paced);
    }
}

impl AudioSource for ToneSource {
    fn next_frame(&mut self) -> Result<Vec<f32>, MediaError> {
        self.pacer.wait();
        let step = std::f64::consts::TAU * self.freq_hz / f64::from(SAMPLE_RATE_HZ);
        let frame = (0..FRAME_SAMPLES)
            .map(|_| {
                let s = self.phase.sin() as f32 * self.amplitude;
                self.phase = (self.phase + step) % std::f64::consts::TAU;
                s
            })
            .collect();
        Ok(frame)
    }
}

/// Mixes interleaved `channels`-channel samples down to mono by averaging.
pub(crate) fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return interleaved.to_vec();
    }
    interleaved
        .chunks_exact(channels)
        .map(|c| c.iter().sum::<f32>() / channels as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_is_continuous() {
        let mut t = ToneSource::new(1000.0, 0.5);
        t.set_paced(false);
        let a = t.next_frame().unwrap();
        let b = t.next_frame().unwrap();
        assert_eq!(a.len(), FRAME_SAMPLES);
        let peak = a.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.01);
        // 1 kHz at 48 kHz: exactly 20 periods a frame, so frames repeat.
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-3));
        assert_eq!(downmix(&[1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
    }
}
