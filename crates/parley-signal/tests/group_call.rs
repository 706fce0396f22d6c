//! Scenario: a one-to-one call becomes a group call over real WebSockets
//! (docs/protocol.md §6.4).
//!
//! Asserts: Alice calls Bob; Bob adds Carol, who is shown the members; when she
//! accepts, Bob (her inviter) gets `accept` and Alice `joined`; an offer Alice
//! addresses to Carol reaches Carol from Alice, and one without `to` is refused
//! now that there are three; Dave, whose client speaks protocol 2, signs in and
//! can be called one to one, but adding him to the group gets
//! `unsupported_version` naming him and he hears nothing; when Carol hangs up,
//! Alice and Bob get `left` and still reach each other.

mod common;

use common::Client;
use parley_proto::{CallKind, ClientMessage, ErrorCode, PeerId, ServerMessage};

fn offer(to: Option<&PeerId>) -> ClientMessage {
    ClientMessage::Offer {
        call_id: "grp".into(),
        to: to.cloned(),
        sdp: "v=0\r\n".into(),
        sig: None,
    }
}

#[tokio::test]
async fn a_call_grows_into_a_group_and_shrinks_back() {
    let server = common::server().await;
    let url = server.url();
    let mut alice = Client::authed(&url, 1).await;
    let mut bob = Client::authed(&url, 2).await;
    let mut carol = Client::authed(&url, 3).await;
    let mut dave = Client::authed_as(&url, 4, 2).await;

    alice
        .send(&ClientMessage::Invite {
            call_id: "grp".into(),
            to: bob.id.clone(),
            kind: CallKind::Media,
        })
        .await;
    assert!(matches!(bob.recv().await, ServerMessage::Invite { .. }));
    bob.send(&ClientMessage::Accept {
        call_id: "grp".into(),
    })
    .await;
    assert!(matches!(alice.recv().await, ServerMessage::Accept { .. }));

    bob.send(&ClientMessage::Add {
        call_id: "grp".into(),
        to: carol.id.clone(),
    })
    .await;
    assert_eq!(
        carol.recv().await,
        ServerMessage::Invite {
            call_id: "grp".into(),
            from: bob.id.clone(),
            kind: CallKind::Media,
            members: vec![alice.id.clone(), bob.id.clone()],
            sfu: false,
        }
    );
    carol
        .send(&ClientMessage::Accept {
            call_id: "grp".into(),
        })
        .await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::Accept {
            call_id: "grp".into(),
            from: carol.id.clone(),
        }
    );
    assert_eq!(
        alice.recv().await,
        ServerMessage::Joined {
            call_id: "grp".into(),
            member: carol.id.clone(),
        }
    );

    alice.send(&offer(Some(&carol.id))).await;
    match carol.recv().await {
        ServerMessage::Offer { from, .. } => assert_eq!(from, alice.id),
        other => panic!("expected Alice's offer, got {other:?}"),
    }
    alice.send(&offer(None)).await;
    alice.expect_error(ErrorCode::Invalid).await;

    bob.send(&ClientMessage::Add {
        call_id: "grp".into(),
        to: dave.id.clone(),
    })
    .await;
    match bob.recv().await {
        ServerMessage::Error { code, message, .. } => {
            assert_eq!(code, ErrorCode::UnsupportedVersion);
            assert!(message.contains(dave.id.as_str()), "{message}");
        }
        other => panic!("expected unsupported_version, got {other:?}"),
    }
    dave.ping().await; // Dave was not invited

    carol
        .send(&ClientMessage::Hangup {
            call_id: "grp".into(),
            reason: None,
        })
        .await;
    for member in [&mut alice, &mut bob] {
        assert_eq!(
            member.recv().await,
            ServerMessage::Left {
                call_id: "grp".into(),
                member: carol.id.clone(),
                reason: None,
            }
        );
    }
    bob.send(&offer(None)).await;
    assert!(matches!(alice.recv().await, ServerMessage::Offer { .. }));

    // Dave (protocol 2) takes one-to-one calls as before.
    carol
        .send(&ClientMessage::Invite {
            call_id: "cd".into(),
            to: dave.id.clone(),
            kind: CallKind::Media,
        })
        .await;
    assert!(matches!(dave.recv().await, ServerMessage::Invite { .. }));

    server.shutdown().await;
}
