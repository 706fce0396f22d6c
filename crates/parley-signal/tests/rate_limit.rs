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
    assert!(
        calm_rtt < Duration::from_millis(500),
        "calm ping took {calm_rtt:?}"
    );
    flood.ping().await;
    calm.ping().await;
    server.shutdown().await;
}

/// A client that never stops sending (its socket buffers fill) is still read at
/// the sustained rate and answered, and another client is served meanwhile.
#[tokio::test]
async fn an_endless_flood_is_read_at_the_sustained_rate() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let config = parley_signal::ServerConfig {
        rate_limit_per_sec: 100,
        rate_burst: 10,
        ..common::config()
    };
    let server = parley_signal::start(config).await.unwrap();
    let url = server.url();
    let flood = Client::authed(&url, 1).await;
    let (mut tx, mut rx) = flood.into_split();
    let writer = tokio::spawn(async move {
        let ping = ClientMessage::Ping.to_json();
        loop {
            let frame = tokio_tungstenite::tungstenite::Message::text(ping.clone());
            if tx.send(frame).await.is_err() {
                break;
            }
        }
    });
    let pongs = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&pongs);
    let reader = tokio::spawn(async move {
        while let Some(Ok(_)) = rx.next().await {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    let mut calm = Client::authed(&url, 2).await;
    // The rate over a measured window, after the burst is spent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (t0, n0) = (Instant::now(), pongs.load(Ordering::Relaxed));
    while t0.elapsed() < Duration::from_millis(1500) {
        let t = Instant::now();
        calm.ping().await;
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "calm ping took {:?}",
            t.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rate = (pongs.load(Ordering::Relaxed) - n0) as f64 / t0.elapsed().as_secs_f64();
    writer.abort();
    reader.abort();
    // 100/s configured; a busy machine may read a little late, never faster.
    assert!((50.0..=115.0).contains(&rate), "{rate:.0} pongs/s");
    server.shutdown().await;
}
