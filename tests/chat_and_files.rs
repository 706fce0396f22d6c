//! Chat and file transfer in a call between two `parley-cli` processes.
//!
//! Asserts:
//! - chat messages arrive both ways, in the order they were sent;
//! - a 64 MiB file of random bytes arrives with the same SHA-256;
//! - files offered under hostile names (`../../etc/x`, an absolute path) land inside
//!   the receive folder, under sanitised names, with their content intact;
//! - both processes exit 0.

mod common;

use std::time::Duration;

use common::checks::sha256_file;
use common::*;
use rand::RngCore;

#[test]
fn chat_both_ways_and_files_arrive_safely() {
    let server = Server::start();
    let (alice, bob) = (Peer::new(&server), Peer::new(&server));

    let big = alice.path("random-64MiB.bin");
    let mut data = vec![0u8; 64 * 1024 * 1024];
    rand::thread_rng().fill_bytes(&mut data);
    std::fs::write(&big, &data).unwrap();
    drop(data);
    let small = alice.path("note.txt");
    std::fs::write(&small, b"not where you think").unwrap();
    let abs = alice.path("abs.txt");
    std::fs::write(&abs, b"absolute").unwrap();
    let inbox = bob.path("inbox");

    let answer = bob.spawn(&[
        "answer",
        "--stats",
        "--no-video",
        "--no-audio",
        "--receive-dir",
        inbox.to_str().unwrap(),
        "--chat",
        "b1",
        "--chat",
        "b2 ünïcode",
        "--chat",
        "b3",
    ]);
    let_answerer_log_in();
    let call = alice.spawn(&[
        "call",
        &bob.id,
        "--stats",
        "--no-video",
        "--no-audio",
        "--duration",
        "1",
        "--chat",
        "a1",
        "--chat",
        "a2",
        "--chat",
        "a3",
        "--send-file",
        big.to_str().unwrap(),
        "--send-file-as",
        "../../etc/x",
        small.to_str().unwrap(),
        "--send-file-as",
        "/etc/passwd",
        abs.to_str().unwrap(),
    ]);
    let (call_out, _) = wait(call, Duration::from_secs(120), "caller");
    let mut answer = answer;
    if !call_out.status.success() {
        // The callee would wait for a call that never comes: stop it and show why
        // the caller failed.
        let _ = answer.kill();
        let _ = answer.wait();
        success(&call_out, "caller");
    }
    let (answer_out, _) = wait(answer, Duration::from_secs(10), "callee");
    let caller_stdout = success(&call_out, "caller");
    let callee_stdout = success(&answer_out, "callee");

    assert_eq!(chats(&callee_stdout), ["a1", "a2", "a3"]);
    assert_eq!(chats(&caller_stdout), ["b1", "b2 ünïcode", "b3"]);

    let got = inbox.join("random-64MiB.bin");
    assert_eq!(std::fs::metadata(&got).unwrap().len(), 64 * 1024 * 1024);
    assert_eq!(sha256_file(&got), sha256_file(&big));

    // Hostile names: nothing escaped the inbox, and the contents arrived under the
    // last component of the name.
    assert_eq!(
        std::fs::read(inbox.join("x")).unwrap(),
        b"not where you think"
    );
    assert_eq!(std::fs::read(inbox.join("passwd")).unwrap(), b"absolute");
    let names: Vec<_> = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "unexpected files in the inbox: {names:?}");
    assert!(!bob.dir.path().join("etc").exists());
    let stats = stats(&callee_stdout);
    assert_eq!(stats["files_received"], 3);
}
