//! Congestion control (issue 15, on by default): `parley-cli call` from
//! Alice to `parley-cli answer` at Bob, through a NAT and the real signaling
//! server, Alice's uplink shaped by tc tbf in her router's namespace. Alice
//! sends 640x360 video at 30 frames/s that would take 2.5 Mbit/s (moving
//! noise) and recorded speech.
//!
//! - On a 20 Mbit/s link: the estimate starts near 1 Mbit/s, the encoder's
//!   target follows it, Alice's sending bitrate passes 1.5 Mbit/s within 20 s,
//!   and Bob decodes at least 20 frames a second from then on.
//! - On a 1 Mbit/s link (a 15 KB bucket, 200 ms of queue) lifted to 20 Mbit/s
//!   after 20 s (issue 15's test): within 10 s Alice's sending bitrate settles below the cap
//!   (seconds 11–20 average under 1 Mbit/s, none above 1.2); Bob keeps
//!   decoding at least 10 frames a second in them, with no gap between frames
//!   over 1 s; once the cap is lifted, Alice's sending bitrate passes
//!   1.5 Mbit/s within 20 s.
//! - On a 300 kbit/s link: the camera's target falls under the 207 kbit/s at
//!   which it is sent at half size; from second 12 Bob sees it 320 wide and
//!   still decodes at least 5 frames a second (one slow second allowed) with
//!   no freeze over 1 s.

mod common;

use std::time::Duration;

use common::checks::busy_clip;
use common::netns::{available, Lab, Nat};
use common::{media, stats, success, wait_each, watch_lines, Peer};

const NAME: &str = "call_congestion";
/// Alice's uplink while capped, then after (and all along in the open test), Mbit/s.
const CAP_MBIT: (u32, u32) = (1, 20);
/// The cap's bucket, KB: ten full packets may pass at line rate.
const BURST_KB: u32 = 15;
/// The queue before the cap drops, ms: a modem's buffer.
const QUEUE_MS: u32 = 200;
/// Seconds of the call (stats lines) before the cap is lifted.
const CAPPED_S: usize = 20;
/// Seconds the call goes on after.
const AFTER_S: usize = 22;
/// The starved link of the size test, kbit/s: with audio's share taken, the
/// camera's target falls below the 207 kbit/s at which a 640x360 camera
/// frames/s is sent at half size.
const STARVED_KBIT: u32 = 300;
/// Seconds of the starved call.
const STARVED_S: usize = 30;
/// Alice's camera: 640x360 at 30 frames/s, busy enough to need its bitrate.
const VIDEO: (usize, usize, usize) = (640, 360, 30);

/// Each `live` line's JSON, in order.
fn live(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("live "))
        .map(|j| serde_json::from_str(j).unwrap())
        .collect()
}

