//! Picture scaling for I420 frames: a camera sent at half size when the
//! bitrate is too low for its full size, and a recording that keeps one size
//! while the picture it is given changes.

use super::I420Frame;

/// The size a frame of `width × height` is sent at when halved: each side
/// halved and kept even (I420 chroma is subsampled 2×2), at least 2 pixels.
pub fn half_size(width: u32, height: u32) -> (u32, u32) {
    let half = |n: u32| ((n / 2) & !1).max(2);
    (half(width), half(height))
}

/// Scales one plane of `sw × sh` bytes to `dw × dh` bytes, bilinear (pixel
/// centres aligned). At exactly 2:1 this averages each 2×2 block.
fn scale_plane(src: &[u8], (sw, sh): (usize, usize), dst: &mut [u8], (dw, dh): (usize, usize)) {
    let fx = sw as f32 / dw as f32;
    let fy = sh as f32 / dh as f32;
    // Source position of each destination column: left index and weight.
    let cols: Vec<(usize, usize, f32)> = (0..dw)
        .map(|x| {
            let p = ((x as f32 + 0.5) * fx - 0.5).clamp(0.0, (sw - 1) as f32);
            let x0 = p as usize;
            (x0, (x0 + 1).min(sw - 1), p - x0 as f32)
        })
        .collect();
    for y in 0..dh {
        let p = ((y as f32 + 0.5) * fy - 0.5).clamp(0.0, (sh - 1) as f32);
        let y0 = p as usize;
        let (y1, wy) = ((y0 + 1).min(sh - 1), p - y0 as f32);
        let (r0, r1) = (&src[y0 * sw..(y0 + 1) * sw], &src[y1 * sw..(y1 + 1) * sw]);
        let row = &mut dst[y * dw..(y + 1) * dw];
        for (out, &(x0, x1, wx)) in row.iter_mut().zip(&cols) {
            let top = f32::from(r0[x0]) * (1.0 - wx) + f32::from(r0[x1]) * wx;
            let bottom = f32::from(r1[x0]) * (1.0 - wx) + f32::from(r1[x1]) * wx;
            *out = (top * (1.0 - wy) + bottom * wy + 0.5) as u8;
        }
    }
}

/// `frame` scaled to `width × height` (bilinear; the capture time kept). The
/// same size returns a copy; an empty frame or size gives black.
pub fn scale(frame: &I420Frame, width: u32, height: u32) -> I420Frame {
    if (frame.width, frame.height) == (width, height) {
        return frame.clone();
    }
    let mut out = I420Frame::new_black(width, height);
    out.capture_us = frame.capture_us;
    if [frame.width, frame.height, width, height].contains(&0) {
        return out;
    }
    let (sw, sh) = (frame.width as usize, frame.height as usize);
    let (scw, sch) = (frame.chroma_width(), frame.chroma_height());
    let (dw, dh) = (out.width as usize, out.height as usize);
    let (dcw, dch) = (out.chroma_width(), out.chroma_height());
    let (y, u, v) = out.planes_mut();
    scale_plane(frame.y(), (sw, sh), y, (dw, dh));
    scale_plane(frame.u(), (scw, sch), u, (dcw, dch));
    scale_plane(frame.v(), (scw, sch), v, (dcw, dch));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{psnr_y, TestPatternSource, VideoSource};

    #[test]
    fn half_sizes_stay_even() {
        assert_eq!(half_size(640, 360), (320, 180));
        assert_eq!(half_size(1280, 720), (640, 360));
        assert_eq!(half_size(642, 362), (320, 180));
        assert_eq!(half_size(2, 2), (2, 2));
    }

    #[test]
    fn halving_averages_blocks_and_back_up_is_close() {
        let mut src = I420Frame::new_black(4, 2);
        src.planes_mut()
            .0
            .copy_from_slice(&[0, 100, 50, 50, 100, 200, 50, 50]);
        let half = scale(&src, 2, 2);
        assert_eq!(half.y(), &[50, 50, 150, 50]);
        let small = scale(&src, 2, 1);
        assert_eq!(small.y(), &[100, 50]);

        // A real picture halved and scaled back keeps its content.
        let frame = TestPatternSource::new(640, 360, 30.0)
            .unwrap()
            .next_frame()
            .unwrap();
        let (w, h) = half_size(640, 360);
        let down = scale(&frame, w, h);
        assert_eq!(
            (down.width, down.height, down.data.len()),
            (320, 180, 320 * 180 * 3 / 2)
        );
        let back = scale(&down, 640, 360);
        let db = psnr_y(&frame, &back);
        assert!(db > 24.0, "halved and back: {db:.1} dB");
        assert_eq!(back.capture_us, frame.capture_us);
    }
}
