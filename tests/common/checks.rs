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
    let source = read_y4m_all(source).unwrap();
    let received = read_y4m_all(received).unwrap();
    assert!(
        received.len() as u64 >= decoded.min(sent) * 9 / 10,
        "only {} frames recorded of {decoded} decoded",
        received.len()
    );
    let (w, h) = (source[0].width, source[0].height);
    let mut total = 0.0;
    for (i, f) in received.iter().enumerate() {
        assert_eq!((f.width, f.height), (w, h), "frame {i} has the wrong size");
        total += source.iter().map(|s| psnr_y(s, f)).fold(f64::MIN, f64::max);
    }
    let mean = total / received.len() as f64;
    println!("video: {decoded} of {sent} frames decoded, mean PSNR {mean:.1} dB");
    assert!(
        mean >= min_psnr_db,
        "mean PSNR of received frames is {mean:.1} dB (< {min_psnr_db} dB)"
    );
    mean
}
