//! Scenario: a party disconnects in the middle of a call.
//!
//! Asserts: when the callee's socket closes during an accepted call, the call
//! waits for it: the callee reconnects, lists the call in `resume`, and the
//! caller's offer reaches it again. When it closes again and stays away past the
//! grace period, the caller gets `hangup` with the call id and `from` = callee, and
//! the call is gone (relays get `not_in_call`). A ringing call whose caller
//! vanishes ends at once.

mod common;

use std::time::Duration;

use common::Client;
use parley_proto::{CallKind, ClientMessage, ErrorCode, ResumedCall, ServerMessage};

#[tokio::test]
async fn disconnect_ends_call_after_the_grace_period() {
    let server = parley_signal::start(parley_signal::ServerConfig {
        call_grace: Duration::from_millis(300),
        ..common::config()
    })
    .await
    .unwrap();
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

    // Bob's connection drops and comes back: the call is still there.
    bob.close().await;
    let mut bob = Client::authed(&url, 2).await;
    bob.send(&ClientMessage::Resume {
        calls: vec![ResumedCall {
            call_id: "c1".into(),
            peer: alice.id.clone(),
            kind: CallKind::Media,
        }],
    })
    .await;
    alice
        .send(&ClientMessage::Offer {
            to: None,
            call_id: "c1".into(),
            sdp: "v=0 again".into(),
            sig: None,
        })
        .await;
    assert!(
        matches!(bob.recv().await, ServerMessage::Offer { sdp, .. } if sdp == "v=0 again"),
        "the offer did not reach the reconnected callee"
    );

    // It drops again and stays away: after the grace period the call ends.
    bob.close().await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::Hangup {
            call_id: "c1".into(),
            from: bob_id,
            reason: None,
        }
    );
    alice
        .send(&ClientMessage::Offer {
            to: None,
            call_id: "c1".into(),
            sdp: "v=0".into(),
            sig: None,
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
            from: carol_id,
            reason: None,
        }
    );
    server.shutdown().await;
}
