//! Audio devices that come and go mid-call (issue 15), on a private
//! PulseAudio server: Alice (`parley-cli call --tone`, a 440 Hz tone) calls
//! Bob, who plays her on the sink `headset` and talks through the source
//! `headset_mic` (a sine of 300 Hz). The default devices are the sink
//! `speaker` and the source `room_mic` (500 Hz).
//!
//! 1. Alice's tone plays on the headset.
//! 2. The headset is unplugged (both modules unloaded): Bob says so for the
//!    speaker and the microphone, the tone plays on `speaker`, and Alice
//!    hears the room microphone.
//! 3. A USB headset is plugged and made the default (sink `usb`, microphone
//!    `usb_mic.monitor` at 700 Hz): Bob says so twice again, the tone plays on `usb`
//!    and no longer on `speaker`, and Alice hears the USB microphone.
//!
//! Alice's recording must hear 300 Hz, then 500 Hz, then 700 Hz to the end
//! (at least 8 s of it: a microphone that stalls after the move fails).

mod common;

use std::time::Duration;

use common::pulse::{write_wav, Pulse};
use common::sources::read_wav_mono;
use common::{success, wait_each, watch_lines, Peer, Server};

/// Alice's tone, Hz (`parley-cli --tone`).
const TONE_HZ: f64 = 440.0;
/// The microphones' sines: the headset's, the room's (default), the USB one's.
const MICS_HZ: [f64; 3] = [300.0, 500.0, 700.0];
/// How long a sink's monitor is recorded, s: a null sink with nothing
/// asking for low latency renders in blocks of up to 2 s.
const CAPTURE_S: f64 = 2.5;
/// A tone is heard on a sink when its power there is at least this, dBFS.
const HEARD_DBFS: f64 = -40.0;

/// Power of the `hz` component of `x` (48 kHz), dBFS (a full-scale sine is 0).
fn tone_dbfs(x: &[f32], hz: f64) -> f64 {
    if x.is_empty() {
        return -200.0;
    }
    // Goertzel's algorithm.
    let w = 2.0 * std::f64::consts::PI * hz / 48_000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = f64::from(v) + c * s1 - s2;
        (s2, s1) = (s1, s);
    }
    let power = s1 * s1 + s2 * s2 - c * s1 * s2;
    let amplitude = 2.0 * power.sqrt() / x.len() as f64;
    20.0 * amplitude.max(1e-10).log10()
}

/// A WAV file of two minutes of `hz` at -10 dBFS, in the server's folder.
fn tone_file(pulse: &Pulse, hz: f64) -> std::path::PathBuf {
    let path = pulse.path(&format!("tone{hz}.wav"));
    let samples: Vec<f32> = (0..120 * 48_000)
        .map(|n| 0.316 * (2.0 * std::f64::consts::PI * hz * f64::from(n) / 48_000.0).sin() as f32)
        .collect();
    write_wav(&path, &samples);
    path
}

fn null_sink(name: &str) -> String {
    format!(
        "module-null-sink sink_name={name} sink_properties=device.description={name} \
         rate=48000 channels=1"
    )
}

/// Which microphone each 200 ms of `heard` carries (an index into
/// [`MICS_HZ`]), runs of the same merged: `(index, seconds)`.
fn mic_runs(heard: &[f32]) -> Vec<(usize, f64)> {
    let mut runs: Vec<(usize, f64)> = Vec::new();
    for w in heard.chunks_exact(9_600) {
        let levels: Vec<f64> = MICS_HZ.iter().map(|&hz| tone_dbfs(w, hz)).collect();
        let (best, level) = levels
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        if level < HEARD_DBFS {
            continue;
        }
        match runs.last_mut() {
            Some((i, secs)) if *i == best => *secs += 0.2,
            _ => runs.push((best, 0.2)),
        }
    }
    runs
}

