//! The network scenarios' call: Alice (site 0) calls Bob (site 1) through the
//! signaling server in the lab's WAN namespace, sends the recorded clip and a
//! random file, and the outcome is checked as a user would: the clip arrives
//! (PSNR), the file arrives (SHA-256), both processes exit 0.
#![allow(dead_code)]

use std::time::Duration;

use super::checks::{assert_video_matches, random_file, sha256_file};
use super::netns::Lab;
use super::{media, stats, success, wait, Peer};

/// What a finished call reported, from each side's `--stats` line.
pub struct CallOutcome {
    /// The caller's stats JSON.
    pub caller: serde_json::Value,
    /// The callee's stats JSON.
    pub callee: serde_json::Value,
    /// The caller's stderr.
    pub caller_log: String,
}

/// Runs the call with `extra_caller` / `extra_callee` arguments appended, a
/// `file_mib` MiB file sent by Alice, and asserts video (≥ 30 dB over ≥ 80 % of the
/// frames) and file hash.
pub fn call_with_clip_and_file(
    lab: &Lab,
    server_url: &str,
    file_mib: usize,
    extra_caller: &[&str],
    extra_callee: &[&str],
) -> CallOutcome {
    let (alice, bob) = (Peer::for_url(server_url), Peer::for_url(server_url));
    call_between(lab, &alice, &bob, file_mib, extra_caller, extra_callee)
}

/// As [`call_with_clip_and_file`], between the given peers: `alice` (site 0)
/// calls `bob` (site 1), each through its own server URL.
pub fn call_between(
    lab: &Lab,
    alice: &Peer,
    bob: &Peer,
    file_mib: usize,
    extra_caller: &[&str],
    extra_callee: &[&str],
) -> CallOutcome {
    let clip = media("chrome-320x180-15fps.y4m");
    let big = alice.path("random.bin");
    random_file(&big, file_mib << 20);
    let inbox = bob.path("inbox");
    let rec = bob.path("received.y4m");

    let mut answer_args = super::answer_args("60", &rec);
    answer_args.extend_from_slice(&["--receive-dir", inbox.to_str().unwrap()]);
    answer_args.extend_from_slice(extra_callee);
    let answer = lab.spawn_peer(1, bob, &answer_args);
    let mut call_args = super::call_args(&bob.id, "10", &clip);
    call_args.extend_from_slice(&["--send-file", big.to_str().unwrap()]);
    call_args.extend_from_slice(extra_caller);
    let call = lab.spawn_peer(0, alice, &call_args);

    let (call_out, _) = wait(call, Duration::from_secs(120), "caller");
    let mut answer = answer;
    if !call_out.status.success() {
        let _ = answer.kill();
        let callee = answer.wait_with_output().unwrap();
        eprintln!(
            "server log:\n{}\ncoturn log:\n{}{}\ncallee stderr:\n{}",
            lab.read_log("parley-signal.log"),
            lab.read_log("coturn.log"),
            lab.read_log("coturn.err"),
            String::from_utf8_lossy(&callee.stderr)
        );
        success(&call_out, "caller");
        unreachable!("success() panics on a failed caller");
    }
    let (answer_out, _) = wait(answer, Duration::from_secs(15), "callee");
    let caller = stats(&success(&call_out, "caller"));
    let callee = stats(&success(&answer_out, "callee"));
    println!("caller stats: {caller}\ncallee stats: {callee}");

    let got = inbox.join("random.bin");
    assert_eq!(
        std::fs::metadata(&got).map(|m| m.len()).ok(),
        Some((file_mib as u64) << 20),
        "the file did not arrive whole"
    );
    assert_eq!(
        sha256_file(&got),
        sha256_file(&big),
        "the file's hash differs"
    );
    assert_video_matches(
        &clip,
        &rec,
        caller["frames_sent"].as_u64().unwrap(),
        callee["frames_received"].as_u64().unwrap(),
        0.8,
        30.0,
    );
    CallOutcome {
        caller,
        callee,
        caller_log: String::from_utf8_lossy(&call_out.stderr).into_owned(),
    }
}
