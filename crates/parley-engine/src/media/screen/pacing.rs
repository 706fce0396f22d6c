//! Choosing the screen capture rate from how much the picture changes.

use std::time::{Duration, Instant};

use super::RgbaImage;

/// Fraction of sampled pixels that must change for "motion" (the maximum rate).
const MOTION_FRACTION: f64 = 0.02;
/// How long the screen must stay calm before the rate falls back, ms.
const CALM_MS: u64 = 1_000;
/// Sampling step in both directions, pixels (1/256 of the pixels are compared).
const STEP: usize = 16;

/// Keeps a sparse sample of the last picture and picks the next capture interval:
/// the maximum rate while more than 2 % of the sample changes between pictures,
/// the middle rate for smaller changes (typing, a cursor), the minimum rate after
/// a calm second.
pub(super) struct ContentPacer {
    min_fps: f64,
    max_fps: f64,
    fps: f64,
    sample: Vec<u8>,
    last_change: Instant,
}

impl ContentPacer {
    pub(super) fn new(min_fps: f64, max_fps: f64) -> Self {
        Self {
            min_fps,
            max_fps,
            fps: min_fps,
            sample: Vec::new(),
            last_change: Instant::now(),
        }
    }

    /// Looks at a new picture and updates the rate.
    pub(super) fn observe(&mut self, image: &RgbaImage) {
        let sample = sparse_sample(image);
        if sample.len() != self.sample.len() {
            self.sample = sample;
            self.fps = self.max_fps;
            self.last_change = Instant::now();
            return;
        }
        let changed = sample
            .chunks_exact(3)
            .zip(self.sample.chunks_exact(3))
            .filter(|(a, b)| a != b)
            .count();
        let fraction = changed as f64 / (sample.len() / 3).max(1) as f64;
        self.sample = sample;
        if fraction > MOTION_FRACTION {
            self.fps = self.max_fps;
            self.last_change = Instant::now();
        } else if changed > 0 {
            self.fps = self.fps.max((self.min_fps + self.max_fps) / 2.0);
            self.last_change = Instant::now();
        } else if self.last_change.elapsed() > Duration::from_millis(CALM_MS) {
            self.fps = self.min_fps;
        }
    }

    /// The current rate, frames/s.
    pub(super) fn fps(&self) -> f64 {
        self.fps
    }

    /// Time between captures at the current rate.
    pub(super) fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.fps)
    }
}

fn sparse_sample(image: &RgbaImage) -> Vec<u8> {
    let (w, h) = (image.width as usize, image.height as usize);
    let mut out = Vec::with_capacity((w / STEP + 1) * (h / STEP + 1) * 3);
    for y in (0..h).step_by(STEP) {
        for x in (0..w).step_by(STEP) {
            let i = (y * w + x) * 4;
            out.extend_from_slice(&image.data[i..i + 3]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: u32, h: u32, seed: u8) -> RgbaImage {
        RgbaImage {
            width: w,
            height: h,
            data: (0..w * h * 4)
                .map(|i| (i as u8).wrapping_mul(seed))
                .collect(),
        }
    }

    #[test]
    fn rate_follows_content() {
        let mut p = ContentPacer::new(5.0, 30.0);
        p.observe(&image(320, 240, 1));
        assert_eq!(p.fps(), 30.0, "a new picture starts at the top rate");
        p.last_change = Instant::now() - Duration::from_secs(2);
        p.observe(&image(320, 240, 1));
        assert_eq!(p.fps(), 5.0, "a still screen falls to the minimum");
        let mut small = image(320, 240, 1);
        small.data[0] ^= 0xff;
        p.observe(&small);
        assert_eq!(p.fps(), 17.5, "a small change: the middle rate");
        p.observe(&image(320, 240, 3));
        assert_eq!(p.fps(), 30.0, "motion: the top rate");
        assert_eq!(p.interval(), Duration::from_secs_f64(1.0 / 30.0));
    }
}
