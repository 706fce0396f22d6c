//! `parley-bench --convert`: a camera frame's colour conversion, packed RGB to
//! I420 at 1280x720 (what a camera delivering RGB costs per frame), the
//! engine's `rgb_to_i420` (SIMD, the `yuv` crate) against the scalar loop it
//! replaced, measured in the same run.

use std::time::Instant;

use anyhow::Result;
use parley_engine::media::rgb_to_i420;

/// The scalar loop `rgb_to_i420` used before (BT.601 limited range, chroma the
/// average of each 2×2 block): the reference. Returns the three planes.
fn scalar_rgb_to_i420(rgb: &[u8], w: usize, h: usize) -> Vec<u8> {
    let cw = w / 2;
    let mut out = vec![0u8; w * h * 3 / 2];
    let (yp, uv) = out.split_at_mut(w * h);
    let (up, vp) = uv.split_at_mut(w * h / 4);
    let px = |x: usize, y: usize| {
        let i = (y * w + x) * 3;
        (
            i32::from(rgb[i]),
            i32::from(rgb[i + 1]),
            i32::from(rgb[i + 2]),
        )
    };
    for cy in 0..h / 2 {
        for cx in 0..cw {
            let (mut rs, mut gs, mut bs) = (0, 0, 0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (x, y) = (2 * cx + dx, 2 * cy + dy);
                let (r, g, b) = px(x, y);
                yp[y * w + x] = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8;
                rs += r;
                gs += g;
                bs += b;
            }
            let (r, g, b) = ((rs + 2) / 4, (gs + 2) / 4, (bs + 2) / 4);
            up[cy * cw + cx] = (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128) as u8;
            vp[cy * cw + cx] = (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128) as u8;
        }
    }
    out
}

/// Converts `frames` 1280x720 RGB frames both ways and prints ms per frame for
/// each and the ratio; checks the two agree (luma within 1 on average).
///
/// Errors: the engine's conversion failed, or the two disagree.
pub fn run(frames: usize) -> Result<()> {
    let (w, h) = (1280usize, 720usize);
    // A picture with gradients and texture, not one colour.
    let rgb: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            [
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((x * 7 + y * 13) % 256) as u8,
            ]
        })
        .collect();
    let t = Instant::now();
    let mut ours = None;
    for i in 0..frames {
        ours = Some(rgb_to_i420(&rgb, w as u32, h as u32, i as u64)?);
    }
    let simd_ms = t.elapsed().as_secs_f64() * 1000.0 / frames as f64;
    let t = Instant::now();
    let mut reference = Vec::new();
    for _ in 0..frames {
        reference = std::hint::black_box(scalar_rgb_to_i420(&rgb, w, h));
    }
    let scalar_ms = t.elapsed().as_secs_f64() * 1000.0 / frames as f64;
    let ours = ours.expect("at least one frame");
    let diff: u64 = ours
        .y()
        .iter()
        .zip(&reference[..w * h])
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    let mean_diff = diff as f64 / (w * h) as f64;
    anyhow::ensure!(
        mean_diff <= 1.0,
        "the conversions disagree: mean luma difference {mean_diff:.2}"
    );
    println!(
        "RGB → I420 1280x720: {simd_ms:.3} ms/frame (yuv crate, SIMD), scalar reference {scalar_ms:.3} ms/frame, ratio {:.2} ({frames} frames; mean luma difference {mean_diff:.2})",
        simd_ms / scalar_ms
    );
    Ok(())
}
