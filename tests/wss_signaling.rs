//! TLS in the signaling server itself: `parley-signal` with `--tls-cert/--tls-key`
//! serves `wss://`, and peers reach it with an extra CA.
//!
//! Asserts:
//! - two `parley-cli` peers signed in over `wss://127.0.0.1:PORT/ws` (a test CA
//!   passed as `PARLEY_SERVER_CA`) hold a call: chat arrives both ways;
//! - without that CA the same peer refuses the server's certificate, with an error
//!   that says it could not reach the server and why (TLS, unknown issuer).

mod common;

use std::time::Duration;

use common::*;

#[test]
fn peers_call_through_a_wss_server() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_test_certificates(dir.path(), "signal", &["127.0.0.1", "localhost"]);
    let server = Server::start_with(parley_signal::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls_cert: Some(dir.path().join("signal-cert.pem")),
        tls_key: Some(dir.path().join("signal-key.pem")),
        ..Default::default()
    });
    assert!(server.url.starts_with("wss://127.0.0.1:"), "{}", server.url);
    let env = [("PARLEY_SERVER_CA", ca.to_str().unwrap())];
    let (alice, bob) = (Peer::new(&server), Peer::new(&server));

    let answer = bob.spawn_with_env(
        &[
            "answer",
            "--no-video",
            "--no-audio",
            "--chat",
            "hello over wss, Alice",
        ],
        &env,
    );
    let_answerer_log_in();
    let call = alice.spawn_with_env(
        &[
            "call",
            &bob.id,
            "--wait-online",
            "20",
            "--no-video",
            "--no-audio",
            "--duration",
            "1",
            "--chat",
            "hello over wss, Bob",
        ],
        &env,
    );
    let (caller, _) = wait(call, Duration::from_secs(60), "caller");
    let (callee, _) = wait(answer, Duration::from_secs(30), "callee");
    let caller = success(&caller, "caller over wss");
    let callee = success(&callee, "callee over wss");
    assert_eq!(chats(&callee), ["hello over wss, Bob"], "{callee}");
    assert_eq!(chats(&caller), ["hello over wss, Alice"], "{caller}");

    // Without the CA, the server's certificate is not trusted.
    let out = alice.spawn(&["call", &bob.id, "--no-video", "--no-audio"]);
    let (out, _) = wait(out, Duration::from_secs(30), "caller without the CA");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot reach signaling server")
            && stderr.contains("TLS")
            && stderr.contains("UnknownIssuer"),
        "{stderr}"
    );
}
