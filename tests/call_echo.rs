//! Echo cancellation (issue 15) with PulseAudio null sinks standing in for
//! the sound card: Alice (`parley-cli call`, the recorded speech as her
//! microphone) calls Bob (`parley-cli answer` on the default devices, which
//! are a private PulseAudio server's). Bob plays Alice's speech on his
//! speaker sink, a loopback carries it into the room sink whose monitor is his
//! microphone (the echo path), and Bob's own speech (the recording played
//! backwards) is said into the room from Alice's 16th second. Alice records
//! what she hears back.
//!
//! - With Bob's processing off, Alice hears her own speech back (the echo).
//! - With it on (the default: AEC3, noise suppression, AGC2), the echo she
//!   hears in seconds 5–11 is at least 20 dB weaker (echo return loss
//!   enhancement, measured after 5 s to converge), while Bob's speech over
//!   Alice's still arrives: in 4 s windows from second 17, its correlation
//!   with what he said is ≥ 0.7 on average.

mod common;

use std::path::Path;
use std::time::Duration;

use common::pulse::{write_wav, Pulse};
use common::sources::{read_wav_mono, speech_reference};
use common::{media, stats, success, wait_each, watch_lines, Peer, Server};
use parley_engine::media::normalized_xcorr_best;

/// The echo path's latency through PulseAudio, ms.
const ECHO_MS: u32 = 40;
/// The echo path's gain, dB: the echo 10 dB under what the speaker played
/// (a laptop's speaker a hand from its microphone), Bob's own speech at
/// full level.
const ECHO_DB: i32 = -10;
/// Far end alone: the seconds of Alice's recording where the echo is measured
/// (her recording starts a second or two before her first stats line).
const ECHO_WINDOW_S: (f64, f64) = (5.0, 11.0);
/// Alice's stats line at which Bob starts talking.
const BOB_TALKS_AT: usize = 16;
/// Both talking: the seconds of Alice's recording where Bob's speech is
/// sought, in 4 s windows.
const TALK_WINDOW_S: (f64, f64) = (17.0, 25.0);

/// One call; `bob_args` are added to Bob's `answer`, and Bob says `near`
/// (if given) at Alice's [`BOB_TALKS_AT`]-th stats line. Returns Alice's
/// recording and Bob's stats.
fn call(pulse: &mut Pulse, seconds: u32, bob_args: &[&str], near: Option<&Path>) -> Vec<f32> {
    let server = Server::start();
    let (alice, bob) = (Peer::new(&server), Peer::new(&server));
    let rec = alice.path("heard.wav");
    let mut answer = vec![
        "answer",
        "--timeout",
        "60",
        "--no-video",
        "--play-audio",
        "--stats",
    ];
    answer.extend_from_slice(bob_args);
    let (k, v) = pulse.env();
    let log = std::env::var("PARLEY_TEST_LOG").unwrap_or_else(|_| "warn".into());
    let answer = bob.spawn_with_env(&answer, &[(k, &v), ("RUST_LOG", &log)]);
    let speech = media("jfk.wav");
    let duration = seconds.to_string();
    let mut call = alice.spawn(&[
        "call",
        &bob.id,
        "--wait-online",
        "20",
        "--no-video",
        "--audio-file",
        speech.to_str().unwrap(),
        "--record-audio",
        rec.to_str().unwrap(),
        "--duration",
        &duration,
        "--live-stats",
        "--stats",
    ]);
    // Alice's stdout, read here: Bob talks at her BOB_TALKS_AT-th line.
    let (lines_rx, reader) = watch_lines(&mut call, "live ");
    if let Some(near) = near {
        let due = (0..BOB_TALKS_AT).all(|_| lines_rx.recv_timeout(Duration::from_secs(60)).is_ok());
        assert!(due, "Alice printed fewer than {BOB_TALKS_AT} stats lines");
        pulse.say(near);
    }
    let mut outs = wait_each(vec![
        ("Alice", call, Duration::from_secs(u64::from(seconds) + 60)),
        ("Bob", answer, Duration::from_secs(20)),
    ]);
    let (bob_out, _) = outs.pop().unwrap();
    let (mut alice_out, _) = outs.pop().unwrap();
    alice_out.stdout = reader.join().unwrap().into_bytes();
    if std::env::var_os("PARLEY_TEST_LOG").is_some() {
        println!("Bob's log:\n{}", String::from_utf8_lossy(&bob_out.stderr));
    }
    let said_b = success(&bob_out, "Bob");
    success(&alice_out, "Alice");
    println!("Bob {bob_args:?}: {}", stats(&said_b));
    let heard = read_wav_mono(&rec);
    let level: Vec<String> = heard
        .chunks(48_000)
        .map(|s| format!("{:.0}", 10.0 * energy(s).max(1e-12).log10()))
        .collect();
    println!("Alice heard (dBFS per second): {level:?}");
    heard
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len().max(1) as f64
}

