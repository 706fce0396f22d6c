//! Echo cancellation on a simulated room: the far end's speech plays, comes
//! back into the microphone through an echo path (50 ms, two reflections),
//! and the near end talks over it for the last seconds.

use super::*;
use crate::media::audio::normalized_xcorr_best;
use crate::media::audio::wav::{read_wav_48k, tests::JFK};
use std::path::Path;

/// Speech played (far), speech said (near: the same recording backwards, so
/// unlike the far end), and the echo the room makes of the far end.
fn room() -> Option<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    if !Path::new(JFK).exists() {
        println!("skipping: {JFK} absent");
        return None;
    }
    let far = read_wav_48k(Path::new(JFK)).unwrap();
    let near: Vec<f32> = far.iter().rev().copied().collect();
    let delay = 2_400; // 50 ms
    let echo: Vec<f32> = (0..far.len())
        .map(|n| {
            let tap = |d: usize, g: f32| n.checked_sub(d).map_or(0.0, |i| far[i] * g);
            tap(delay, 0.5) + tap(delay + 240, 0.25)
        })
        .collect();
    Some((far, near, echo))
}

/// Runs the call's 20 ms frames through `path`; the near end talks from
/// `talk_from` samples on. Returns what the microphone sends.
fn run(path: &EchoPath, far: &[f32], near: &[f32], echo: &[f32], talk_from: usize) -> Vec<f32> {
    let speaker = path.far_end();
    let mut sent = Vec::with_capacity(far.len());
    for (i, f) in far.chunks_exact(960).enumerate() {
        speaker.played(f);
        let mut mic: Vec<f32> = (0..960)
            .map(|k| {
                let n = i * 960 + k;
                echo[n] + if n >= talk_from { near[n] } else { 0.0 }
            })
            .collect();
        path.capture(&mut mic).unwrap();
        sent.extend_from_slice(&mic);
    }
    sent
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&s| f64::from(s) * f64::from(s)).sum()
}

#[test]
fn echo_is_cancelled_and_the_near_end_comes_through() {
    let Some((far, near, echo)) = room() else {
        return;
    };
    let s = |secs: f64| (secs * 48_000.0) as usize;
    let talk_from = s(7.0);
    for config in [
        ProcessingConfig {
            noise_suppression: false,
            gain_control: false,
            ..Default::default()
        },
        ProcessingConfig::default(),
    ] {
        let path = EchoPath::sonora(config).unwrap();
        let sent = run(&path, &far, &near, &echo, talk_from);
        // Echo return loss enhancement after 3 s to converge, far end alone.
        let (a, b) = (s(3.0), talk_from);
        let erle = 10.0 * (energy(&echo[a..b]) / energy(&sent[a..b]).max(1e-12)).log10();
        // The near end over the echo, against what was said.
        let end = sent.len();
        let (ncc, lag) = normalized_xcorr_best(&near[talk_from..end], &sent[talk_from..end], 960);
        println!("{config:?}: ERLE {erle:.1} dB, near end correlation {ncc:.3} (lag {lag})");
        assert!(erle >= 20.0, "{config:?}: ERLE {erle:.1} dB");
        assert!(ncc >= 0.7, "{config:?}: near end correlation {ncc:.3}");
    }
}

#[test]
fn without_processing_the_echo_stays() {
    let Some((far, near, echo)) = room() else {
        return;
    };
    assert!(EchoPath::sonora(ProcessingConfig {
        echo_cancellation: false,
        noise_suppression: false,
        gain_control: false,
    })
    .is_none());
    // Noise suppression alone leaves most of the echo (it is speech).
    let path = EchoPath::sonora(ProcessingConfig {
        echo_cancellation: false,
        gain_control: false,
        ..Default::default()
    })
    .unwrap();
    let sent = run(&path, &far, &near, &echo, far.len());
    let (a, b) = (3 * 48_000, 7 * 48_000);
    let erle = 10.0 * (energy(&echo[a..b]) / energy(&sent[a..b])).log10();
    println!("noise suppression alone: {erle:.1} dB");
    assert!(erle < 6.0, "{erle:.1} dB");
}

#[test]
fn two_far_ends_are_mixed_and_a_wrong_length_is_an_error() {
    /// Records the sum of each render frame.
    struct Sum(Arc<Mutex<Vec<f32>>>);
    impl AudioProcessor for Sum {
        fn render(&mut self, frame: &[f32]) -> Result<(), MediaError> {
            check_len(frame)?;
            self.0.lock().unwrap().push(frame.iter().sum());
            Ok(())
        }
        fn capture(&mut self, frame: &mut [f32]) -> Result<(), MediaError> {
            check_len(frame)
        }
    }
    let sums = Arc::new(Mutex::new(Vec::new()));
    let path = EchoPath::new(Box::new(Sum(Arc::clone(&sums))));
    let (a, b) = (path.far_end(), path.far_end());
    a.played(&[0.25; 960]);
    b.played(&[0.5; 480]);
    let mut mic = vec![0.0; 960];
    path.capture(&mut mic).unwrap();
    // 10 ms of both, as much as both have: `a`'s second 10 ms waits for `b`.
    assert_eq!(*sums.lock().unwrap(), vec![360.0]);
    b.played(&[0.5; 480]);
    path.capture(&mut mic).unwrap();
    assert_eq!(*sums.lock().unwrap(), vec![360.0, 360.0]);
    drop(b);
    a.played(&[0.25; 480]);
    path.capture(&mut mic).unwrap();
    assert_eq!(sums.lock().unwrap().len(), 3, "b left the mix");
    // Loud far ends are clamped, not wrapped.
    let c = path.far_end();
    a.played(&[0.75; 480]);
    c.played(&[0.75; 480]);
    path.capture(&mut mic).unwrap();
    assert_eq!(sums.lock().unwrap()[3], 480.0);
    assert!(path.capture(&mut [0.0; 100]).is_err());
}
