//! Scenario: one client floods the server.
//!
//! Asserts: with rate 5/s and burst 10, a burst of pings gets pongs for the remaining tokens then
//! `rate_limited` errors (dropped frames); after more than 2 × burst violations in
//! a row the server closes the connection; a second client is unaffected
//! throughout; a client that paces itself is never limited.

mod common;

use common::Client;
use parley_proto::{ClientMessage, ErrorCode, ServerMessage};

#[tokio::test]
async fn flood_is_rate_limited_then_closed() {
    let config = parley_signal::ServerConfig {
        rate_limit_per_sec: 5,
        rate_burst: 10,
        ..common::config()
    };
    let server = parley_signal::start(config).await.unwrap();
    let url = server.url();
    let mut calm = Client::authed(&url, 2).await;
    // Auth used 2 of flood's 10 tokens.
    let mut flood = Client::authed(&url, 1).await;

    for _ in 0..40 {
        flood.send_raw(ClientMessage::Ping.to_json().into()).await;
    }
    let frames = flood.expect_closed().await;
    let pongs = frames.iter().filter(|m| **m == ServerMessage::Pong).count();
    let limited = frames
        .iter()
        .filter(|m| {
            matches!(
                m,
                ServerMessage::Error {
                    code: ErrorCode::RateLimited,
                    ..
                }
            )
        })
        .count();
    assert!(
        (8..=9).contains(&pongs),
        "pongs: {pongs}, frames: {frames:?}"
    );
    assert_eq!(limited, 21, "frames: {frames:?}");
    assert_eq!(pongs + limited, frames.len());

    calm.ping().await;
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        calm.ping().await;
    }
    server.shutdown().await;
}
