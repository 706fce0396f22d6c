//! Screen-share cost at 1920x1080: capture (xcap over XCB) alone as the reference,
//! then capture + RGBA→I420 + H.264 screen-content encoding, on a still screen and
//! on a scrolling one (the captured picture shifted 8 rows per frame, so every frame
//! differs like a scrolled page). Runs its own Xvfb with a known card on it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use parley_engine::media::screen::{self, rgba_to_i420, RgbaImage};
use parley_engine::media::{ContentHint, H264Encoder};

use crate::Guard;

/// Screen size, pixels.
const W: u32 = 1920;
const H: u32 = 1080;
/// Screen-share bitrate for the encode, bits/s.
const BITRATE_BPS: u32 = 2_500_000;

/// Process CPU time (user + system), from /proc/self/stat, in seconds.
fn cpu_seconds() -> f64 {
    crate::proc_cpu_seconds("self").unwrap_or(0.0)
}

fn start_xvfb() -> Result<(Guard, String)> {
    for n in 150..250 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            || Path::new(&format!("/tmp/.X{n}-lock")).exists()
        {
            continue;
        }
        let child = Command::new("Xvfb")
            .args([&format!(":{n}"), "-screen", "0", &format!("{W}x{H}x24")])
            .args(["-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("Xvfb (Debian package xvfb) is needed for the screen benchmark")?;
        let guard = Guard(child);
        let socket = format!("/tmp/.X11-unix/X{n}");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if Path::new(&socket).exists() {
                return Ok((guard, format!(":{n}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    bail!("no free X display for Xvfb")
}

/// Shows something to capture, full screen: ImageMagick's built-in logo picture
/// (text, shapes, gradients). Without ImageMagick the screen stays black.
fn show_content(display: &str) -> Option<Guard> {
    let logo = Command::new("display")
        .args(["-geometry", "+0+0", "-resize", "1920x1080!", "logo:"])
        .env("DISPLAY", display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(1500));
    Some(Guard(logo))
}

/// One measured loop: frames/s and CPU (% of one core).
struct Rate {
    fps: f64,
    cpu_pct: f64,
}

fn measure(frames: u32, mut step: impl FnMut(u32) -> Result<()>) -> Result<Rate> {
    step(0)?; // warm up (first capture opens the connection, first encode an IDR)
    let (t0, c0) = (Instant::now(), cpu_seconds());
    for i in 1..=frames {
        step(i)?;
    }
    let wall = t0.elapsed().as_secs_f64();
    Ok(Rate {
        fps: f64::from(frames) / wall,
        cpu_pct: (cpu_seconds() - c0) / wall * 100.0,
    })
}

/// Shifts the picture up by `rows` (wrapping): a scrolled page.
fn scrolled(img: &RgbaImage, rows: u32) -> RgbaImage {
    let stride = img.width as usize * 4;
    let cut = (rows % img.height) as usize * stride;
    let mut data = Vec::with_capacity(img.data.len());
    data.extend_from_slice(&img.data[cut..]);
    data.extend_from_slice(&img.data[..cut]);
    RgbaImage {
        width: img.width,
        height: img.height,
        data,
    }
}

/// Runs the benchmark and prints its lines.
pub fn run(frames: u32) -> Result<()> {
    let (_xvfb, display) = start_xvfb()?;
    // Only this benchmark talks to X; nothing else reads DISPLAY concurrently.
    std::env::set_var("DISPLAY", &display);
    let content = show_content(&display);
    if content.is_none() {
        println!("  (ImageMagick's `display` is missing: capturing a black screen)");
    }
    let backend = screen::backend()?;
    let sources = backend.sources()?;
    let src = screen::resolve(&screen::ScreenTarget::Primary, &sources)?;
    println!(
        "screen share, {}x{} ({}), {frames} frames per measurement:",
        src.width, src.height, src.name
    );

    let capture = measure(frames, |_| {
        backend.capture(&src.id).map(|_| ()).map_err(Into::into)
    })?;
    println!(
        "  capture only (reference):         {:6.1} frames/s  CPU {:5.1} %",
        capture.fps, capture.cpu_pct
    );
    for (label, scroll) in [("still screen", false), ("scrolling screen", true)] {
        let mut enc = H264Encoder::with_content(W, H, 30.0, BITRATE_BPS, ContentHint::Screen)?;
        let mut bytes = 0usize;
        let rate = measure(frames, |i| {
            let img = backend.capture(&src.id)?;
            let img = if scroll { scrolled(&img, i * 8) } else { img };
            let frame = rgba_to_i420(&img, W, H, u64::from(i) * 33_333)?;
            bytes += enc.encode(&frame)?.len();
            Ok(())
        })?;
        println!(
            "  capture + I420 + encode, {label:16} {:6.1} frames/s  CPU {:5.1} %  ({:.2} of capture only; {:.0} kB/frame)",
            rate.fps,
            rate.cpu_pct,
            rate.fps / capture.fps,
            bytes as f64 / f64::from(frames + 1) / 1e3
        );
    }
    // The conversion alone, for where the time goes.
    let img = backend.capture(&src.id)?;
    let t0 = Instant::now();
    for i in 0..frames {
        std::hint::black_box(rgba_to_i420(&img, W, H, u64::from(i))?);
    }
    println!(
        "  RGBA → I420 alone:                {:6.2} ms/frame",
        t0.elapsed().as_secs_f64() * 1e3 / f64::from(frames)
    );
    Ok(())
}
