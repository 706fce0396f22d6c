//! Glass-to-glass latency probe: the wall-clock time a frame was captured,
//! drawn into the picture itself, and read back from the decoded picture.
//!
//! A sender wraps its source in [`ClockStampSource`]; each frame gets, as it
//! leaves the source, its capture time (ms since the Unix epoch, 48 bits) and
//! a 16-bit check drawn as 64 black or white 16×16 luma blocks (H.264
//! macroblocks, so the encoder keeps them sharp), left to right and row by
//! row from the top-left corner. A receiver on the same machine (the same
//! clock) calls [`read_stamp`] on each decoded frame it hands to its sink:
//! now minus the stamp is the glass-to-glass latency, capture → encode →
//! packetise → network → jitter buffer → decode → sink. A stamp whose check
//! does not match (a frame decoded with errors) reads as `None`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{I420Frame, VideoSource};
use crate::media::MediaError;

/// Side of one stamp block, pixels: an H.264 macroblock.
pub const STAMP_BLOCK: u32 = 16;
/// Blocks in a stamp: 48 bits of time and 16 of check.
const STAMP_BITS: u32 = 64;
/// Luma of a 0 and of a 1 (BT.601 limited range).
const DARK: u8 = 16;
const LIGHT: u8 = 235;

/// The wall clock, ms since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Where block `bit` of a stamp sits in a `width`-pixel-wide frame: its
/// top-left pixel, or `None` if the frame is too small to hold the stamp.
fn block_origin(width: u32, height: u32, bit: u32) -> Option<(usize, usize)> {
    let per_row = width / STAMP_BLOCK;
    if per_row == 0 {
        return None;
    }
    let rows = STAMP_BITS.div_ceil(per_row);
    if rows * STAMP_BLOCK > height {
        return None;
    }
    let (row, col) = (bit / per_row, bit % per_row);
    Some(((col * STAMP_BLOCK) as usize, (row * STAMP_BLOCK) as usize))
}

/// The 64 stamp bits of `ms`: the low 48 bits of it, then a check.
fn stamp_word(ms: u64) -> u64 {
    let time = ms & 0xffff_ffff_ffff;
    let check = !((time ^ (time >> 16) ^ (time >> 32)) & 0xffff) & 0xffff;
    time | (check << 48)
}

/// Draws `ms` (ms since the Unix epoch) into `frame`'s top-left corner, the
/// blocks' chroma made neutral. Frames too small for the 64 blocks (at most
/// 1024 × 16 pixels, wrapping to more rows in narrower frames) are left as
/// they are; returns whether the stamp was drawn.
pub fn stamp(frame: &mut I420Frame, ms: u64) -> bool {
    let (width, height) = (frame.width, frame.height);
    if block_origin(width, height, STAMP_BITS - 1).is_none() {
        return false;
    }
    let word = stamp_word(ms);
    let (w, cw) = (width as usize, frame.chroma_width());
    let (y, u, v) = frame.planes_mut();
    let side = STAMP_BLOCK as usize;
    for bit in 0..STAMP_BITS {
        let (x0, y0) = block_origin(width, height, bit).expect("checked");
        let value = if word >> bit & 1 == 1 { LIGHT } else { DARK };
        for row in y0..y0 + side {
            y[row * w + x0..row * w + x0 + side].fill(value);
        }
        for row in y0 / 2..(y0 + side) / 2 {
            u[row * cw + x0 / 2..row * cw + (x0 + side) / 2].fill(128);
            v[row * cw + x0 / 2..row * cw + (x0 + side) / 2].fill(128);
        }
    }
    true
}

/// The capture time stamped in `frame` (ms since the Unix epoch), read from
/// the middle 8×8 pixels of each block; `None` without a valid stamp.
pub fn read_stamp(frame: &I420Frame) -> Option<u64> {
    let (width, height) = (frame.width, frame.height);
    block_origin(width, height, STAMP_BITS - 1)?;
    let (y, w) = (frame.y(), width as usize);
    let side = STAMP_BLOCK as usize;
    let mut word = 0u64;
    for bit in 0..STAMP_BITS {
        let (x0, y0) = block_origin(width, height, bit)?;
        let mut sum = 0u32;
        for row in y0 + side / 4..y0 + 3 * side / 4 {
            let line = &y[row * w + x0 + side / 4..row * w + x0 + 3 * side / 4];
            sum += line.iter().map(|&p| u32::from(p)).sum::<u32>();
        }
        let mean = sum / (side as u32 / 2).pow(2);
        if mean > u32::from(DARK + LIGHT) / 2 {
            word |= 1 << bit;
        }
    }
    let time = word & 0xffff_ffff_ffff;
    (stamp_word(time) == word).then_some(time)
}

/// A video source whose frames carry their capture time ([`stamp`]), drawn as
/// they leave the inner source.
pub struct ClockStampSource {
    inner: Box<dyn VideoSource>,
}

impl ClockStampSource {
    /// Stamps the frames of `inner`.
    pub fn new(inner: Box<dyn VideoSource>) -> Self {
        ClockStampSource { inner }
    }
}

impl VideoSource for ClockStampSource {
    fn width(&self) -> u32 {
        self.inner.width()
    }
    fn height(&self) -> u32 {
        self.inner.height()
    }
    fn fps(&self) -> f64 {
        self.inner.fps()
    }
    fn next_frame(&mut self) -> Result<I420Frame, MediaError> {
        let mut frame = self.inner.next_frame()?;
        stamp(&mut frame, unix_ms());
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back_and_a_damaged_one_does_not() {
        for (w, h) in [(1280, 720), (640, 360), (320, 240)] {
            let mut frame = I420Frame::new_black(w, h);
            let ms = 1_764_800_000_123;
            assert!(stamp(&mut frame, ms));
            assert_eq!(read_stamp(&frame), Some(ms), "{w}x{h}");
            // Noise well below the threshold is tolerated.
            let (y, _, _) = frame.planes_mut();
            for (i, p) in y.iter_mut().enumerate() {
                *p = p.saturating_add((i % 40) as u8);
            }
            assert_eq!(read_stamp(&frame), Some(ms), "{w}x{h} with noise");
            // One block flipped: the check fails.
            let (y, _, _) = frame.planes_mut();
            for row in 0..16 {
                let at = row * w as usize;
                let flipped = (DARK + LIGHT).saturating_sub(y[at]);
                y[at..at + 16].fill(flipped);
            }
            assert_eq!(read_stamp(&frame), None, "{w}x{h} damaged");
        }
        assert_eq!(read_stamp(&I420Frame::new_black(640, 360)), None);
        let mut tiny = I420Frame::new_black(64, 32);
        assert!(!stamp(&mut tiny, 5));
        assert_eq!(read_stamp(&tiny), None);
    }
}
