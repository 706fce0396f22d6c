//! Scenario: a party disconnects in the middle of a call.
//!
//! Asserts: when the callee's socket closes during an accepted call, the caller
//! gets `hangup` with the call id and `from` = callee; the call is gone (relays get
//! `not_in_call`); the same happens for a ringing call whose caller vanishes.

mod common;

use common::Client;
use parley_proto::{ClientMessage, ErrorCode, ServerMessage};

#[tokio::test]
async fn disconnect_ends_call() {
    let server = common::server().await;
    let url = server.url();
    let mut alice = Client::authed(&url, 1).await;
    let mut bob = Client::authed(&url, 2).await;
    let bob_id = bob.id.clone();

    alice
        .send(&ClientMessage::Invite {
            call_id: "c1".into(),
            to: bob_id.clone(),
            kind: parley_proto::CallKind::Media,
        })
        .await;
    assert!(matches!(bob.recv().await, ServerMessage::Invite { .. }));
    bob.send(&ClientMessage::Accept {
        call_id: "c1".into(),
    })
    .await;
    assert!(matches!(alice.recv().await, ServerMessage::Accept { .. }));

    bob.close().await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::Hangup {
            call_id: "c1".into(),
            from: bob_id
        }
    );
    alice
        .send(&ClientMessage::Offer {
            call_id: "c1".into(),
            sdp: "v=0".into(),
        })
        .await;
    alice.expect_error(ErrorCode::NotInCall).await;

    // Ringing call, caller drops (without a close handshake).
    let mut carol = Client::authed(&url, 3).await;
    carol
        .send(&ClientMessage::Invite {
            call_id: "c2".into(),
            to: alice.id.clone(),
            kind: parley_proto::CallKind::Media,
        })
        .await;
    assert!(matches!(alice.recv().await, ServerMessage::Invite { .. }));
    let carol_id = carol.id.clone();
    drop(carol);
    assert_eq!(
        alice.recv().await,
        ServerMessage::Hangup {
            call_id: "c2".into(),
            from: carol_id
        }
    );
    server.shutdown().await;
}
