//! Benchmark (ignored in `cargo test`; run it by hand, as root):
//!
//! ```sh
//! cargo build --workspace --bins
//! cargo test --test nat_paths_bench -- --ignored --nocapture
//! ```
//!
//! Call setup (accept → first decoded frame, the callee's `setup_ms`), median of
//! 10 calls, on each kind of path: host (two open hosts), srflx (two cone NATs),
//! and the TURN relay over UDP, TCP and TLS (`--relay-only` with one TURN URL);
//! then a 64 MiB file's throughput on each, with the direct (srflx) path as the
//! reference measured in the same run. Results go to BENCHMARKS.md.

mod common;

use std::time::Duration;

use common::netns::{available, Lab, Nat, WAN_SERVER_IP};
use common::{answer_args, call_args, media, stats, success, wait, Peer};

/// Calls per path for the setup median.
const CALLS: usize = 10;

struct Outcome {
    setup_ms: u64,
    pair: String,
    mbps: Option<f64>,
}

/// One call from site `a` to site `b`; with `file_mib`, Alice sends a file.
fn one_call(
    lab: &Lab,
    url: &str,
    (a, b): (usize, usize),
    extra: &[&str],
    file_mib: usize,
) -> Outcome {
    let (alice, bob) = (Peer::for_url(url), Peer::for_url(url));
    let clip = media("chrome-320x180-15fps.y4m");
    let rec = bob.path("received.y4m");
    let inbox = bob.path("inbox");
    let mut answer = answer_args("30", &rec);
    answer.extend_from_slice(&["--receive-dir", inbox.to_str().unwrap()]);
    answer.extend_from_slice(extra);
    let answer = lab.spawn_peer(b, &bob, &answer);
    let big = alice.path("big.bin");
    let mut call = call_args(&bob.id, "3", &clip);
    if file_mib > 0 {
        common::checks::random_file(&big, file_mib << 20);
        call.extend_from_slice(&["--send-file", big.to_str().unwrap()]);
    }
    call.extend_from_slice(extra);
    let call = lab.spawn_peer(a, &alice, &call);
    let (call_out, _) = wait(call, Duration::from_secs(120), "caller");
    success(&call_out, "caller");
    let (answer_out, _) = wait(answer, Duration::from_secs(30), "callee");
    let out = success(&answer_out, "callee");
    let s = stats(&out);
    let mbps = out
        .lines()
        .find(|l| l.starts_with("received:"))
        .and_then(|l| l.rsplit_once(", ")?.1.strip_suffix(" MB/s)")?.parse().ok());
    Outcome {
        setup_ms: s["setup_ms"]
            .as_u64()
            .unwrap_or_else(|| panic!("no decoded frame: {s}")),
        pair: format!(
            "{}->{}{}",
            s["local_candidate"].as_str().unwrap_or("?"),
            s["remote_candidate"].as_str().unwrap_or("?"),
            s["relay_transport"]
                .as_str()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default()
        ),
        mbps,
    }
}

#[test]
#[ignore = "benchmark: run by hand (see the file's header)"]
fn setup_time_and_throughput_per_path() {
    if !available("nat_paths_bench") {
        return;
    }
    let mut lab = Lab::build(&[Nat::Open, Nat::Open, Nat::Cone, Nat::Cone]);
    lab.start_coturn();
    let ca = lab.turn_ca();
    let ca = ca.to_str().unwrap().to_owned();
    let stun = format!("stun:{WAN_SERVER_IP}:3478");
    let paths: [(&str, (usize, usize), Option<String>); 5] = [
        ("host", (0, 1), None),
        ("srflx", (2, 3), None),
        (
            "relay udp",
            (2, 3),
            Some(format!("turn:{WAN_SERVER_IP}:3478")),
        ),
        (
            "relay tcp",
            (2, 3),
            Some(format!("turn:{WAN_SERVER_IP}:3478?transport=tcp")),
        ),
        (
            "relay tls",
            (2, 3),
            Some(format!("turns:{WAN_SERVER_IP}:5349")),
        ),
    ];
    let mut rows = Vec::new();
    for (name, sites, turn) in &paths {
        let turn_urls: Vec<&str> = turn.iter().map(String::as_str).collect();
        let (signal, url) = lab.start_signal_with(&[&stun], &turn_urls);
        let mut extra = vec!["--turn-ca", ca.as_str()];
        if turn.is_some() {
            extra.push("--relay-only");
        }
        let mut setups: Vec<u64> = Vec::new();
        let mut pair = String::new();
        for _ in 0..CALLS {
            let o = one_call(&lab, &url, *sites, &extra, 0);
            setups.push(o.setup_ms);
            pair = o.pair;
        }
        setups.sort_unstable();
        let median = (setups[CALLS / 2 - 1] + setups[CALLS / 2]) / 2;
        let mbps = one_call(&lab, &url, *sites, &extra, 64)
            .mbps
            .expect("a received line");
        println!("{name}: pair {pair}, setup median {median} ms (all {setups:?}), 64 MiB at {mbps:.1} MB/s");
        rows.push((name, pair, median, mbps));
        lab.stop(signal);
    }
    let reference = rows[1].3;
    println!("\n| path | selected pair (callee) | setup, median of {CALLS} | 64 MiB file | ratio to srflx |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, pair, median, mbps) in &rows {
        println!(
            "| {name} | {pair} | {median} ms | {mbps:.1} MB/s | {:.2} |",
            mbps / reference
        );
    }
}