fn field(lines: &[serde_json::Value], name: &str) -> Vec<f64> {
    lines
        .iter()
        .map(|v| v[name].as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

/// Alice's and Bob's `live` lines from a call on a link of `first` Mbit/s,
/// changed to `CAP_MBIT.1` at Alice's `CAPPED_S`-th line.
fn call_on(first: u32) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    call_on_kbit(first * 1000, Some(CAP_MBIT.1), CAPPED_S + AFTER_S)
}

/// Alice's and Bob's `live` lines from a call of `seconds` on a link of
/// `first` kbit/s, changed to `then` Mbit/s (if given) at Alice's
/// `CAPPED_S`-th line.
fn call_on_kbit(
    first: u32,
    then: Option<u32>,
    seconds: usize,
) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let mut lab = Lab::build(&[Nat::Cone, Nat::Open]);
    let (_, url) = lab.start_signal(false);
    lab.cap_uplink_kbit(0, first, BURST_KB, QUEUE_MS);
    let (alice, bob) = (Peer::for_url(&url), Peer::for_url(&url));
    let clip = alice.path("busy.y4m");
    busy_clip(&clip, VIDEO);

    let answer = [
        "answer",
        "--timeout",
        "120",
        "--stats",
        "--no-video",
        "--no-audio",
        "--live-stats",
    ];
    let answer = lab.spawn_peer(1, &bob, &answer);
    let speech = media("jfk.wav");
    let duration = seconds.to_string();
    let call = [
        "call",
        &bob.id,
        "--wait-online",
        "20",
        "--stats",
        "--live-stats",
        "--duration",
        &duration,
        "--video-file",
        clip.to_str().unwrap(),
        "--video-kbps",
        "2500",
        "--audio-file",
        speech.to_str().unwrap(),
    ];
    let mut call = lab.spawn_peer(0, &alice, &call);
    // Alice's stdout, read here: the link changes at her CAPPED_S-th stats line.
    let (lines_rx, reader) = watch_lines(&mut call, "live ");
    let changed = then.is_none()
        || (0..CAPPED_S).all(|_| lines_rx.recv_timeout(Duration::from_secs(60)).is_ok());
    if let (true, Some(then)) = (changed, then) {
        lab.change_uplink(0, then, BURST_KB, QUEUE_MS);
    }
    let mut outs = wait_each(vec![
        ("Alice", call, Duration::from_secs(90)),
        ("Bob", answer, Duration::from_secs(30)),
    ]);
    let (bob_out, _) = outs.pop().unwrap();
    let (mut alice_out, _) = outs.pop().unwrap();
    alice_out.stdout = reader.join().unwrap().into_bytes();
    let said_a = success(&alice_out, "Alice");
    let said_b = success(&bob_out, "Bob");
    assert!(
        changed,
        "Alice printed fewer than {CAPPED_S} stats lines:\n{said_a}"
    );
    let (a, b) = (live(&said_a), live(&said_b));
    assert!(
        a.len() >= seconds - 4 && b.len() >= seconds - 4,
        "too few stats lines: Alice {}, Bob {}",
        a.len(),
        b.len()
    );
    println!(
        "on {first} kbit/s, then {then:?} Mbit/s: reports: Alice {}, Bob {}",
        stats(&said_a),
        stats(&said_b)
    );
    (a, b)
}

fn kbps(xs: &[f64]) -> Vec<f64> {
    xs.iter().map(|x| (x / 1e3).round()).collect()
}

/// Prints the per-second figures; returns (sent, estimate, video target) of
/// Alice and (frames/s, longest gap) of Bob.
#[allow(clippy::type_complexity)]
fn figures(
    a: &[serde_json::Value],
    b: &[serde_json::Value],
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let sent = field(a, "sentBitrateBps");
    let estimate = field(a, "estimateBps");
    let target = field(a, "videoTargetBps");
    let (fps, gaps) = (field(b, "fps"), field(b, "maxFrameGapMs"));
    println!(
        "Alice sent (kbit/s, per second): {:?}\nestimate: {:?}\nvideo target: {:?}\nBob decoded (frames/s): {:?}\nlongest gap (ms): {:?}",
        kbps(&sent),
        kbps(&estimate),
        kbps(&target),
        fps.iter().map(|f| f.round()).collect::<Vec<_>>(),
        gaps
    );
    (sent, estimate, target, fps, gaps)
}

#[test]
fn the_encoder_follows_the_estimate_up() {
    if !available(NAME) {
        return;
    }
    let (a, b) = call_on(CAP_MBIT.1);
    let (sent, estimate, target, fps, _) = figures(&a, &b);
    assert!(
        (800e3..=1_300e3).contains(&estimate[0]),
        "the estimate should start near 1 Mbit/s: {:?}",
        kbps(&estimate)
    );
    // The encoder's target is its share of the estimate (after audio), up to
    // the 2.5 Mbit/s it was given; the encoder reads the estimate at each
    // frame, the stats line a moment later, so either line's estimate may be
    // the one it followed.
    let share = |e: f64| ((e - 52_000.0) * 0.85).min(2.5e6);
    for i in 1..target.len() {
        let t = target[i];
        let near = |e: f64| (t - share(e)).abs() <= 0.1 * share(e);
        assert!(
            near(estimate[i]) || near(estimate[i - 1]),
            "the video target {t} does not follow the estimate {} (before: {})",
            estimate[i],
            estimate[i - 1]
        );
    }
    let climbed = sent[..20].iter().position(|&s| s > 1.5e6);
    assert!(
        climbed.is_some(),
        "the bitrate did not pass 1.5 Mbit/s within 20 s: {:?}",
        kbps(&sent)
    );
    // Bob's lines start when his side connects, not with Alice's: a few
    // seconds of margin, and a slow second or two allowed on 2 busy cores.
    let from = climbed.unwrap() + 4;
    let slow = fps[from..fps.len() - 2]
        .iter()
        .filter(|&&f| f < 20.0)
        .count();
    assert!(
        slow <= 2,
        "Bob decoded under 20 frames/s in {slow} seconds once the bitrate was up: {fps:?}"
    );
}

