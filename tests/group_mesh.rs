//! A group call of three `parley-cli` processes through the real signaling
//! server: Alice calls Bob, then invites Carol into the running call
//! (docs/protocol.md §6.4); each sends the recorded clip as its camera.
//!
//! Asserts:
//! - every member records every other member's camera to its own file (the
//!   mesh: a peer link per pair), and each recording looks like the clip (mean
//!   PSNR of the best matches ≥ 30 dB) over at least 3 s of frames;
//! - Bob and Carol are told that Carol joined / were invited with the members
//!   listed;
//! - when Alice hangs up, Bob and Carol are told she left and stay in the call
//!   with each other: Carol's recording of Bob goes on after Alice left;
//! - when Bob leaves too, Carol's call ends; all three exit with status 0.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use parley_engine::media::{psnr_y, read_y4m_all};

/// Frames at 15 frames/s in 3 s.
const MIN_FRAMES: usize = 45;

/// Asserts `rec` (what `who` recorded of a member) looks like `clip`.
fn assert_looks_like(clip: &Path, rec: &Path, who: &str) -> usize {
    assert!(rec.exists(), "{who}: no recording at {}", rec.display());
    let source = read_y4m_all(clip).unwrap();
    let frames = read_y4m_all(rec).unwrap();
    assert!(
        frames.len() >= MIN_FRAMES,
        "{who}: only {} frames recorded",
        frames.len()
    );
    let mean = frames
        .iter()
        .map(|f| source.iter().map(|s| psnr_y(s, f)).fold(f64::MIN, f64::max))
        .sum::<f64>()
        / frames.len() as f64;
    println!("{who}: {} frames, mean PSNR {mean:.1} dB", frames.len());
    assert!(mean >= 30.0, "{who}: mean PSNR {mean:.1} dB");
    frames.len()
}

/// Arguments for a member that sends the clip and records every member to
/// `<its folder>/from-{peer}.y4m`.
fn member_args<'a>(clip: &'a str, rec: &'a str) -> Vec<&'a str> {
    vec![
        "--video-file",
        clip,
        "--no-audio",
        "--record-video",
        rec,
        "--stats",
    ]
}

#[test]
fn three_members_see_each_other_and_the_call_outlives_its_caller() {
    let server = Server::start();
    let (alice, bob, carol) = (Peer::new(&server), Peer::new(&server), Peer::new(&server));
    let clip = media("chrome-320x180-15fps.y4m");
    let clip_s = clip.to_str().unwrap();
    let pattern = |p: &Peer| p.path("from-{peer}.y4m").to_str().unwrap().to_owned();
    let (rec_a, rec_b, rec_c) = (pattern(&alice), pattern(&bob), pattern(&carol));

    let mut bob_args = vec!["answer", "--timeout", "30", "--leave-after", "14"];
    bob_args.extend(member_args(clip_s, &rec_b));
    let bob_run = bob.spawn(&bob_args);
    let mut carol_args = vec!["answer", "--timeout", "30"];
    carol_args.extend(member_args(clip_s, &rec_c));
    let carol_run = carol.spawn(&carol_args);
    let mut alice_args = vec![
        "call",
        &bob.id,
        "--wait-online",
        "20",
        "--duration",
        "9",
        "--invite",
        &carol.id,
        "--invite-at",
        "1",
    ];
    alice_args.extend(member_args(clip_s, &rec_a));
    let alice_run = alice.spawn(&alice_args);

    let (alice_out, _) = wait(alice_run, Duration::from_secs(60), "alice");
    let (bob_out, _) = wait(bob_run, Duration::from_secs(30), "bob");
    let (carol_out, _) = wait(carol_run, Duration::from_secs(15), "carol");
    success(&alice_out, "alice");
    success(&bob_out, "bob");
    success(&carol_out, "carol");
    let err = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let (alice_err, bob_err, carol_err) = (err(&alice_out), err(&bob_out), err(&carol_out));

    assert!(
        carol_err.contains(&format!("{} invites us into a call with", alice.id)),
        "Carol was not shown the members:\n{carol_err}"
    );
    assert!(
        bob_err.contains(&format!("{} joined the call", carol.id)),
        "Bob was not told Carol joined:\n{bob_err}"
    );
    for (who, log) in [("Bob", &bob_err), ("Carol", &carol_err)] {
        assert!(
            log.contains(&format!("{} left the call", alice.id)),
            "{who} was not told Alice left:\n{log}"
        );
    }
    println!("alice:\n{alice_err}\nbob:\n{bob_err}\ncarol:\n{carol_err}");

    let rec = |p: &Peer, of: &Peer| p.path(&format!("from-{}.y4m", of.id));
    assert_looks_like(&clip, &rec(&alice, &bob), "Alice's recording of Bob");
    assert_looks_like(&clip, &rec(&alice, &carol), "Alice's recording of Carol");
    assert_looks_like(&clip, &rec(&bob, &alice), "Bob's recording of Alice");
    let bob_of_carol = assert_looks_like(&clip, &rec(&bob, &carol), "Bob's recording of Carol");
    assert_looks_like(&clip, &rec(&carol, &alice), "Carol's recording of Alice");
    let carol_of_bob = assert_looks_like(&clip, &rec(&carol, &bob), "Carol's recording of Bob");
    let carol_of_alice = read_y4m_all(rec(&carol, &alice)).unwrap().len();
    // Bob and Carol went on for about 5 s after Alice left (at 15 frames/s).
    for (who, n) in [
        ("Carol of Bob", carol_of_bob),
        ("Bob of Carol", bob_of_carol),
    ] {
        assert!(
            n >= carol_of_alice + 45,
            "{who}: {n} frames, hardly more than the {carol_of_alice} Carol got from Alice"
        );
    }
}
