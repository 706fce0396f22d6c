//! Scenario: a complete call between two authenticated peers.
//!
//! Asserts: invite reaches the callee with `from` = caller; ringing and accept reach
//! the caller with `from` = callee; offer, answer and candidates (including the
//! empty end-of-candidates one) are relayed verbatim in both directions; hangup
//! reaches the other side; after hangup relays are refused with `not_in_call` and
//! the same two peers can call again.

mod common;

use common::Client;
use parley_proto::{ClientMessage, ErrorCode, ServerMessage};

#[tokio::test]
async fn full_call_flow() {
    let server = common::server().await;
    let url = server.url();
    let mut alice = Client::authed(&url, 1).await;
    let mut bob = Client::authed(&url, 2).await;
    let (a, b) = (alice.id.clone(), bob.id.clone());
    let call_id = || "call_42-x".to_owned();

    alice
        .send(&ClientMessage::Invite {
            call_id: call_id(),
            to: b.clone(),
            kind: parley_proto::CallKind::Media,
        })
        .await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::Invite {
            call_id: call_id(),
            from: a.clone(),
            kind: parley_proto::CallKind::Media,
            members: Vec::new(),
            sfu: false,
        }
    );
    bob.send(&ClientMessage::Ringing { call_id: call_id() })
        .await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::Ringing {
            call_id: call_id(),
            from: b.clone()
        }
    );
    bob.send(&ClientMessage::Accept { call_id: call_id() })
        .await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::Accept {
            call_id: call_id(),
            from: b.clone()
        }
    );

    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n".to_owned();
    alice
        .send(&ClientMessage::Offer {
            to: None,
            call_id: call_id(),
            sdp: sdp.clone(),
            sig: None,
        })
        .await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::Offer {
            call_id: call_id(),
            from: a.clone(),
            sdp: sdp.clone(),
            sig: None,
        }
    );
    bob.send(&ClientMessage::Answer {
        to: None,
        call_id: call_id(),
        sdp: sdp.clone(),
        sig: None,
    })
    .await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::Answer {
            call_id: call_id(),
            from: b.clone(),
            sdp,
            sig: None,
        }
    );
    let cand = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host".to_owned();
    bob.send(&ClientMessage::Candidate {
        to: None,
        call_id: call_id(),
        candidate: cand.clone(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    })
    .await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::Candidate {
            call_id: call_id(),
            from: b.clone(),
            candidate: cand,
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0)
        }
    );
    alice
        .send(&ClientMessage::Candidate {
            to: None,
            call_id: call_id(),
            candidate: String::new(),
            sdp_mid: None,
            sdp_mline_index: None,
        })
        .await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::Candidate {
            call_id: call_id(),
            from: a.clone(),
            candidate: String::new(),
            sdp_mid: None,
            sdp_mline_index: None
        }
    );

    bob.send(&ClientMessage::Hangup {
        call_id: call_id(),
        reason: None,
    })
    .await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::Hangup {
            call_id: call_id(),
            from: b.clone(),
            reason: None,
        }
    );
    alice
        .send(&ClientMessage::Offer {
            to: None,
            call_id: call_id(),
            sdp: "x".into(),
            sig: None,
        })
        .await;
    assert_eq!(
        alice.expect_error(ErrorCode::NotInCall).await,
        Some(call_id())
    );

    // Both are free again.
    bob.send(&ClientMessage::Invite {
        call_id: "second".into(),
        to: a.clone(),
        kind: parley_proto::CallKind::Media,
    })
    .await;
    assert_eq!(
        alice.recv().await,
        ServerMessage::Invite {
            call_id: "second".into(),
            from: b,
            kind: parley_proto::CallKind::Media,
            members: Vec::new(),
            sfu: false,
        }
    );
    server.shutdown().await;
}
