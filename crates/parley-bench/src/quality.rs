//! `parley-bench --camera-quality`: what the camera's default bitrate ceiling
//! buys at 1280x720. The 1280x720 30 frames/s footage (`scripts/bench-setup.sh`)
//! is encoded with the engine's H.264 encoder at the old fixed ceiling
//! (800 kbit/s, the reference) and at [`default_camera_bitrate_bps`] for its
//! size, decoded, and compared with the source frame by frame (PSNR of luma).

use std::time::Instant;

use anyhow::{ensure, Context as _, Result};
use parley_engine::call::{default_camera_bitrate_bps, DEFAULT_VIDEO_BITRATE_BPS};
use parley_engine::media::video::{psnr_y, read_y4m_all, H264Decoder, H264Encoder};
use parley_engine::media::I420Frame;

/// The footage's frame rate, frames/s (`scripts/bench-setup.sh` makes it so).
const FOOTAGE_FPS: f64 = 30.0;

/// One encode-and-decode pass over the footage.
struct Pass {
    /// Mean PSNR-Y of what a viewer sees against each source frame from the
    /// first one decoded on, dB: the decoded frame, or for a frame the
    /// encoder skipped the last one decoded.
    mean_db: f64,
    /// The worst frame's PSNR-Y, dB.
    worst_db: f64,
    /// Frames the encoder sent (the rest its rate control skipped).
    sent: usize,
    /// What the encoder produced, kbit/s.
    kbps: f64,
    /// Encode time per frame, ms.
    encode_ms: f64,
}

/// Encodes and decodes `frames` (at `fps`) at `bitrate_bps`, bits/s.
fn pass(frames: &[I420Frame], fps: f64, bitrate_bps: u32) -> Result<Pass> {
    let first = frames.first().context("no frames in the footage")?;
    let mut enc = H264Encoder::new(first.width, first.height, fps, bitrate_bps)?;
    let mut dec = H264Decoder::new()?;
    let (mut bytes, mut sent, mut counted) = (0usize, 0usize, 0usize);
    let (mut sum, mut worst) = (0.0, f64::MAX);
    let mut encode_secs = 0.0;
    let mut shown: Option<I420Frame> = None;
    for f in frames {
        let t = Instant::now();
        let au = enc.encode(f)?;
        encode_secs += t.elapsed().as_secs_f64();
        if !au.is_empty() {
            bytes += au.len();
            sent += 1;
            if let Some(out) = dec.decode(&au)? {
                shown = Some(out);
            }
        }
        let Some(seen) = &shown else { continue };
        let p = psnr_y(f, seen);
        counted += 1;
        sum += p;
        worst = worst.min(p);
    }
    ensure!(shown.is_some(), "nothing decoded at {bitrate_bps} bit/s");
    Ok(Pass {
        mean_db: sum / counted as f64,
        worst_db: worst,
        sent,
        kbps: bytes as f64 * 8.0 / (frames.len() as f64 / fps) / 1e3,
        encode_ms: encode_secs * 1e3 / frames.len() as f64,
    })
}

/// Prints PSNR-Y, bitrate and encode time at 800 kbit/s and at the default
/// ceiling for the footage's size, one line each, and the difference.
///
/// Errors: the footage is missing (run `scripts/bench-setup.sh`), or the
/// encoder or decoder failed.
pub fn run() -> Result<()> {
    let path = crate::versus_chromium::footage()?;
    let frames = read_y4m_all(&path)?;
    let first = frames.first().context("no frames in the footage")?;
    let (w, h, fps) = (first.width, first.height, FOOTAGE_FPS);
    let ceiling = default_camera_bitrate_bps(w, h, fps);
    let old = pass(&frames, fps, DEFAULT_VIDEO_BITRATE_BPS)?;
    let new = pass(&frames, fps, ceiling)?;
    for (label, p) in [("800 kbit/s (before)", &old), ("default ceiling", &new)] {
        println!(
            "camera {w}x{h} {fps} frames/s at {label}: PSNR-Y mean {:.2} dB, worst {:.2} dB, \
             {} of {} frames sent, {:.0} kbit/s, encode {:.2} ms/frame",
            p.mean_db,
            p.worst_db,
            p.sent,
            frames.len(),
            p.kbps,
            p.encode_ms
        );
    }
    println!(
        "default ceiling {} kbit/s against 800 kbit/s: PSNR-Y {:+.2} dB, encode time {:.2} ×",
        ceiling / 1000,
        new.mean_db - old.mean_db,
        new.encode_ms / old.encode_ms
    );
    Ok(())
}
