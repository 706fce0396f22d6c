//! Calls that cannot go as asked end with a non-zero exit and a clear one-line error.
//!
//! Asserts:
//! - calling a peer who is not online fails with "… is offline";
//! - a file offered to a peer who accepts no files (no `--receive-dir`) makes the
//!   caller exit non-zero with "file transfer failed … declined", while the callee,
//!   which declined by policy, exits 0 and nothing is written on its side;
//! - a signaling server that is not there gives "cannot reach signaling server".

mod common;

use std::time::Duration;

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn failures_are_reported_clearly() {
    let server = Server::start();
    let (alice, bob) = (Peer::new(&server), Peer::new(&server));

    // Bob is not running: offline.
    let call = alice.spawn(&[
        "call",
        &bob.id,
        "--no-video",
        "--no-audio",
        "--wait-online",
        "1",
    ]);
    let (out, _) = wait(call, Duration::from_secs(20), "call to an offline peer");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is offline"),
        "stderr: {}",
        stderr(&out)
    );

    // Bob accepts no files.
    let file = alice.path("unwanted.bin");
    std::fs::write(&file, vec![7u8; 100_000]).unwrap();
    let answer = bob.spawn(&["answer", "--no-video", "--no-audio"]);
    let call = alice.spawn(&[
        "call",
        &bob.id,
        "--no-video",
        "--no-audio",
        "--duration",
        "0",
        "--send-file",
        file.to_str().unwrap(),
    ]);
    let (out, _) = wait(call, Duration::from_secs(30), "caller");
    let (bob_out, _) = wait(answer, Duration::from_secs(10), "callee");
    assert!(
        !out.status.success(),
        "the caller should fail: {}",
        stderr(&out)
    );
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: file transfer failed") && last.contains("declined"),
        "last stderr line: {last:?}"
    );
    success(&bob_out, "callee that declined by policy");

    // No server at all.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let out = std::process::Command::new(bin("parley-cli"))
        .arg("--profile")
        .arg(alice.path("profile"))
        .args([
            "--server",
            &format!("ws://127.0.0.1:{port}/ws"),
            "answer",
            "--no-video",
            "--no-audio",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot reach signaling server"),
        "stderr: {}",
        stderr(&out)
    );
}