#[test]
fn the_video_bitrate_follows_a_capped_link() {
    if !available(NAME) {
        return;
    }
    let (a, b) = call_on(CAP_MBIT.0);
    let (sent, _, _, fps, gaps) = figures(&a, &b);
    let settled = &sent[10..CAPPED_S];
    assert!(
        mean(settled) < 1e6 && settled.iter().all(|&s| s < 1.2e6),
        "Alice's bitrate did not settle below the 1 Mbit/s cap: {:?}",
        kbps(settled)
    );
    let (fps_capped, gaps_capped) = (&fps[10..CAPPED_S], &gaps[10..CAPPED_S]);
    assert!(
        fps_capped.iter().all(|&f| f >= 10.0),
        "Bob decoded under 10 frames/s on the capped link: {fps_capped:?}"
    );
    assert!(
        gaps_capped.iter().all(|&g| g <= 1000.0),
        "a freeze over 1 s on the capped link: {gaps_capped:?}"
    );
    let after = &sent[CAPPED_S..(CAPPED_S + 20).min(sent.len())];
    assert!(
        after.iter().any(|&s| s > 1.5e6),
        "the bitrate did not climb past 1.5 Mbit/s within 20 s of the cap's lift: {:?}",
        kbps(after)
    );
}

#[test]
fn a_starved_link_halves_the_camera_size() {
    if !available(NAME) {
        return;
    }
    let (a, b) = call_on_kbit(STARVED_KBIT, None, STARVED_S);
    let (sent, _, target, fps, gaps) = figures(&a, &b);
    let widths = field(&b, "width");
    println!("Bob's picture width: {widths:?}");
    let late = 12..b.len().min(a.len()) - 1;
    let settled = &sent[late.clone()];
    assert!(
        mean(settled) < f64::from(STARVED_KBIT) * 1.1e3,
        "Alice's bitrate did not settle near the {STARVED_KBIT} kbit/s cap: {:?}",
        kbps(settled)
    );
    // Halved below 207 kbit/s, kept so up to 415 (GCC probes above the cap
    // now and then). Bob's lines and Alice's are a second or two apart.
    let first_small = widths.iter().position(|&w| w == 320.0);
    assert!(
        first_small.is_some_and(|i| target[..(i + 3).min(target.len())]
            .iter()
            .any(|&t| t < 207e3)),
        "the camera's size halved without its target under 207 kbit/s: {:?}",
        kbps(&target)
    );
    assert!(
        target[late.clone()].iter().all(|&t| t < 415e3),
        "the camera's target rose to where the full size comes back: {:?}",
        kbps(&target)
    );
    let halved = widths[late.clone()].iter().filter(|&&w| w == 320.0).count();
    assert!(
        halved + 2 >= late.len(),
        "Bob should see the camera at half size (320 wide): {widths:?}"
    );
    // Two slow seconds allowed on 2 busy cores: a CI run (2026-12-04) saw
    // the estimate fall to 136 kbit/s after the first second's burst, and
    // Bob's rate climb back through 4 and 5 frames/s early in this window.
    let slow = fps[late.clone()].iter().filter(|&&f| f < 5.0).count();
    assert!(
        slow <= 2,
        "Bob decoded under 5 frames/s in {slow} seconds on the starved link: {fps:?}"
    );
    assert!(
        gaps[late].iter().all(|&g| g <= 1000.0),
        "a freeze over 1 s on the starved link: {gaps:?}"
    );
}
