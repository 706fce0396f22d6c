//! Scenario: an impostor claims someone else's public key but signs with its own.
//!
//! Asserts: the impostor gets `auth_failed` and is disconnected; the claimed id is
//! not online afterwards (a watcher sees it offline, an invite to it gets `offline`
//! with the call id), so the impostor cannot receive messages for that id; a bad
//! signature string and a bad public key also get `auth_failed`.

mod common;

use common::{id, key, Client};
use parley_proto::{sign_challenge, ClientMessage, ErrorCode, ServerMessage};

#[tokio::test]
async fn auth_with_wrong_key_is_refused() {
    let server = common::server().await;
    let url = server.url();

    // Impostor holds key 66 but claims id(1).
    let mut impostor = Client::connect(&url, 1).await;
    let nonce = impostor.hello().await;
    impostor
        .send(&ClientMessage::Auth {
            signature: sign_challenge(&key(66), &nonce),
            owner: None,
        })
        .await;
    impostor.expect_error(ErrorCode::AuthFailed).await;
    assert!(impostor.expect_closed().await.is_empty());

    let mut caller = Client::authed(&url, 2).await;
    caller
        .send(&ClientMessage::Watch { ids: vec![id(1)] })
        .await;
    assert_eq!(
        caller.recv().await,
        ServerMessage::Presence {
            id: id(1),
            online: false
        }
    );
    caller
        .send(&ClientMessage::Invite {
            call_id: "call-1".into(),
            to: id(1),
            kind: parley_proto::CallKind::Media,
        })
        .await;
    assert_eq!(
        caller.expect_error(ErrorCode::Offline).await.as_deref(),
        Some("call-1")
    );

    // Garbage signature.
    let mut garbage = Client::connect(&url, 3).await;
    garbage.hello().await;
    garbage
        .send(&ClientMessage::Auth {
            signature: "!!".into(),
            owner: None,
        })
        .await;
    garbage.expect_error(ErrorCode::AuthFailed).await;
    assert!(garbage.expect_closed().await.is_empty());

    // Public key that is not a key.
    let mut bad_key = Client::connect(&url, 4).await;
    bad_key
        .send(&ClientMessage::Hello {
            protocol: parley_proto::PROTOCOL_VERSION,
            public_key: "not-a-key".into(),
        })
        .await;
    bad_key.expect_error(ErrorCode::AuthFailed).await;
    assert!(bad_key.expect_closed().await.is_empty());

    // The real owner can still log in.
    let real = Client::authed(&url, 1).await;
    assert_eq!(
        caller.recv().await,
        ServerMessage::Presence {
            id: id(1),
            online: true
        }
    );
    real.close().await;
    server.shutdown().await;
}
