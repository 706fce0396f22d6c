//! Server limits over a real socket.
//!
//! Asserts:
//! - an invite nobody answers rings out after `ring_timeout`: the callee gets
//!   `cancel`, the caller `decline` with reason "no answer", and the callee can be
//!   called again at once;
//! - an address with `max_connections_per_ip` connections open gets `rate_limited`
//!   and a close for the next one, and is admitted again once one closes;
//! - an address that failed to authenticate `max_failed_auths_per_ip` times gets
//!   `rate_limited` ("too many failed sign-ins") for its next connection.

mod common;

use std::time::{Duration, Instant};

use common::Client;
use parley_proto::{CallKind, ClientMessage, ErrorCode, ServerMessage};

#[tokio::test]
async fn an_unanswered_invite_rings_out() {
    let server = parley_signal::start(parley_signal::ServerConfig {
        ring_timeout: Duration::from_millis(400),
        ..common::config()
    })
    .await
    .unwrap();
    let url = server.url();
    let (mut a, mut b, mut c) = (
        Client::authed(&url, 1).await,
        Client::authed(&url, 2).await,
        Client::authed(&url, 3).await,
    );
    let start = Instant::now();
    a.send(&ClientMessage::Invite {
        call_id: "ring1".into(),
        to: b.id.clone(),
        kind: CallKind::Media,
    })
    .await;
    assert!(matches!(b.recv().await, ServerMessage::Invite { .. }));
    assert_eq!(
        b.recv().await,
        ServerMessage::Cancel {
            call_id: "ring1".into(),
            from: a.id.clone()
        }
    );
    assert_eq!(
        a.recv().await,
        ServerMessage::Decline {
            call_id: "ring1".into(),
            from: b.id.clone(),
            reason: Some("no answer".into())
        }
    );
    assert!(start.elapsed() >= Duration::from_millis(400));
    // Bob is free again.
    c.send(&ClientMessage::Invite {
        call_id: "ring2".into(),
        to: b.id.clone(),
        kind: CallKind::Media,
    })
    .await;
    assert!(matches!(b.recv().await, ServerMessage::Invite { call_id, .. } if call_id == "ring2"));
    server.shutdown().await;
}

#[tokio::test]
async fn connections_per_address_are_limited() {
    let server = parley_signal::start(parley_signal::ServerConfig {
        max_connections_per_ip: 3,
        ..common::config()
    })
    .await
    .unwrap();
    let url = server.url();
    let mut open = vec![
        Client::authed(&url, 1).await,
        Client::authed(&url, 2).await,
        Client::connect(&url, 3).await,
    ];
    open[2].ping().await;
    let mut fourth = Client::connect(&url, 4).await;
    let message = match fourth.recv().await {
        ServerMessage::Error {
            code: ErrorCode::RateLimited,
            message,
            ..
        } => message,
        other => panic!("expected rate_limited, got {other:?}"),
    };
    assert!(message.contains("too many connections"), "{message}");
    assert!(fourth.expect_closed().await.is_empty());
    open.pop().unwrap().close().await;
    // The server notices the close; then a new connection gets in.
    let mut again = None;
    for _ in 0..100 {
        let mut c = Client::connect(&url, 5).await;
        c.send(&ClientMessage::Ping).await;
        match c.recv().await {
            ServerMessage::Pong => {
                again = Some(c);
                break;
            }
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                ..
            } => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(again.is_some(), "a freed slot was never reused");
    server.shutdown().await;
}

#[tokio::test]
async fn failed_sign_ins_lock_the_address_out() {
    let server = parley_signal::start(parley_signal::ServerConfig {
        max_failed_auths_per_ip: 2,
        ..common::config()
    })
    .await
    .unwrap();
    let url = server.url();
    for seed in [1, 2] {
        let mut c = Client::connect(&url, seed).await;
        c.hello().await;
        c.send(&ClientMessage::Auth {
            signature: "A".repeat(86),
            owner: None,
        })
        .await;
        c.expect_error(ErrorCode::AuthFailed).await;
        c.expect_closed().await;
    }
    let mut locked = Client::connect(&url, 3).await;
    let message = match locked.recv().await {
        ServerMessage::Error {
            code: ErrorCode::RateLimited,
            message,
            ..
        } => message,
        other => panic!("expected rate_limited, got {other:?}"),
    };
    assert!(message.contains("too many failed sign-ins"), "{message}");
    assert!(locked.expect_closed().await.is_empty());
    server.shutdown().await;
}

/// Connections that never send a request (or stall before the upgrade) are
/// counted from `accept`: an address holding `max_connections_per_ip` + 16 of
/// them gets its next connection closed at once, and is served again when they
/// close.
#[tokio::test]
async fn idle_tcp_connections_are_capped_per_address() {
    use tokio::io::AsyncReadExt as _;

    let server = parley_signal::start(parley_signal::ServerConfig {
        max_connections_per_ip: 3,
        ..common::config()
    })
    .await
    .unwrap();
    let url = server.url();
    let addr = server.local_addr();
    let mut idle = Vec::new();
    for _ in 0..3 + 16 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let mut over = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), over.read(&mut buf))
        .await
        .expect("the connection over the cap is closed at once, not left open");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    drop(idle);
    // The server notices the closes; then a WebSocket gets in.
    let started = Instant::now();
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_secs(2),
            tokio_tungstenite::connect_async(url.as_str()),
        )
        .await;
        if let Ok(Ok(_)) = attempt {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "freed places were never reused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}
