//! Scenario: the server hands out STUN/TURN servers with TURN REST credentials.
//!
//! Asserts: right after `welcome` an authenticated client gets `ice_servers` with
//! the STUN URL, then the TURN URLs with username `<expiry>:<peer id>` (expiry =
//! now + ttl) and credential base64(HMAC-SHA1(secret, username)); before the
//! credentials expire (at half the lifetime) it gets fresh ones with a later
//! expiry; a server without ICE servers sends none.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Client;
use parley_proto::ServerMessage;
use parley_signal::{turn_rest_credential, IceConfig, ServerConfig, TurnSecret};

fn expiry_of(msg: &ServerMessage, peer: &str) -> u64 {
    let ServerMessage::IceServers { ice_servers, ttl_s } = msg else {
        panic!("expected ice_servers, got {msg:?}");
    };
    assert_eq!(*ttl_s, Some(4));
    assert_eq!(ice_servers[0].urls, ["stun:198.51.100.1:3478"]);
    let turn = &ice_servers[1];
    assert_eq!(
        turn.urls,
        ["turn:198.51.100.1:3478", "turns:198.51.100.1:5349"]
    );
    assert_eq!(
        turn.credential,
        turn_rest_credential("s3cret", &turn.username)
    );
    let (expiry, id) = turn.username.split_once(':').unwrap();
    assert_eq!(id, peer);
    expiry.parse().unwrap()
}

#[tokio::test]
async fn clients_get_ice_servers_and_fresh_credentials() {
    let server = parley_signal::start(ServerConfig {
        ice: IceConfig {
            stun_urls: vec!["stun:198.51.100.1:3478".into()],
            turn_urls: vec![
                "turn:198.51.100.1:3478".into(),
                "turns:198.51.100.1:5349".into(),
            ],
            turn_secret: Some(TurnSecret("s3cret".into())),
            turn_ttl: Duration::from_secs(4),
        },
        ..common::config()
    })
    .await
    .unwrap();
    let mut alice = Client::authed(&server.url(), 1).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let first = expiry_of(&alice.recv().await, alice.id.as_ref());
    assert!(
        (now + 3..=now + 5).contains(&first),
        "expiry {first}, now {now}"
    );
    // Refreshed at half the lifetime (2 s), with an expiry 2 s later.
    let second = tokio::time::timeout(Duration::from_secs(4), alice.recv())
        .await
        .expect("no refresh within 4 s");
    let second = expiry_of(&second, alice.id.as_ref());
    assert!(second > first, "refresh expiry {second} not after {first}");
    server.shutdown().await;

    // Without ICE servers, nothing follows welcome but answers.
    let server = common::server().await;
    let mut bob = Client::authed(&server.url(), 2).await;
    bob.ping().await;
    server.shutdown().await;
}
