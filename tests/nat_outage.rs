//! A 10 s outage of one peer's uplink in the middle of a call with a 256 MiB
//! transfer running (issue 10, scenario 4). Alice and Bob are each behind a cone
//! NAT; Alice's uplink is capped (tc tbf) so the transfer is still running when
//! Bob's router stops forwarding anything for 10 s, then forwards again. Nobody
//! touches either peer meanwhile.
//!
//! Asserts, as a user would see it:
//! - the call survives: both processes exit 0 after Alice hangs up;
//! - the file arrives whole with the same SHA-256;
//! - video resumed within 5 s of the link coming back: the longest gap between
//!   decoded frames at Bob is longer than half the outage (the outage did stop
//!   the video, so the check means something) and shorter than the outage + 5 s;
//! - the transfer was not restarted from zero: Alice's router forwarded fewer
//!   than 1.2 × the file's bytes in all (media and signaling included).

mod common;

use std::time::{Duration, Instant};

use common::checks::{random_file, sha256_file};
use common::netns::{available, Lab, Nat};
use common::{answer_args, call_args, media, stats, success, wait, Peer};

/// How long Bob's uplink is down, s.
const OUTAGE_S: u64 = 10;
/// The file Alice sends, MiB.
const FILE_MIB: u64 = 256;
/// Alice's uplink, Mbit/s: slow enough that the transfer is still running when
/// the outage begins, and ends well after it.
const UPLINK_MBIT: u32 = 200;

#[test]
fn a_call_and_its_transfer_survive_a_10_s_outage() {
    if !available("nat_outage") {
        return;
    }
    let mut lab = Lab::build(&[Nat::Cone, Nat::Cone]);
    lab.start_coturn();
    let (_, url) = lab.start_signal(true);
    lab.cap_uplink(0, UPLINK_MBIT);
    lab.count_uplink(0);

    let (alice, bob) = (Peer::for_url(&url), Peer::for_url(&url));
    let clip = media("chrome-320x180-15fps.y4m");
    let big = alice.path("random.bin");
    random_file(&big, (FILE_MIB << 20) as usize);
    let inbox = bob.path("inbox");
    let rec = bob.path("received.y4m");

    let mut answer = answer_args("90", &rec);
    answer.extend_from_slice(&["--receive-dir", inbox.to_str().unwrap()]);
    let answer = lab.spawn_peer(1, &bob, &answer);
    // The call hangs up 5 s after the file is delivered.
    let mut call = call_args(&bob.id, "5", &clip);
    call.extend_from_slice(&["--send-file", big.to_str().unwrap()]);
    let call = lab.spawn_peer(0, &alice, &call);

    // The outage begins once a quarter of the file is at Bob's.
    let quarter = (FILE_MIB << 20) / 4;
    wait_until_received(&inbox, quarter, Duration::from_secs(60));
    lab.cut(1);
    let cut_at = Instant::now();
    std::thread::sleep(Duration::from_secs(OUTAGE_S)); // the outage itself
    lab.restore(1);
    println!("outage: {:.1} s", cut_at.elapsed().as_secs_f64());

    let (call_out, _) = wait(call, Duration::from_secs(150), "caller");
    let (answer_out, _) = wait(answer, Duration::from_secs(20), "callee");
    let caller = stats(&success(&call_out, "caller"));
    let callee = stats(&success(&answer_out, "callee"));
    println!("caller stats: {caller}\ncallee stats: {callee}");
    println!(
        "caller stderr:\n{}\ncallee stderr:\n{}",
        String::from_utf8_lossy(&call_out.stderr),
        String::from_utf8_lossy(&answer_out.stderr)
    );

    let got = inbox.join("random.bin");
    assert_eq!(
        std::fs::metadata(&got).map(|m| m.len()).ok(),
        Some(FILE_MIB << 20),
        "the file did not arrive whole"
    );
    assert_eq!(
        sha256_file(&got),
        sha256_file(&big),
        "the file's hash differs"
    );

    let gap_ms = callee["max_frame_gap_ms"]
        .as_u64()
        .expect("max_frame_gap_ms");
    let outage_ms = OUTAGE_S * 1000;
    assert!(
        gap_ms > outage_ms / 2,
        "the longest video gap at Bob was {gap_ms} ms: the outage did not stop the video"
    );
    assert!(
        gap_ms < outage_ms + 5_000,
        "video came back {} ms after the link did (longest gap {gap_ms} ms)",
        gap_ms.saturating_sub(outage_ms)
    );

    let sent = lab.uplink_bytes(0);
    let file = FILE_MIB << 20;
    println!(
        "Alice's uplink carried {sent} bytes for a {file}-byte file ({:.3}×)",
        sent as f64 / file as f64
    );
    assert!(
        (sent as f64) < 1.2 * file as f64,
        "Alice's uplink carried {sent} bytes for a {file}-byte file: more than 1.2×"
    );
}

/// Waits until a file in `dir` (the partial download) holds `bytes`.
fn wait_until_received(dir: &std::path::Path, bytes: u64, within: Duration) {
    let start = Instant::now();
    while start.elapsed() < within {
        let largest = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .max()
            .unwrap_or(0);
        if largest >= bytes {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{} never held {bytes} bytes within {within:?}",
        dir.display()
    );
}
