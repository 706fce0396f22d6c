//! What the group-call tests' members send, as the tests know it: clips made
//! from the recorded footage (mirrored, upside down, turned, inverted) and the
//! test pattern; how well a received frame matches each.

use std::path::Path;

use parley_engine::media::{I420Frame, TestPatternSource, Y4mRecorder};

/// Frames per second the members send.
pub const FPS: f64 = 15.0;
/// Width of the members' video, pixels.
pub const W: u32 = 320;
/// Height of the members' video, pixels.
pub const H: u32 = 180;

/// What a member sends.
pub enum Source {
    /// Frames of a clip, played in a loop.
    Clip(Vec<I420Frame>),
    /// Parley's test pattern: each frame shows its index.
    Pattern,
}

/// Luma PSNR on every 4th pixel of every 4th row, dB (cheap enough to compare
/// each received frame with a whole clip).
pub fn psnr_sparse(a: &I420Frame, b: &I420Frame) -> f64 {
    if (a.width, a.height) != (b.width, b.height) {
        return 0.0;
    }
    let w = a.width as usize;
    let (mut sse, mut n) = (0u64, 0u64);
    for y in (0..a.height as usize).step_by(4) {
        for x in (0..w).step_by(4) {
            let d = i64::from(a.y()[y * w + x]) - i64::from(b.y()[y * w + x]);
            sse += (d * d) as u64;
            n += 1;
        }
    }
    if sse == 0 {
        return 100.0;
    }
    10.0 * (255.0f64 * 255.0 * n as f64 / sse as f64).log10()
}

impl Source {
    /// How well `frame` matches this source, dB.
    pub fn match_db(&self, frame: &I420Frame) -> f64 {
        match self {
            Source::Clip(frames) => frames
                .iter()
                .map(|s| psnr_sparse(s, frame))
                .fold(f64::MIN, f64::max),
            Source::Pattern => {
                let pattern = TestPatternSource::new(W, H, FPS).unwrap();
                psnr_sparse(
                    &pattern.render(TestPatternSource::shown_index(frame)),
                    frame,
                )
            }
        }
    }

    /// Mean match over every 5th frame of `frames`, dB.
    pub fn mean_db(&self, frames: &[I420Frame]) -> f64 {
        let picked: Vec<&I420Frame> = frames.iter().step_by(5).collect();
        picked.iter().map(|f| self.match_db(f)).sum::<f64>() / picked.len() as f64
    }
}

/// A change of picture that keeps a clip recognisable but distinct.
#[derive(Clone, Copy)]
pub enum Transform {
    /// Left to right.
    Mirror,
    /// Upside down.
    Flip,
    /// Turned 180° (mirrored and upside down).
    Turn,
    /// Luma inverted (a negative), chroma kept.
    Invert,
}

/// `frames` changed by `how`.
pub fn transformed(frames: &[I420Frame], how: Transform) -> Vec<I420Frame> {
    frames
        .iter()
        .map(|f| {
            let mut out = f.clone();
            let (cw, ch) = (f.chroma_width(), f.chroma_height());
            let (w, h) = (f.width as usize, f.height as usize);
            let planes = [(f.y(), w, h), (f.u(), cw, ch), (f.v(), cw, ch)];
            let (y, u, v) = out.planes_mut();
            for (plane, ((src, pw, ph), dst)) in planes.into_iter().zip([y, u, v]).enumerate() {
                for row in 0..ph {
                    for col in 0..pw {
                        let (sx, sy) = match how {
                            Transform::Mirror => (pw - 1 - col, row),
                            Transform::Flip => (col, ph - 1 - row),
                            Transform::Turn => (pw - 1 - col, ph - 1 - row),
                            Transform::Invert => (col, row),
                        };
                        let px = src[sy * pw + sx];
                        dst[row * pw + col] = match how {
                            Transform::Invert if plane == 0 => 255 - px,
                            _ => px,
                        };
                    }
                }
            }
            out
        })
        .collect()
}

/// Writes `frames` as a Y4M file at [`FPS`], for `--video-file`.
pub fn write_clip(path: &Path, frames: &[I420Frame]) {
    let mut rec = Y4mRecorder::create(path, FPS as u32).unwrap();
    for f in frames {
        rec.write(f).unwrap();
    }
    rec.finish().unwrap();
}

/// A mono 16-bit 48 kHz WAV file (a `--record-audio` recording) as samples
/// in -1..1.
pub fn read_wav_mono(path: &Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(path).unwrap();
    assert_eq!(r.spec().sample_rate, 48_000, "{}", path.display());
    r.samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect()
}

/// The recorded speech (`jfk.wav`) as the CLI sends it, samples in -1..1 at 48 kHz.
pub fn speech_reference(speech: &Path) -> Vec<f32> {
    let mut src = parley_engine::media::WavFileSource::open(speech, false).unwrap();
    src.set_paced(false);
    let mut reference = Vec::new();
    while let Ok(frame) = parley_engine::media::AudioSource::next_frame(&mut src) {
        reference.extend_from_slice(&frame);
    }
    reference
}
