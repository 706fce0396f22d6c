//! The signaling server dies mid-call and comes back 5 s later: the call does not
//! need it. Two `parley-cli` processes call through the real `parley-signal`
//! binary on 127.0.0.1; once connected, the server is killed (SIGKILL), and a new
//! server process is started on the same port 5 s later.
//!
//! Asserts:
//! - decoded frames keep arriving the whole time: the callee decodes ≥ 90 % of the
//!   frames the caller sent over the 20 s call (a 5 s gap would lose 25 %), and
//!   they look like the clip (mean PSNR ≥ 30 dB);
//! - both clients reconnect and re-announce the call (`resume`), and the new server
//!   re-creates it from the two announcements (its log says so), so hangup,
//!   offers and candidates are relayed again;
//! - the caller then hangs up cleanly and both processes exit 0, the callee
//!   within 2 s of the caller.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use common::*;

fn server_command(port: u16) -> Command {
    let mut cmd = Command::new(bin("parley-signal"));
    cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
    cmd
}

#[test]
fn calls_outlive_a_signaling_server_restart() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scratch = tempfile::tempdir().unwrap();
    let first_log = scratch.path().join("first.log");
    let second_log = scratch.path().join("second.log");
    let mut server = spawn_signal(server_command(port), &first_log);
    let url = format!("ws://127.0.0.1:{port}/ws");
    let (alice, bob) = (Peer::for_url(&url), Peer::for_url(&url));
    let clip = media("chrome-320x180-15fps.y4m");
    let rec = bob.path("received.y4m");

    let answer = bob.spawn(&answer_args("60", &rec));
    let mut call = alice.spawn(&call_args(&bob.id, "20", &clip));
    // The caller says "connected" on stderr when media starts; keep its stderr.
    let (tx, rx) = mpsc::channel();
    let stderr = call.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.trim() == "connected" {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the call did not connect");

    // Mid-call: the server dies, and a new one starts 5 s later on the same port.
    std::thread::sleep(Duration::from_secs(2));
    server.kill().unwrap();
    server.wait().unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let mut server = spawn_signal(server_command(port), &second_log);

    let (call_out, caller_ended) = wait(call, Duration::from_secs(60), "caller");
    let caller_stderr = reader.join().unwrap();
    let (answer_out, callee_ended) = wait(answer, Duration::from_secs(15), "callee");
    let _ = server.kill();
    let _ = server.wait();
    let caller_stdout = String::from_utf8_lossy(&call_out.stdout).into_owned();
    assert!(
        call_out.status.success(),
        "caller failed ({}):\n{caller_stdout}\n{caller_stderr}",
        call_out.status
    );
    let caller = stats(&caller_stdout);
    let callee = stats(&success(&answer_out, "callee"));
    println!("caller: {caller}\ncallee: {callee}");
    assert!(
        callee_ended.saturating_duration_since(caller_ended) < Duration::from_secs(2),
        "the callee exited {:?} after the caller",
        callee_ended.saturating_duration_since(caller_ended)
    );
    let sent = caller["frames_sent"].as_u64().unwrap();
    assert!(sent >= 250, "the caller sent only {sent} frames in 20 s");
    checks::assert_video_matches(
        &clip,
        &rec,
        sent,
        callee["frames_received"].as_u64().unwrap(),
        0.9,
        30.0,
    );
    let log = std::fs::read_to_string(&second_log).unwrap();
    assert!(
        log.contains("call resumed by both parties"),
        "the restarted server did not re-create the call:\n{log}"
    );
}
