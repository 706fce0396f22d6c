//! TURN credentials that expire during a call (issue 10, part 1: credentials
//! "refreshed before expiry"). The server hands out TURN REST credentials that
//! live 4 s, and fresh ones every 2 s. Alice and Bob, each behind a symmetric
//! NAT and restricted to relay candidates, call through coturn. Well after their
//! first credentials expired, Bob's router stops forwarding for 8 s, then
//! forwards again: the ICE restart that brings the call back must allocate new
//! relays, which coturn grants only with credentials that have not expired.
//!
//! Asserts, as a user would see it:
//! - the call survives: both processes exit 0 after Alice hangs up;
//! - it came back by an ICE restart (at least one), still relay ↔ relay;
//! - video resumed within 5 s of the link returning: the longest gap between
//!   decoded frames at Bob is longer than half the outage (the outage did stop
//!   the video) and shorter than the outage + 5 s.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::netns::{available, Lab, Nat, TURN_SECRET, WAN_SERVER_IP};
use common::{answer_args, call_args, media, stats, success, wait, Peer};

/// Lifetime of the TURN credentials the server issues, s.
const TTL_S: &str = "4";
/// How long Bob's uplink is down, s.
const OUTAGE_S: u64 = 8;

#[test]
fn a_relayed_call_restarts_ice_with_fresh_turn_credentials() {
    if !available("nat_turn_refresh") {
        return;
    }
    let mut lab = Lab::build(&[Nat::Symmetric, Nat::Symmetric]);
    lab.start_coturn();
    let (stun, turn) = (
        format!("stun:{WAN_SERVER_IP}:3478"),
        format!("turn:{WAN_SERVER_IP}:3478"),
    );
    let (_, url) = lab.start_signal_args(&[
        "--stun-url",
        &stun,
        "--turn-url",
        &turn,
        "--turn-secret",
        TURN_SECRET,
        "--turn-ttl-secs",
        TTL_S,
    ]);

    let (alice, bob) = (Peer::for_url(&url), Peer::for_url(&url));
    let clip = media("chrome-320x180-15fps.y4m");
    let rec = bob.path("received.y4m");
    let mut answer = answer_args("60", &rec);
    answer.push("--relay-only");
    let answer = lab.spawn_peer(1, &bob, &answer);
    let mut call = call_args(&bob.id, "30", &clip);
    call.push("--relay-only");
    let call = lab.spawn_peer(0, &alice, &call);

    // Once video flows, wait until the credentials the call started with have
    // expired (the expiry is a time, nothing to wait on but the clock).
    wait_for_frames(&rec, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(6));
    lab.cut(1);
    let cut_at = Instant::now();
    std::thread::sleep(Duration::from_secs(OUTAGE_S)); // the outage itself
    lab.restore(1);
    println!("outage: {:.1} s", cut_at.elapsed().as_secs_f64());

    let (call_out, _) = wait(call, Duration::from_secs(60), "caller");
    let (answer_out, _) = wait(answer, Duration::from_secs(20), "callee");
    let caller = stats(&success(&call_out, "caller"));
    let callee = stats(&success(&answer_out, "callee"));
    println!("caller stats: {caller}\ncallee stats: {callee}");

    let restarts =
        caller["ice_restarts"].as_u64().unwrap_or(0) + callee["ice_restarts"].as_u64().unwrap_or(0);
    assert!(restarts >= 1, "the call came back without an ICE restart");
    for (side, s) in [("caller", &caller), ("callee", &callee)] {
        assert_eq!(
            s["local_candidate"], "relay",
            "{side}'s pair after the restart"
        );
    }
    let gap_ms = callee["max_frame_gap_ms"].as_u64().unwrap_or(0);
    println!("longest gap between Bob's frames: {gap_ms} ms");
    assert!(
        gap_ms > OUTAGE_S * 1000 / 2,
        "the outage did not stop the video ({gap_ms} ms gap)"
    );
    assert!(
        gap_ms < (OUTAGE_S + 5) * 1000,
        "video came back {} ms after the link (more than 5 s)\ncaller stderr:\n{}\ncallee stderr:\n{}",
        gap_ms.saturating_sub(OUTAGE_S * 1000),
        String::from_utf8_lossy(&call_out.stderr),
        String::from_utf8_lossy(&answer_out.stderr)
    );
}

/// Waits until `rec` holds a few decoded frames (320x180 I420: 86 400 bytes a
/// frame), polling its size.
fn wait_for_frames(rec: &Path, within: Duration) {
    let start = Instant::now();
    while std::fs::metadata(rec).map(|m| m.len()).unwrap_or(0) < 10 * 86_400 {
        assert!(
            start.elapsed() < within,
            "no video at Bob's within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
