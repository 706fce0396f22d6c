//! Scenario: a frame larger than `max_frame_bytes`.
//!
//! Asserts: a text frame just under the limit is processed (here: `malformed`, as
//! it is padding), one over the limit gets `too_large` and the connection is
//! closed; a second client, in a call with the first, gets `hangup` and keeps
//! working.

mod common;

use common::Client;
use parley_proto::{ClientMessage, ErrorCode, ServerMessage};

#[tokio::test]
async fn oversized_frame_is_refused_and_closes() {
    let config = parley_signal::ServerConfig {
        max_frame_bytes: 4096,
        ..common::config()
    };
    let server = parley_signal::start(config).await.unwrap();
    let url = server.url();
    let mut big = Client::authed(&url, 1).await;
    let mut other = Client::authed(&url, 2).await;
    big.send(&ClientMessage::Invite {
        call_id: "c".into(),
        to: other.id.clone(),
        kind: parley_proto::CallKind::Media,
    })
    .await;
    assert!(matches!(other.recv().await, ServerMessage::Invite { .. }));

    big.send_text(&" ".repeat(4096)).await;
    big.expect_error(ErrorCode::Malformed).await;

    let sdp = "a".repeat(5000);
    big.send(&ClientMessage::Offer {
        call_id: "c".into(),
        sdp,
        sig: None,
    })
    .await;
    big.expect_error(ErrorCode::TooLarge).await;
    assert!(big.expect_closed().await.is_empty());

    assert_eq!(
        other.recv().await,
        ServerMessage::Hangup {
            call_id: "c".into(),
            from: big.id.clone(),
            reason: None,
        }
    );
    other.ping().await;
    server.shutdown().await;
}
