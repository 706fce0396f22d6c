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
        to: None,
        call_id: "c".into(),
        sdp,
        sig: None,
    })
    .await;
    // The documented close: `too_large`, then close code 1009 (not a reset, which
    // a client sees as 1006).
    let (before, code) = big.close_code().await;
    assert!(
        matches!(
            before.as_slice(),
            [ServerMessage::Error {
                code: ErrorCode::TooLarge,
                ..
            }]
        ),
        "{before:?}"
    );
    assert_eq!(code, Some(1009));

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

/// A frame far over the limit (more than one socket read) still gets the
/// documented close: the server reads it whole (it is within the hard limit,
/// 4 × max_frame_bytes), answers `too_large`, closes with 1009 and waits for the
/// client's close before closing TCP, so no reset destroys the close frame. A
/// frame whose header announces more than the hard limit is refused without its
/// payload being read, and the server stays up.
#[tokio::test]
async fn large_frames_get_a_clean_close_and_huge_ones_are_refused_at_the_header() {
    let config = parley_signal::ServerConfig {
        max_frame_bytes: 65536,
        ..common::config()
    };
    let server = parley_signal::start(config).await.unwrap();
    let url = server.url();
    let text = |n| tokio_tungstenite::tungstenite::Message::text("b".repeat(n));

    let mut big = Client::authed(&url, 1).await;
    big.send_raw(text(200_000)).await;
    let (before, code) = big.close_code().await;
    assert!(
        matches!(
            before.as_slice(),
            [ServerMessage::Error {
                code: ErrorCode::TooLarge,
                ..
            }]
        ),
        "{before:?}"
    );
    assert_eq!(code, Some(1009));

    let mut huge = Client::authed(&url, 2).await;
    huge.send_raw(text(65536 * 4 + 1)).await;
    let (before, _code) = huge.close_code().await;
    assert!(
        before.iter().all(|m| matches!(
            m,
            ServerMessage::Error {
                code: ErrorCode::TooLarge,
                ..
            }
        )),
        "{before:?}"
    );
    let mut next = Client::authed(&url, 3).await;
    next.ping().await;
    server.shutdown().await;
}
