//! Scenario: authentication succeeds for a client holding its key.
//!
//! Asserts: hello gets a challenge with protocol 2 and a 32-byte nonce; a correct
//! signature gets `welcome` with the id derived from the public key; ping → pong
//! works before and after auth; a non-hello first message gets `not_authenticated`
//! (connection stays open); a second hello after auth gets `already_authenticated`;
//! an unsupported protocol version (1, which sent unsigned descriptions, or 3)
//! gets `unsupported_version` and the connection is closed.

mod common;

use common::{id, Client};
use parley_proto::{ClientMessage, ErrorCode, ServerMessage};

#[tokio::test]
async fn auth_success() {
    let server = common::server().await;
    let url = server.url();
    assert!(url.starts_with("ws://127.0.0.1:") && url.ends_with("/ws"));

    // Before auth: ping allowed, anything else refused.
    let mut c = Client::connect(&url, 1).await;
    c.ping().await;
    c.send(&ClientMessage::Watch { ids: vec![id(2)] }).await;
    c.expect_error(ErrorCode::NotAuthenticated).await;

    let mut c = Client::authed(&url, 1).await;
    assert_eq!(c.id, id(1));
    c.ping().await;
    c.send(&ClientMessage::Hello {
        protocol: parley_proto::PROTOCOL_VERSION,
        public_key: id(1).to_string(),
    })
    .await;
    c.expect_error(ErrorCode::AlreadyAuthenticated).await;
    c.ping().await;

    for protocol in [1, parley_proto::PROTOCOL_VERSION + 1] {
        let mut other = Client::connect(&url, 3).await;
        other
            .send(&ClientMessage::Hello {
                protocol,
                public_key: id(3).to_string(),
            })
            .await;
        other.expect_error(ErrorCode::UnsupportedVersion).await;
        assert_eq!(other.expect_closed().await, Vec::<ServerMessage>::new());
    }

    server.shutdown().await;
}
