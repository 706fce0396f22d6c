//! The signaling server's identity and call rules, over a real socket.
//!
//! Asserts:
//! - a client that claims someone else's public key but cannot sign the challenge with
//!   it is refused (`auth_failed`) and never receives that id's messages;
//! - an offer sent to a peer who is not in an accepted call with the sender is refused
//!   with `not_in_call` and never delivered.

mod common;

use std::time::Duration;

use ed25519_dalek::SigningKey;
use futures_util::{SinkExt, StreamExt};
use parley_proto::identity::{decode_b64url, encode_b64url};
use parley_proto::{sign_challenge, ClientMessage, ErrorCode, PeerId, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(ws: &mut Ws, m: ClientMessage) {
    ws.send(Message::text(m.to_json())).await.unwrap();
}

async fn recv(ws: &mut Ws) -> Option<ServerMessage> {
    loop {
        match tokio::time::timeout(Duration::from_millis(1500), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(ServerMessage::parse(&t).unwrap()),
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => return None,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// Logs in claiming `claimed`'s public key but signing with `signer`.
async fn login(
    url: &str,
    claimed: &SigningKey,
    signer: &SigningKey,
) -> (Ws, Option<ServerMessage>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    send(
        &mut ws,
        ClientMessage::Hello {
            protocol: parley_proto::PROTOCOL_VERSION,
            public_key: encode_b64url(claimed.verifying_key().as_bytes()),
        },
    )
    .await;
    let Some(ServerMessage::Challenge { nonce, .. }) = recv(&mut ws).await else {
        panic!("no challenge");
    };
    let nonce = decode_b64url(&nonce).unwrap();
    send(
        &mut ws,
        ClientMessage::Auth {
            signature: sign_challenge(signer, &nonce),
            owner: None,
        },
    )
    .await;
    let reply = recv(&mut ws).await;
    (ws, reply)
}

/// Asserts the next message on `ws` is an error with `code`.
async fn expect_error(ws: &mut Ws, code: ErrorCode, what: &str) {
    match recv(ws).await {
        Some(ServerMessage::Error { code: got, .. }) if got == code => {}
        other => panic!("{what}: expected {code:?}, got {other:?}"),
    }
}

fn key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

#[tokio::test]
async fn impostor_refused_and_offers_need_a_call() {
    let server = parley_signal::start(parley_signal::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let url = server.url();
    let (alice, bob, mallory) = (key(), key(), key());
    let bob_id = PeerId::from_public_key(&bob.verifying_key());

    let (mut a, reply) = login(&url, &alice, &alice).await;
    assert!(
        matches!(reply, Some(ServerMessage::Welcome { .. })),
        "{reply:?}"
    );
    let (mut b, reply) = login(&url, &bob, &bob).await;
    assert!(
        matches!(reply, Some(ServerMessage::Welcome { .. })),
        "{reply:?}"
    );

    // Mallory claims Bob's key but signs with her own.
    let (mut m, reply) = login(&url, &bob, &mallory).await;
    match reply {
        Some(ServerMessage::Error {
            code: ErrorCode::AuthFailed,
            ..
        }) => {}
        other => panic!("impostor not refused: {other:?}"),
    }

    // Alice sends Bob an offer with no call between them: refused, not delivered.
    send(
        &mut a,
        ClientMessage::Offer {
            to: None,
            call_id: "nocall".into(),
            sdp: "v=0".into(),
            sig: None,
        },
    )
    .await;
    expect_error(&mut a, ErrorCode::NotInCall, "offer outside a call").await;
    // An invite Alice then sends reaches the real Bob, not the impostor.
    send(
        &mut a,
        ClientMessage::Invite {
            call_id: "c1".into(),
            to: bob_id.clone(),
            kind: parley_proto::CallKind::Media,
        },
    )
    .await;
    match recv(&mut b).await {
        Some(ServerMessage::Invite { call_id, .. }) => assert_eq!(call_id, "c1"),
        other => panic!("bob did not get the invite: {other:?}"),
    }
    assert!(
        recv(&mut m).await.is_none(),
        "the impostor received something"
    );
    // Ringing is not accepted: an offer is still refused.
    send(
        &mut a,
        ClientMessage::Offer {
            to: None,
            call_id: "c1".into(),
            sdp: "v=0".into(),
            sig: None,
        },
    )
    .await;
    expect_error(&mut a, ErrorCode::NotInCall, "offer before accept").await;
    assert!(
        recv(&mut b).await.is_none(),
        "bob received an offer for an unaccepted call"
    );
    server.shutdown().await;
}
