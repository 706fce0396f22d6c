//! A synthetic video source: moving colour bars and a frame-counter box.

use std::time::Duration;

use super::{I420Frame, VideoSource};
use crate::media::pace::Pacer;
use crate::media::{monotonic_us, MediaError};

/// BT.601 limited-range (Y, U, V) of the classic 75 % bars: white, yellow, cyan,
/// green, magenta, red, blue, black.
const BARS: [(u8, u8, u8); 8] = [
    (180, 128, 128),
    (162, 44, 142),
    (131, 156, 44),
    (112, 72, 58),
    (84, 184, 198),
    (65, 100, 212),
    (35, 212, 114),
    (16, 128, 128),
];

/// A [`VideoSource`] drawing colour bars that scroll 4 px a frame, with a box
/// showing the frame index as 16 binary cells (white = 1). The content depends
/// only on the frame index, so two runs produce identical frames.
pub struct TestPatternSource {
    width: u32,
    height: u32,
    fps: f64,
    index: u64,
    pacer: Pacer,
}

impl TestPatternSource {
    /// A `width × height` pattern (both even, ≥ 2 px) at `fps` frames per second.
    ///
    /// # Errors
    /// [`MediaError::Invalid`] for odd or zero dimensions or a non-positive `fps`.
    pub fn new(width: u32, height: u32, fps: f64) -> Result<Self, MediaError> {
        if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 {
            return Err(MediaError::Invalid(format!(
                "pattern size {width}x{height} must be even and non-zero"
            )));
        }
        if !(fps.is_finite() && fps > 0.0) {
            return Err(MediaError::Invalid(format!("frame rate {fps} Hz")));
        }
        Ok(Self {
            width,
            height,
            fps,
            index: 0,
            pacer: Pacer::new(Duration::from_secs_f64(1.0 / fps), true),
        })
    }

    /// Turns real-time pacing on (default) or off (tests).
    pub fn set_paced(&mut self, paced: bool) {
        self.pacer.set_paced(paced);
    }

    /// The frame index a decoded picture of this pattern shows in its counter
    /// box (read from the luma of each cell's centre; exact at any quality that
    /// keeps white and black apart). Modulo 2^16.
    pub fn shown_index(frame: &I420Frame) -> u64 {
        let w = frame.width as usize;
        let cell = (w / 20).clamp(2, 16) & !1;
        let y = (frame.height as usize).saturating_sub(2 * cell) + cell / 2;
        (0..16usize).fold(0, |index, bit| {
            let x = cell + bit * cell + cell / 2;
            let luma = frame.y().get(y * w + x).copied().unwrap_or(0);
            (index << 1) | u64::from(luma > 128)
        })
    }

    /// Draws frame number `index` (no pacing, no state change).
    pub fn render(&self, index: u64) -> I420Frame {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut f = I420Frame::new_black(self.width, self.height);
        let shift = (index as usize * 4) % w;
        let bar_of = |x: usize| ((x + shift) % w) * BARS.len() / w;
        let (cw, ch) = (f.chroma_width(), f.chroma_height());
        let (yp, up, vp) = f.planes_mut();
        let row: Vec<u8> = (0..w).map(|x| BARS[bar_of(x)].0).collect();
        for line in yp.chunks_exact_mut(w) {
            line.copy_from_slice(&row);
        }
        let urow: Vec<u8> = (0..cw).map(|x| BARS[bar_of(2 * x)].1).collect();
        let vrow: Vec<u8> = (0..cw).map(|x| BARS[bar_of(2 * x)].2).collect();
        for y in 0..ch {
            up[y * cw..(y + 1) * cw].copy_from_slice(&urow);
            vp[y * cw..(y + 1) * cw].copy_from_slice(&vrow);
        }
        // Counter box: 16 cells of `cell × cell` luma pixels, bit 15 first.
        let cell = (w / 20).clamp(2, 16) & !1;
        let (x0, y0) = (cell, h.saturating_sub(2 * cell));
        for bit in 0..16usize {
            let on = (index >> (15 - bit)) & 1 == 1;
            let value = if on { 235 } else { 16 };
            for y in y0..(y0 + cell).min(h) {
                let xs = x0 + bit * cell;
                let xe = (xs + cell).min(w);
                if xs < xe {
                    yp[y * w + xs..y * w + xe].fill(value);
                }
            }
            let (cx, cy) = ((x0 + bit * cell) / 2, y0 / 2);
            for y in cy..(cy + cell / 2).min(ch) {
                let xe = (cx + cell / 2).min(cw);
                if cx < xe {
                    up[y * cw + cx..y * cw + xe].fill(128);
                    vp[y * cw + cx..y * cw + xe].fill(128);
                }
            }
        }
        f
    }
}

impl VideoSource for TestPatternSource {
    fn width(&self) -> u32 {
        self.width
    }
    fn height(&self) -> u32 {
        self.height
    }
    fn fps(&self) -> f64 {
        self.fps
    }
    fn next_frame(&mut self) -> Result<I420Frame, MediaError> {
        self.pacer.wait();
        let mut f = self.render(self.index);
        f.capture_us = monotonic_us();
        self.index += 1;
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_moving() {
        let mut a = TestPatternSource::new(64, 48, 30.0).unwrap();
        a.set_paced(false);
        let f0 = a.next_frame().unwrap();
        let f1 = a.next_frame().unwrap();
        assert_ne!(f0.data, f1.data);
        assert_eq!(a.render(1).data, f1.data);
        assert_eq!(f0.data.len(), 64 * 48 * 3 / 2);
        assert!(TestPatternSource::new(63, 48, 30.0).is_err());
        assert!(TestPatternSource::new(64, 48, 0.0).is_err());
    }
}
