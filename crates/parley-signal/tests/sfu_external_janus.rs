//! `parley-signal --sfu janus --janus-url URL --janus-admin-key KEY`: the real
//! server binary uses a Janus that is already running (here one the test
//! starts on 127.0.0.1) instead of starting its own.
//!
//! Asserts, with `--sfu-from 2` (every call through the SFU):
//! - Alice calls Bob: Bob's invite says `sfu`; after Bob accepts, each gets its
//!   access to a room on that Janus (its URL), with a feed of its own, and Bob's
//!   lists Alice's feed;
//! - the room really is on that Janus: Bob joins it as a publisher with his PIN,
//!   token and feed; with a made-up token instead it is refused (433). (Janus
//!   does not tie a token to a feed id: a member's token admits any unused id.)

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use common::{id, Client};
use parley_janus::{JanusClient, JanusConfig, JanusProcess};
use parley_proto::{ClientMessage, ServerMessage, SfuAccess};
use serde_json::json;

/// Kills the server on drop.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next `sfu` access the client gets, with its feeds.
async fn access(client: &mut Client) -> (SfuAccess, Vec<parley_proto::SfuFeed>) {
    loop {
        if let ServerMessage::Sfu { sfu, feeds, .. } = client.recv().await {
            return (sfu, feeds);
        }
    }
}

#[tokio::test]
async fn the_server_uses_a_janus_already_running() {
    if !std::path::Path::new("/usr/bin/janus").exists() {
        // `.ci/run` sets this: there the test must run.
        assert!(
            std::env::var_os("PARLEY_TESTS_REQUIRE_NETNS").is_none(),
            "sfu_external_janus needs Janus (Debian package janus)"
        );
        eprintln!("SKIPPED sfu_external_janus: needs Janus (Debian package janus)");
        return;
    }
    let janus = JanusProcess::start(JanusConfig::new("127.0.0.1".parse().unwrap(), 0))
        .await
        .expect("Janus starts");
    let mut child = Command::new(env!("CARGO_BIN_EXE_parley-signal"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--sfu",
            "janus",
            "--sfu-from",
            "2",
        ])
        .args([
            "--janus-url",
            janus.url(),
            "--janus-admin-key",
            janus.admin_key(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("parley-signal starts");
    let stdout = child.stdout.take().unwrap();
    let _server = Killed(child);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").unwrap();
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("parley-signal did not start: {first:?}"))
        .to_owned();
    // Keep its stdout drained.
    std::thread::spawn(move || lines.for_each(drop));

    let mut alice = Client::authed(&url, 1).await;
    let mut bob = Client::authed(&url, 2).await;
    alice
        .send(&ClientMessage::Invite {
            call_id: "c0ffee".into(),
            to: id(2),
            kind: Default::default(),
        })
        .await;
    match bob.recv().await {
        ServerMessage::Invite { sfu, .. } => assert!(sfu, "the invite does not say sfu"),
        other => panic!("expected an invite, got {other:?}"),
    }
    bob.send(&ClientMessage::Accept {
        call_id: "c0ffee".into(),
    })
    .await;
    let (alice_access, _) = access(&mut alice).await;
    let (bob_access, bob_feeds) = access(&mut bob).await;
    for a in [&alice_access, &bob_access] {
        assert_eq!(a.kind, "janus");
        assert_eq!(a.url, janus.url(), "not the Janus given with --janus-url");
    }
    assert_eq!(alice_access.room, bob_access.room);
    assert_ne!(alice_access.feed, bob_access.feed);
    assert!(
        bob_feeds
            .iter()
            .any(|f| f.member == id(1) && f.feed == alice_access.feed),
        "Bob's access does not name Alice's feed: {bob_feeds:?}"
    );

    // The room is on that Janus, and only granted tokens publish in it.
    let member = JanusClient::connect(janus.url()).await.expect("connected");
    let session = member.create_session().await.expect("a session");
    let join = |token: &str| {
        json!({"request": "join", "ptype": "publisher", "room": bob_access.room,
               "pin": bob_access.pin, "token": token, "id": bob_access.feed})
    };
    let stolen = session.attach_videoroom().await.expect("attached");
    let refused = stolen.send(join("made-up"), None).await;
    assert_eq!(
        refused.err().and_then(|e| e.code()),
        Some(433),
        "a made-up token let a publisher in"
    );
    let handle = session.attach_videoroom().await.expect("attached");
    let joined = handle
        .send(join(&bob_access.token), None)
        .await
        .expect("Bob joins his call's room");
    assert_eq!(joined.data["videoroom"], "joined");
}
