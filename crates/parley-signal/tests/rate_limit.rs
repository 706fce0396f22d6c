//! Scenario: one client floods the server.
//!
//! Asserts: with rate 50/s and burst 10, a burst of 60 pings is not dropped but
//! slowed: every ping gets its pong, in order, no `rate_limited` error, and the
//! last pong comes no sooner than the sustained rate allows (about 1 s); the
//! connection stays open; a second client's pings are answered at once
//! throughout.

mod common;

use std::time::{Duration, Instant};

use common::Client;
use parley_proto::{ClientMessage, ServerMessage};

#[tokio::test]
async fn flood_is_slowed_not_dropped() {
    let config = parley_signal::ServerConfig {
        rate_limit_per_sec: 50,
        rate_burst: 10,
        ..common::config()
    };
    let server = parley_signal::start(config).await.unwrap();
    let url = server.url();
    let mut calm = Client::authed(&url, 2).await;
    // Auth used 2 of flood's 10 tokens.
    let mut flood = Client::authed(&url, 1).await;

    let started = Instant::now();
    for _ in 0..60 {
        flood.send_raw(ClientMessage::Ping.to_json().into()).await;
    }
    // Meanwhile the calm client is answered promptly.
    let t = Instant::now();
    calm.ping().await;
    let calm_rtt = t.elapsed();
    for i in 0..60 {
        let got = flood.recv().await;
        assert_eq!(got, ServerMessage::Pong, "frame {i}");
    }
    let took = started.elapsed();
    // 8 tokens left after auth; the other 52 pings come at 50/s: ≥ 1.04 s.
    assert!(took >= Duration::from_millis(1000), "60 pongs in {took:?}");
    assert!(calm_rtt < Duration::from_millis(500), "calm ping took {calm_rtt:?}");
    flood.ping().await;
    calm.ping().await;
    server.shutdown().await;
}