fn window(x: &[f32], (a, b): (f64, f64)) -> &[f32] {
    let at = |s: f64| ((s * 48_000.0) as usize).min(x.len());
    &x[at(a)..at(b)]
}

/// Bob's speech: the recording backwards (speech, but not Alice's), written
/// to a WAV file for `paplay`; returns the file and its samples.
fn bobs_speech(pulse: &Pulse) -> (std::path::PathBuf, Vec<f32>) {
    let near = pulse.path("near.wav");
    let mut said = speech_reference(&media("jfk.wav"));
    said.reverse();
    write_wav(&near, &said);
    (near, said)
}

/// Bob's speech in Alice's recording: the mean over 4 s windows of
/// [`TALK_WINDOW_S`] of the correlation with what he said, and each window's.
fn near_end(heard: &[f32], said: &[f32]) -> (f64, Vec<f64>) {
    let talk: Vec<f64> = window(heard, TALK_WINDOW_S)
        .chunks_exact(4 * 48_000)
        .map(|w| normalized_xcorr_best(w, said, said.len()).0)
        .collect();
    (talk.iter().sum::<f64>() / talk.len().max(1) as f64, talk)
}

/// The processing of Bob's microphone switched off in full.
const ALL_OFF: [&str; 3] = [
    "--no-echo-cancellation",
    "--no-noise-suppression",
    "--no-gain-control",
];

#[test]
fn the_far_end_hears_no_echo_and_the_near_end_comes_through() {
    let Some(mut pulse) = Pulse::start(ECHO_MS, ECHO_DB) else {
        return;
    };
    let (near, said) = bobs_speech(&pulse);
    let off = call(&mut pulse, 14, &ALL_OFF, None);
    let on = call(&mut pulse, 27, &[], Some(&near));
    let (echo, residual) = (
        energy(window(&off, ECHO_WINDOW_S)),
        energy(window(&on, ECHO_WINDOW_S)),
    );
    let erle = 10.0 * (echo / residual.max(1e-12)).log10();
    let (ncc, talk) = near_end(&on, &said);
    println!(
        "echo heard without processing: {:.1} dBFS; with it: {:.1} dBFS (ERLE {erle:.1} dB); Bob's speech over it: correlation {ncc:.3} ({talk:.3?} per 4 s)",
        10.0 * echo.log10(),
        10.0 * residual.max(1e-12).log10()
    );
    assert!(
        10.0 * echo.log10() > -40.0,
        "without processing Alice should hear her echo: {:.1} dBFS",
        10.0 * echo.log10()
    );
    assert!(
        erle >= 20.0,
        "echo return loss enhancement {erle:.1} dB (< 20)"
    );
    assert!(ncc >= 0.7, "Bob's speech correlates at {ncc:.3} (< 0.7)");
}

/// The figures of BENCHMARKS.md "Echo cancellation": Bob's processing
/// switched on part by part, each against the echo with none.
#[test]
#[ignore = "a benchmark: about 3 minutes of calls"]
fn echo_figures() {
    let Some(mut pulse) = Pulse::start(ECHO_MS, ECHO_DB) else {
        return;
    };
    let (near, said) = bobs_speech(&pulse);
    let echo = energy(window(&call(&mut pulse, 14, &ALL_OFF, None), ECHO_WINDOW_S));
    let runs: [(&str, &[&str]); 4] = [
        ("all off", &ALL_OFF),
        (
            "echo cancellation only",
            &["--no-noise-suppression", "--no-gain-control"],
        ),
        (
            "noise suppression and gain control, no echo cancellation",
            &["--no-echo-cancellation"],
        ),
        ("all on (default)", &[]),
    ];
    let mut rows = Vec::new();
    for (name, args) in runs {
        let heard = call(&mut pulse, 27, args, Some(&near));
        let residual = energy(window(&heard, ECHO_WINDOW_S)).max(1e-12);
        let (ncc, _) = near_end(&heard, &said);
        rows.push(format!(
            "| {name} | {:.1} | {:.1} | {ncc:.3} |",
            10.0 * residual.log10(),
            10.0 * (echo / residual).log10()
        ));
    }
    println!("| Bob's processing | echo Alice hears, dBFS | ERLE dB | Bob's speech over Alice's, correlation |\n|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
