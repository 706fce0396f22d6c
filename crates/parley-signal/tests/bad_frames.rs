//! Scenario: garbage from one client.
//!
//! Asserts: non-JSON text, JSON without a type, a known type with missing fields,
//! and a binary frame each get `malformed`; an unknown type gets `unknown_type`; a
//! bad call id gets `invalid`; the connection survives all of these (ping → pong),
//! before and after authentication; a second client is unaffected and can still
//! be called by the first.

mod common;

use common::Client;
use parley_proto::{ClientMessage, ErrorCode, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn malformed_and_unknown_frames_get_typed_errors() {
    let server = common::server().await;
    let url = server.url();

    // Before auth.
    let mut fresh = Client::connect(&url, 9).await;
    fresh.send_text("{not json").await;
    fresh.expect_error(ErrorCode::Malformed).await;
    fresh.send_text(r#"{"type":"fly_to_moon"}"#).await;
    fresh.expect_error(ErrorCode::UnknownType).await;
    fresh.ping().await;

    let mut noisy = Client::authed(&url, 1).await;
    let mut other = Client::authed(&url, 2).await;
    for garbage in [
        "{not json",
        "[]",
        r#"{"call_id":"x"}"#,
        r#"{"type":"invite"}"#,
    ] {
        noisy.send_text(garbage).await;
        noisy.expect_error(ErrorCode::Malformed).await;
    }
    noisy
        .send_raw(Message::binary(vec![0u8, 159, 146, 150]))
        .await;
    noisy.expect_error(ErrorCode::Malformed).await;
    noisy.send_text(r#"{"type":"fly_to_moon","x":1}"#).await;
    noisy.expect_error(ErrorCode::UnknownType).await;
    noisy
        .send_text(r#"{"type":"hangup","call_id":"no spaces"}"#)
        .await;
    noisy.expect_error(ErrorCode::Invalid).await;
    noisy.ping().await;

    other.ping().await;
    noisy
        .send(&ClientMessage::Invite {
            call_id: "ok".into(),
            to: other.id.clone(),
            kind: parley_proto::CallKind::Media,
        })
        .await;
    assert_eq!(
        other.recv().await,
        ServerMessage::Invite {
            call_id: "ok".into(),
            from: noisy.id.clone(),
            kind: parley_proto::CallKind::Media,
            members: Vec::new(),
            sfu: false,
        }
    );
    server.shutdown().await;
}