#[test]
fn the_call_follows_devices_that_come_and_go() {
    // A microphone is the monitor of a null sink its tone plays into: a
    // sound card's source adjusts its latency to the 20 ms the call asks
    // for, as monitors do (module-sine-source's 2 s blocks do not).
    let modules = [
        null_sink("speaker"),
        null_sink("headset"),
        null_sink("room_mic"),
        null_sink("headset_mic"),
    ];
    let Some(mut pulse) = Pulse::start_with(&modules) else {
        return;
    };
    assert!(pulse.pactl(&["set-default-sink", "speaker"]));
    assert!(pulse.pactl(&["set-default-source", "room_mic.monitor"]));
    let tones: Vec<_> = MICS_HZ.iter().map(|&hz| tone_file(&pulse, hz)).collect();
    pulse.play_into("room_mic", &tones[1]);
    let headset_voice = pulse.play_into("headset_mic", &tones[0]);
    // The module indices of the headset's two halves, to unplug it.
    let listed = pulse.pactl_out(&["list", "short", "modules"]).unwrap();
    let headset: Vec<&str> = listed
        .lines()
        .filter(|l| l.contains("sink_name=headset"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(headset.len(), 2, "{listed}");

    let server = Server::start();
    let (alice, bob) = (Peer::new(&server), Peer::new(&server));
    let (k, v) = pulse.env();
    let mut answer = bob.spawn_with_env(
        &[
            "answer",
            "--timeout",
            "60",
            "--no-video",
            "--play-audio",
            "--speaker",
            "headset",
            "--mic",
            "headset_mic.monitor",
            // A sine is what noise suppression removes: this test is about devices.
            "--no-noise-suppression",
            "--no-echo-cancellation",
            "--no-gain-control",
        ],
        &[
            (k, &v),
            (
                "RUST_LOG",
                &std::env::var("PARLEY_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            ),
        ],
    );
    let rec = alice.path("heard.wav");
    let mut call = alice.spawn(&[
        "call",
        &bob.id,
        "--wait-online",
        "20",
        "--no-video",
        "--tone",
        "--record-audio",
        rec.to_str().unwrap(),
        "--duration",
        "30",
        "--live-stats",
    ]);
    let (alice_lines, alice_reader) = watch_lines(&mut call, "live ");
    let (bob_lines, bob_reader) = watch_lines(&mut answer, "device: ");
    let lines = |rx: &std::sync::mpsc::Receiver<String>, n: usize, secs: u64| {
        (0..n).all(|_| rx.recv_timeout(Duration::from_secs(secs)).is_ok())
    };
    // Waits (up to 10 s) until Bob has said each of `expected`.
    let said = |expected: &[&str]| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut left: Vec<&str> = expected.to_vec();
        while !left.is_empty() {
            let wait = deadline.saturating_duration_since(std::time::Instant::now());
            let Ok(line) = bob_lines.recv_timeout(wait) else {
                return Err(left.join(", "));
            };
            left.retain(|e| !line.contains(e));
        }
        Ok(())
    };

    // 1. Five seconds into the call, the tone plays on the headset.
    assert!(lines(&alice_lines, 5, 60), "the call did not start");
    let on_headset = tone_dbfs(&pulse.capture("headset.monitor", CAPTURE_S), TONE_HZ);
    println!("tone on the headset: {on_headset:.1} dBFS");
    assert!(
        on_headset > HEARD_DBFS,
        "the tone does not play on the headset"
    );

    // 2. Unplugged: both halves of the headset go.
    pulse.stop(headset_voice);
    for m in &headset {
        pulse.unload(m);
    }
    if let Err(missing) = said(&[
        "The speaker “headset” is gone",
        "The microphone “Monitor of headset_mic” is gone",
    ]) {
        panic!("Bob did not say: {missing}");
    }
    let on_speaker = tone_dbfs(&pulse.capture("speaker.monitor", CAPTURE_S), TONE_HZ);
    println!("after unplugging: tone on the speaker {on_speaker:.1} dBFS");
    assert!(
        on_speaker > HEARD_DBFS,
        "the tone did not move to the speaker"
    );

    // 3. A USB headset plugged and made the default.
    pulse.load(&null_sink("usb"));
    pulse.load(&null_sink("usb_mic"));
    pulse.play_into("usb_mic", &tones[2]);
    assert!(pulse.pactl(&["set-default-sink", "usb"]));
    assert!(pulse.pactl(&["set-default-source", "usb_mic.monitor"]));
    if let Err(missing) = said(&[
        "The default speaker is now “usb”",
        "The default microphone is now “Monitor of usb_mic”",
    ]) {
        panic!("Bob did not say: {missing}");
    }
    let on_usb = tone_dbfs(&pulse.capture("usb.monitor", CAPTURE_S), TONE_HZ);
    let left = tone_dbfs(&pulse.capture("speaker.monitor", CAPTURE_S), TONE_HZ);
    println!("after plugging: tone on usb {on_usb:.1} dBFS, on the speaker {left:.1} dBFS");
    assert!(
        on_usb > HEARD_DBFS,
        "the tone did not move to the USB headset"
    );
    assert!(left < HEARD_DBFS - 20.0, "the speaker still plays the tone");

    let mut outs = wait_each(vec![
        ("Alice", call, Duration::from_secs(60)),
        ("Bob", answer, Duration::from_secs(20)),
    ]);
    let (mut bob_out, _) = outs.pop().unwrap();
    let (mut alice_out, _) = outs.pop().unwrap();
    alice_out.stdout = alice_reader.join().unwrap().into_bytes();
    bob_out.stdout = bob_reader.join().unwrap().into_bytes();
    success(&alice_out, "Alice");
    let said = success(&bob_out, "Bob");
    let moves: Vec<&str> = said.lines().filter(|l| l.starts_with("device: ")).collect();
    println!("Bob: {moves:#?}");
    for expected in [
        "The speaker “headset” is gone",
        "The microphone “Monitor of headset_mic” is gone",
        "The default speaker is now “usb”",
        "The default microphone is now “Monitor of usb_mic”",
    ] {
        assert!(
            moves.iter().any(|l| l.contains(expected)),
            "Bob never said {expected:?}"
        );
    }

    // What Alice heard: the headset's microphone, the room's, the USB one's.
    let runs = mic_runs(&read_wav_mono(&rec));
    println!("Alice heard (microphone, seconds): {runs:?}");
    let order: Vec<usize> = runs
        .iter()
        .filter(|(_, secs)| *secs >= 1.0)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(order, [0, 1, 2], "microphones heard in order: {runs:?}");
    assert!(
        runs.last().is_some_and(|(i, secs)| *i == 2 && *secs >= 8.0),
        "the USB microphone did not last to the end: {runs:?}"
    );
}
