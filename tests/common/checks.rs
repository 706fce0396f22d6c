//! Outcome checks shared by the end-to-end tests: received video against the source
//! clip (PSNR), files against their source (SHA-256), random test files.
#![allow(dead_code)]

use std::path::Path;

use parley_engine::media::{psnr_y, read_y4m_all};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> String {
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(path).unwrap();
    std::io::copy(&mut f, &mut h).unwrap();
    hex::encode(h.finalize())
}

/// Writes `bytes` random bytes to `path` (1 MiB at a time).
pub fn random_file(path: &Path, bytes: usize) {
    use std::io::Write as _;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        rand::thread_rng().fill_bytes(&mut chunk[..n]);
        f.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    f.flush().unwrap();
}

/// Asserts that the recording `received` shows the clip `source`: every frame has
/// the source's size, at least `min_share` of the `sent` frames were decoded
/// (`decoded`) and recorded, and the mean best-match luma PSNR is ≥ `min_psnr_db`.
/// Returns that mean PSNR, dB.
pub fn assert_video_matches(
    source: &Path,
    received: &Path,
    sent: u64,
    decoded: u64,
    min_share: f64,
    min_psnr_db: f64,
) -> f64 {
    assert!(sent > 0, "the caller sent no video frames");
    assert!(
        decoded as f64 >= sent as f64 * min_share,
        "callee decoded {decoded} of {sent} frames sent (< {:.0} %)",
        min_share * 100.0
    );
    let (mean, recorded) = mean_psnr(source, received);
    assert!(
        recorded as u64 >= decoded.min(sent) * 9 / 10,
        "only {recorded} frames recorded of {decoded} decoded"
    );
    println!("video: {decoded} of {sent} frames decoded, mean PSNR {mean:.1} dB");
    assert!(
        mean >= min_psnr_db,
        "mean PSNR of received frames is {mean:.1} dB (< {min_psnr_db} dB)"
    );
    mean
}

/// The mean over the recording's frames of the best-match luma PSNR against
/// any frame of the clip `source`, dB, and how many frames were recorded.
/// Panics if a frame's size differs from the clip's.
pub fn mean_psnr(source: &Path, received: &Path) -> (f64, usize) {
    let source = read_y4m_all(source).unwrap();
    let received = read_y4m_all(received).unwrap();
    let (w, h) = (source[0].width, source[0].height);
    let mut total = 0.0;
    for (i, f) in received.iter().enumerate() {
        assert_eq!((f.width, f.height), (w, h), "frame {i} has the wrong size");
        total += source.iter().map(|s| psnr_y(s, f)).fold(f64::MIN, f64::max);
    }
    (total / received.len().max(1) as f64, received.len())
}

/// Writes a Y4M clip of one second (`w`×`h` at `fps` frames/s): a moving gradient under blocks of noise
/// (8×8 pixels, new every frame), so the encoder spends its whole bitrate.
pub fn busy_clip(path: &std::path::Path, (w, h, fps): (usize, usize, usize)) {
    use rand::Rng as _;
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg").unwrap();
    let mut rng = rand::thread_rng();
    let mut luma = vec![0u8; w * h];
    for frame in 0..fps {
        let noise: Vec<i32> = (0..(w / 8) * (h / 8))
            .map(|_| rng.gen_range(-48..48))
            .collect();
        for y in 0..h {
            for x in 0..w {
                let base = ((x + y + 8 * frame) % 256) as i32;
                luma[y * w + x] = (base + noise[(y / 8) * (w / 8) + x / 8]).clamp(0, 255) as u8;
            }
        }
        out.write_all(b"FRAME\n").unwrap();
        out.write_all(&luma).unwrap();
        out.write_all(&vec![128u8; w * h / 2]).unwrap();
    }
}
