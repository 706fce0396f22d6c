//! Media pipeline pieces: video and audio sources, codecs and sinks.
//!
//! Everything here is synchronous and thread-friendly: a sender loop is simply
//! `loop { source.next_frame() → encode → write }` on a dedicated thread, because
//! sources block until their next frame is due (they pace themselves). The call
//! layer wires these pieces to WebRTC tracks.
//!
//! - Video ([`video`]): [`I420Frame`] (8-bit 4:2:0), sources ([`Y4mFileSource`],
//!   [`TestPatternSource`], [`CameraSource`]), the H.264 codec ([`H264Encoder`],
//!   [`H264Decoder`]) and the [`Y4mRecorder`] sink.
//! - Audio ([`audio`]): mono `f32` at 48 kHz in 20 ms frames of 960 samples;
//!   sources ([`WavFileSource`], [`ToneSource`], [`MicSource`]), the Opus codec, a
//!   pure [`JitterBuffer`] and the sinks [`WavRecorder`] and [`SpeakerSink`].
//! - Screens ([`screen`]): monitors and windows to share, captured as I420 at
//!   5–30 frames/s ([`screen::ScreenSource`]).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

pub mod audio;
mod pace;
pub mod screen;
pub mod video;

pub use audio::{
    list_input_devices, list_output_devices, normalized_xcorr_best, opus_has_fec, AudioDeviceInfo,
    AudioProcessor, AudioSource, DeviceSwitch, EchoPath, FarEnd, JitterBuffer, JitterOut,
    MicSource, OpusDecoder, OpusEncoder, ProcessingConfig, SonoraProcessor, SpeakerSink,
    StreamResampler, SwitchReason, ToneSource, WavFileSource, WavRecorder, FRAME_SAMPLES,
    PROCESSING_FRAME, SAMPLE_RATE_HZ,
};
pub use video::{
    half_size, list_cameras, nal_types, psnr_y, read_stamp, read_y4m_all, rgb_to_i420, scale,
    stamp, unix_ms, CameraInfo, CameraSource, ClockStampSource, ContentHint, H264Decoder,
    H264Encoder, I420Frame, TestPatternSource, VideoSource, Y4mFileSource, Y4mRecorder,
    DEFAULT_CAMERA_MODE,
};

/// Everything the media pipeline can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// Filesystem error on a media file.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The input is not in a format we can read (bad header, unsupported colorspace,
    /// wrong sample format, truncated data).
    #[error("unsupported or malformed media: {what}")]
    Format {
        /// What is wrong, for a human.
        what: String,
    },
    /// An encoder or decoder (H.264, Opus, resampler) failed.
    #[error("codec: {0}")]
    Codec(String),
    /// A capture or playback device failed (open, configure, stream error).
    #[error("device: {0}")]
    Device(String),
    /// No device of this kind exists (or the feature that drives it is off).
    #[error("no {kind} device")]
    NoDevice {
        /// `"camera"`, `"audio input"`, `"audio output"` or `"screen"`.
        kind: &'static str,
    },
    /// A non-looping file source has delivered its last frame.
    #[error("end of stream")]
    EndOfStream,
    /// The caller passed something unusable (odd dimensions, wrong frame size,
    /// zero frame rate); misuse is an error value, never a panic.
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl MediaError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MediaError::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`MediaError::Format`] with the given description.
    pub fn format(what: impl Into<String>) -> Self {
        MediaError::Format { what: what.into() }
    }
}

/// Monotonic microseconds since the first call in this process: the clock of
/// [`I420Frame::capture_us`]. Never goes backwards; unrelated to wall-clock time.
pub fn monotonic_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}
