//! Calls bound to identity keys (docs/protocol.md §6.3): a signaling path that
//! alters offers or answers cannot join or spy on a call.
//!
//! Two `parley-cli` processes talk to the real server through a hostile relay
//! (tests/common/hostile_relay.rs). Asserts:
//! - through a faithful relay the same set-up connects: video and chat arrive;
//! - a rewritten DTLS fingerprint (in offers and answers, or in the answer only),
//!   a fingerprint re-signed with the relay's own key, an extra fingerprint line
//!   hidden behind a `\r` (read by webrtc-rs's SDP parser, not by a line scan),
//!   and an offer replayed from an
//!   earlier call are each refused: both processes exit non-zero saying the
//!   connection was tampered with, the callee records no frame and no chat message
//!   arrives;
//! - each profile's DTLS fingerprint is the same from call to call.

mod common;

use std::process::Output;
use std::time::Duration;

use common::hostile_relay::{HostileRelay, Tamper};
use common::*;

struct Attempt {
    caller: Output,
    callee: Output,
    /// Video frames the callee recorded.
    frames: usize,
}

/// One call from `alice` to `bob` (both signed in through the same relay) with
/// video and a chat message.
fn attempt(alice: &Peer, bob: &Peer) -> Attempt {
    let rec = bob.path("rec.y4m");
    let _ = std::fs::remove_file(&rec);
    let answer = bob.spawn(&answer_args("30", &rec));
    let_answerer_log_in();
    let clip = media("chrome-320x180-15fps.y4m");
    let mut call = call_args(&bob.id, "2", &clip);
    call.extend(["--chat", "secret hello"]);
    let (caller, _) = wait(alice.spawn(&call), Duration::from_secs(60), "caller");
    let (callee, _) = wait(answer, Duration::from_secs(30), "callee");
    let frames = std::fs::read(&rec)
        .map(|b| b.windows(5).filter(|w| w == b"FRAME").count())
        .unwrap_or(0);
    Attempt {
        caller,
        callee,
        frames,
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_refused(what: &str, a: &Attempt) {
    for (side, out) in [("caller", &a.caller), ("callee", &a.callee)] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("tampered with"),
            "{what}: the {side} should refuse the call as tampered with\n{}",
            text(out)
        );
        assert!(
            chats(&String::from_utf8_lossy(&out.stdout)).is_empty(),
            "{what}: chat reached the {side}\n{}",
            text(out)
        );
    }
    assert_eq!(a.frames, 0, "{what}: video reached the callee");
}

#[test]
fn a_tampering_relay_cannot_join_a_call() {
    let server = Server::start();

    // A faithful relay: the set-up itself works.
    let relay = HostileRelay::start(&server.url, Tamper::None);
    let (alice, bob) = (Peer::for_url(&relay.url), Peer::for_url(&relay.url));
    let ok = attempt(&alice, &bob);
    success(&ok.caller, "caller through a faithful relay");
    let callee = success(&ok.callee, "callee through a faithful relay");
    assert_eq!(chats(&callee), ["secret hello"], "{}", text(&ok.callee));
    assert!(ok.frames > 5, "only {} frames arrived", ok.frames);
    assert_eq!(relay.descriptions(), 2, "one offer and one answer relayed");
    drop(relay);

    for (tamper, altered) in [
        (Tamper::Fingerprint, 1),
        (Tamper::AnswerFingerprint, 1),
        (Tamper::ForeignSignature, 1),
        (Tamper::HiddenFingerprint, 1),
    ] {
        let relay = HostileRelay::start(&server.url, tamper);
        let (alice, bob) = (Peer::for_url(&relay.url), Peer::for_url(&relay.url));
        let a = attempt(&alice, &bob);
        assert_refused(&format!("{tamper:?}"), &a);
        assert_eq!(relay.altered(), altered, "{tamper:?}: descriptions altered");
    }

    // A signed offer from an earlier call, replayed into a new one.
    let relay = HostileRelay::start(&server.url, Tamper::ReplayFirstOffer);
    let (alice, bob) = (Peer::for_url(&relay.url), Peer::for_url(&relay.url));
    let first = attempt(&alice, &bob);
    success(&first.caller, "first call, recorded by the relay");
    let replayed = attempt(&alice, &bob);
    assert_refused("replayed offer", &replayed);
    assert_eq!(relay.altered(), 1, "the replayed offer");

    // Each profile keeps its DTLS certificate: the same fingerprint in both calls,
    // and a different one for each peer.
    let seen = relay.seen.lock().unwrap().clone();
    let of = |id: &str| -> Vec<Vec<String>> {
        seen.iter()
            .filter(|(_, from, _)| from == id)
            .map(|(_, _, fp)| fp.clone())
            .collect()
    };
    let (a, b) = (of(&alice.id), of(&bob.id));
    assert_eq!(a.len(), 2, "Alice's two offers: {seen:?}");
    assert!(
        !a[0].is_empty() && a[0] == a[1],
        "Alice's fingerprints changed: {a:?}"
    );
    assert!(!b.is_empty() && b[0] != a[0], "Bob's answer: {b:?}");
}
