//! Scenario: inviting a peer who is already in a call.
//!
//! Asserts: while alice and bob are in a (ringing or accepted) call, carol's invite
//! to bob gets `busy` with `from` = bob and bob receives nothing; alice, already in
//! a call, cannot start another (`invalid`); reusing a live call id is `invalid`;
//! after the call ends, carol's invite goes through.

mod common;

use common::Client;
use parley_proto::{ClientMessage, ErrorCode, ServerMessage};

#[tokio::test]
async fn busy_callee() {
    let server = common::server().await;
    let url = server.url();
    let mut alice = Client::authed(&url, 1).await;
    let mut bob = Client::authed(&url, 2).await;
    let mut carol = Client::authed(&url, 3).await;
    let invite = |call_id: &str, to: &parley_proto::PeerId| ClientMessage::Invite {
        call_id: call_id.into(),
        to: to.clone(),
        kind: parley_proto::CallKind::Media,
    };

    alice.send(&invite("ab", &bob.id)).await;
    assert!(matches!(bob.recv().await, ServerMessage::Invite { .. }));

    carol.send(&invite("cb", &bob.id)).await;
    assert_eq!(
        carol.recv().await,
        ServerMessage::Busy {
            call_id: "cb".into(),
            from: bob.id.clone()
        }
    );
    alice.send(&invite("ac", &carol.id)).await;
    assert_eq!(
        alice.expect_error(ErrorCode::Invalid).await.as_deref(),
        Some("ac")
    );
    carol.send(&invite("ab", &alice.id)).await;
    carol.expect_error(ErrorCode::Invalid).await;

    bob.send(&ClientMessage::Accept {
        call_id: "ab".into(),
    })
    .await;
    assert!(matches!(alice.recv().await, ServerMessage::Accept { .. }));
    carol.send(&invite("cb2", &bob.id)).await;
    assert!(matches!(carol.recv().await, ServerMessage::Busy { .. }));
    bob.ping().await; // bob got no invite from carol

    alice
        .send(&ClientMessage::Hangup {
            call_id: "ab".into(),
            reason: None,
        })
        .await;
    assert!(matches!(bob.recv().await, ServerMessage::Hangup { .. }));
    carol.send(&invite("cb3", &bob.id)).await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::Invite {
            call_id: "cb3".into(),
            from: carol.id.clone(),
            kind: parley_proto::CallKind::Media,
            members: Vec::new(),
            sfu: false,
        }
    );
    server.shutdown().await;
}
