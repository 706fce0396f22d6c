//! A roaming peer (issue 10, scenario 6): mid-call, Bob's host moves to another
//! network, as a laptop that changes Wi-Fi: a new link on a new subnet comes up
//! and the old link, with Bob's old address, is gone. Both peers are behind cone
//! NATs; nobody touches either peer.
//!
//! Asserts:
//! - the call survives: both processes exit 0 after Alice hangs up;
//! - an ICE restart brought it back (one side's `ice_restarts` ≥ 1), and Bob's
//!   side of the selected pair is no longer on his old address;
//! - video resumed within 5 s of the move (the longest gap between decoded
//!   frames at Bob; 1.0 s when written): Bob's app notices that his old address is
//!   gone within a second (`parley_engine::netwatch`), connects to the server again
//!   at once and restarts ICE, rather than wait for ICE to call the old path
//!   `disconnected` (5 s) and the other side to restart; and frames kept arriving
//!   afterwards.

mod common;

use std::time::{Duration, Instant};

use common::netns::{available, Lab, Nat};
use common::{answer_args, call_args, media, stats, success, wait, Peer};

/// Bytes of one 320x180 I420 frame in the Y4M recording (plus its `FRAME\n`).
const FRAME_BYTES: u64 = 320 * 180 * 3 / 2 + 6;

#[test]
fn a_peer_that_changes_networks_mid_call_stays_in_the_call() {
    if !available("nat_roaming") {
        return;
    }
    let mut lab = Lab::build(&[Nat::Cone, Nat::Cone]);
    lab.start_coturn();
    let (_, url) = lab.start_signal(true);
    let old_ip = lab.sites[1].host_ip.clone();

    let (alice, bob) = (Peer::for_url(&url), Peer::for_url(&url));
    let clip = media("chrome-320x180-15fps.y4m");
    let rec = bob.path("received.y4m");
    let answer = lab.spawn_peer(1, &bob, &answer_args("90", &rec));
    let call = lab.spawn_peer(0, &alice, &call_args(&bob.id, "30", &clip));

    // Bob moves once 2 s of video (30 frames) reached him.
    let start = Instant::now();
    while std::fs::metadata(&rec).map_or(0, |m| m.len()) < 30 * FRAME_BYTES {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no video reached Bob within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let frames_before = std::fs::metadata(&rec).unwrap().len() / FRAME_BYTES;
    let new_ip = lab.roam(1);
    println!("Bob moved from {old_ip} to {new_ip} after {frames_before} frames");

    let (call_out, _) = wait(call, Duration::from_secs(120), "caller");
    let (answer_out, _) = wait(answer, Duration::from_secs(20), "callee");
    println!(
        "caller stderr:\n{}\ncallee stderr:\n{}",
        String::from_utf8_lossy(&call_out.stderr),
        String::from_utf8_lossy(&answer_out.stderr)
    );
    let caller = stats(&success(&call_out, "caller"));
    let callee = stats(&success(&answer_out, "callee"));
    println!("caller stats: {caller}\ncallee stats: {callee}");

    let restarts =
        caller["ice_restarts"].as_u64().unwrap_or(0) + callee["ice_restarts"].as_u64().unwrap_or(0);
    assert!(restarts >= 1, "no ICE restart brought the call back");
    let bob_local = callee["local_address"].as_str().unwrap_or("none");
    assert!(
        !bob_local.starts_with(&format!("{old_ip}:")),
        "Bob's side of the selected pair is still his old address {bob_local}"
    );
    let frames = callee["frames_received"].as_u64().unwrap_or(0);
    assert!(
        frames > frames_before + 15 * 10,
        "only {frames} frames reached Bob in all ({frames_before} before the move)"
    );
    let gap_ms = callee["max_frame_gap_ms"]
        .as_u64()
        .expect("max_frame_gap_ms");
    assert!(
        gap_ms < 5_000,
        "video stopped for {gap_ms} ms when Bob moved (at most 5 s)"
    );
    println!("Bob now at {bob_local}; video gap {gap_ms} ms; ICE restarts {restarts}");
}
