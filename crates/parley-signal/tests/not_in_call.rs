//! Scenario: the server relays SDP and candidates only inside accepted calls.
//!
//! Asserts: an offer for a call id that does not exist, an offer during a call that
//! is still ringing, and offer/answer/candidate from a third peer into someone
//! else's accepted call all get `not_in_call` carrying the call id, and nothing
//! reaches the targeted peers; ringing/accept for an unknown call get
//! `no_such_call`; accept by the caller gets `not_in_call`.

mod common;

use common::Client;
use parley_proto::{ClientMessage, ErrorCode, ServerMessage};

#[tokio::test]
async fn relay_outside_accepted_call_is_refused() {
    let server = common::server().await;
    let url = server.url();
    let mut alice = Client::authed(&url, 1).await;
    let mut bob = Client::authed(&url, 2).await;
    let mut mallory = Client::authed(&url, 3).await;
    let offer = |call_id: &str| ClientMessage::Offer {
        to: None,
        call_id: call_id.into(),
        sdp: "v=0".into(),
        sig: None,
    };

    mallory.send(&offer("nothing")).await;
    assert_eq!(
        mallory.expect_error(ErrorCode::NotInCall).await.as_deref(),
        Some("nothing")
    );
    mallory
        .send(&ClientMessage::Accept {
            call_id: "nothing".into(),
        })
        .await;
    mallory.expect_error(ErrorCode::NoSuchCall).await;

    alice
        .send(&ClientMessage::Invite {
            call_id: "c1".into(),
            to: bob.id.clone(),
            kind: parley_proto::CallKind::Media,
        })
        .await;
    assert!(matches!(bob.recv().await, ServerMessage::Invite { .. }));
    // Ringing, not accepted: no relay yet, and the caller cannot accept.
    alice.send(&offer("c1")).await;
    assert_eq!(
        alice.expect_error(ErrorCode::NotInCall).await.as_deref(),
        Some("c1")
    );
    alice
        .send(&ClientMessage::Accept {
            call_id: "c1".into(),
        })
        .await;
    alice.expect_error(ErrorCode::NotInCall).await;

    bob.send(&ClientMessage::Accept {
        call_id: "c1".into(),
    })
    .await;
    assert!(matches!(alice.recv().await, ServerMessage::Accept { .. }));

    // A third peer cannot inject into the accepted call.
    mallory.send(&offer("c1")).await;
    mallory.expect_error(ErrorCode::NotInCall).await;
    mallory
        .send(&ClientMessage::Answer {
            to: None,
            call_id: "c1".into(),
            sdp: "v=0".into(),
            sig: None,
        })
        .await;
    mallory.expect_error(ErrorCode::NotInCall).await;
    mallory
        .send(&ClientMessage::Candidate {
            to: None,
            call_id: "c1".into(),
            candidate: String::new(),
            sdp_mid: None,
            sdp_mline_index: None,
        })
        .await;
    mallory.expect_error(ErrorCode::NotInCall).await;
    mallory
        .send(&ClientMessage::Hangup {
            call_id: "c1".into(),
            reason: None,
        })
        .await;
    mallory.expect_error(ErrorCode::NotInCall).await;

    // Nothing leaked to alice or bob: their next frames are their own pongs.
    alice.ping().await;
    bob.ping().await;
    server.shutdown().await;
}
