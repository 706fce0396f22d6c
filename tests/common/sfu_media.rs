//! Media through Janus in the SFU tests (`sfu_interop`, `sfu_cascade`): sinks
//! that keep every decoded frame and audio sample by member, and the checks that
//! they are the sources sent (the test pattern, the recorded clip, the speech).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley_engine::call::{AudioSink, RemoteSinks, TrackKind, VideoSink};
use parley_engine::media::{
    normalized_xcorr_best, psnr_y, read_y4m_all, AudioSource, I420Frame, TestPatternSource,
    WavFileSource,
};
use parley_proto::PeerId;

use super::media;

/// The outer half of a test that runs Janus and the members in a namespace
/// (Janus offers no loopback candidates): unless Janus or root is missing
/// (skipped, or failed under [`super::netns::REQUIRE_ENV`]), builds a lab with
/// one host on a bridge, runs test `name` again there with the host's address in
/// env `ip_env` (at most `within`), and prints its `sfu:` lines.
pub fn rerun_on_a_host(name: &str, ip_env: &str, within: Duration) {
    use super::netns::{janus_available, run_inside, Lab, Nat};
    if !janus_available(name) {
        return;
    }
    let lab = Lab::build(&[Nat::Open]);
    let site = &lab.sites[0];
    let out = run_inside(&site.host, name, &[(ip_env, site.host_ip.clone())], within);
    for line in out.lines().filter(|l| l.starts_with("sfu:")) {
        println!("{line}");
    }
}

/// Decoded media by member, as the test's sinks saw it.
#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<HashMap<PeerId, Got>>>);

#[derive(Default)]
pub struct Got {
    pub frames: Vec<I420Frame>,
    pub audio: Vec<f32>,
}

pub struct VideoInto(Received, PeerId);
impl VideoSink for VideoInto {
    fn frame(&mut self, frame: &I420Frame) -> parley_engine::Result<()> {
        let mut all = self.0 .0.lock().unwrap();
        all.entry(self.1.clone())
            .or_default()
            .frames
            .push(frame.clone());
        Ok(())
    }
}

pub struct AudioInto(Received, PeerId);
impl AudioSink for AudioInto {
    fn samples(&mut self, samples: &[f32]) -> parley_engine::Result<()> {
        let mut all = self.0 .0.lock().unwrap();
        all.entry(self.1.clone())
            .or_default()
            .audio
            .extend_from_slice(samples);
        Ok(())
    }
}

impl RemoteSinks for Received {
    fn video(&mut self, peer: &PeerId, track: TrackKind) -> Vec<Box<dyn VideoSink>> {
        assert_eq!(track, TrackKind::Camera, "only cameras are published here");
        vec![Box::new(VideoInto(self.clone(), peer.clone()))]
    }
    fn audio(&mut self, peer: &PeerId) -> Vec<Box<dyn AudioSink>> {
        vec![Box::new(AudioInto(self.clone(), peer.clone()))]
    }
}

impl Received {
    pub fn frames(&self, of: &PeerId) -> usize {
        self.0.lock().unwrap().get(of).map_or(0, |g| g.frames.len())
    }

    /// Waits until `n` frames of `of` arrived, at most `within`.
    pub async fn wait_frames(&self, of: &PeerId, n: usize, within: Duration, what: &str) {
        let start = Instant::now();
        while self.frames(of) < n {
            assert!(
                start.elapsed() < within,
                "{what}: {} of {n} frames in {within:?}",
                self.frames(of)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn take(&self, of: &PeerId) -> Got {
        self.0.lock().unwrap().remove(of).unwrap_or_default()
    }
}

pub fn peer_id(n: u8) -> PeerId {
    let key = ed25519_dalek::SigningKey::from_bytes(&[n; 32]);
    PeerId::from_public_key(&key.verifying_key())
}

/// Frames of the test pattern: each is the pattern frame it shows, and the
/// shown index rises.
pub fn check_pattern(frames: &[I420Frame], what: &str) {
    let pattern = TestPatternSource::new(320, 180, 15.0).unwrap();
    let psnr: Vec<f64> = frames
        .iter()
        .map(|f| psnr_y(&pattern.render(TestPatternSource::shown_index(f)), f))
        .collect();
    let mean = psnr.iter().sum::<f64>() / psnr.len().max(1) as f64;
    let first = TestPatternSource::shown_index(&frames[0]);
    let last = TestPatternSource::shown_index(&frames[frames.len() - 1]);
    println!(
        "sfu: {what}: {} frames, mean PSNR {mean:.1} dB, indexes {first} → {last}",
        frames.len()
    );
    assert!(mean >= 30.0, "{what}: mean PSNR {mean:.1} dB");
    assert!(
        last > first && last - first + 1 >= frames.len() as u64 * 8 / 10,
        "{what}: indexes {first} → {last} for {} frames",
        frames.len()
    );
}

/// Frames of the clip (`chrome-320x180-15fps.y4m`): every fifth matches some
/// frame of it (mean PSNR ≥ 30 dB).
pub fn check_clip(frames: &[I420Frame], what: &str) {
    let clip = read_y4m_all(media("chrome-320x180-15fps.y4m")).unwrap();
    let sample: Vec<&I420Frame> = frames.iter().step_by(5).collect();
    let psnr: Vec<f64> = sample
        .iter()
        .map(|f| clip.iter().map(|c| psnr_y(c, f)).fold(f64::MIN, f64::max))
        .collect();
    let mean = psnr.iter().sum::<f64>() / psnr.len().max(1) as f64;
    println!(
        "sfu: {what}: {} frames, mean PSNR {mean:.1} dB against the clip",
        frames.len()
    );
    assert!(mean >= 30.0, "{what}: mean PSNR {mean:.1} dB");
}

/// Audio that arrived (48 kHz mono samples) is the looped speech (`jfk.wav`):
/// its first 8 s correlate with it (≥ 0.6).
pub fn check_speech(mut got: Vec<f32>, what: &str) {
    // 8 s of what arrived against the speech twice over (it plays in a loop, and
    // the subscription started somewhere in it).
    got.truncate(48_000 * 8);
    let mut src = WavFileSource::open(media("jfk.wav"), false).unwrap();
    src.set_paced(false);
    let mut reference = Vec::new();
    while let Ok(frame) = src.next_frame() {
        reference.extend_from_slice(&frame);
    }
    reference.extend_from_within(..);
    let (ncc, lag) = normalized_xcorr_best(&got, &reference, 48_000 * 24);
    println!(
        "sfu: {what}: {:.1} s, correlation {ncc:.3} at lag {lag}",
        got.len() as f64 / 48_000.0
    );
    assert!(ncc >= 0.6, "{what}: correlation {ncc:.3}");
}
