//! The signaling client survives a server restart.
//!
//! Asserts:
//! - when the server goes away the client reports `Disconnected` with a retry delay;
//! - when the server comes back on the same address the client reconnects and
//!   re-authenticates by itself (`Connected` again) and re-sends its watch list, so
//!   presence of a watched contact arrives without the application doing anything.

use ed25519_dalek::SigningKey;
use parley_engine::signaling::{SignalEvent, SignalingClient};
use parley_proto::{PeerId, ServerMessage};
use tokio::sync::mpsc;

mod common;
use common::until;

async fn start(listen: std::net::SocketAddr) -> parley_signal::ServerHandle {
    parley_signal::start(parley_signal::ServerConfig {
        listen,
        ..Default::default()
    })
    .await
    .expect("server starts")
}

async fn next_matching(
    rx: &mut mpsc::Receiver<SignalEvent>,
    what: &str,
    f: impl Fn(&SignalEvent) -> bool,
) -> SignalEvent {
    until(rx, what, |e| f(e).then(|| e.clone())).await
}

#[tokio::test]
async fn reconnects_and_rewatches_after_a_server_restart() {
    let server = start("127.0.0.1:0".parse().unwrap()).await;
    let addr = server.local_addr();
    let url = server.url();
    let (alice, bob) = (
        SigningKey::generate(&mut rand::rngs::OsRng),
        SigningKey::generate(&mut rand::rngs::OsRng),
    );
    let bob_id = PeerId::from_public_key(&bob.verifying_key());

    let (client, mut events) = SignalingClient::connect(&url, alice).await.unwrap();
    next_matching(&mut events, "connected", |e| {
        matches!(e, SignalEvent::Connected { .. })
    })
    .await;
    client.watch(vec![bob_id.clone()]).await.unwrap();
    next_matching(&mut events, "bob offline", |e| {
        matches!(
            e,
            SignalEvent::Message(ServerMessage::Presence { online: false, .. })
        )
    })
    .await;

    server.shutdown().await;
    let ev = next_matching(&mut events, "disconnected", |e| {
        matches!(e, SignalEvent::Disconnected { .. })
    })
    .await;
    if let SignalEvent::Disconnected { retry_in_ms, .. } = ev {
        assert!(retry_in_ms <= parley_engine::signaling::MAX_BACKOFF_MS * 2);
    }

    let server = start(addr).await;
    next_matching(&mut events, "reconnected", |e| {
        matches!(e, SignalEvent::Connected { .. })
    })
    .await;
    // Bob logs in; Alice's client re-sent its watch list, so she hears about it.
    let (_bob_client, _bob_events) = SignalingClient::connect(&url, bob).await.unwrap();
    next_matching(&mut events, "bob online", |e| match e {
        SignalEvent::Message(ServerMessage::Presence { id, online: true }) => *id == bob_id,
        _ => false,
    })
    .await;
    client.close();
    server.shutdown().await;
}
