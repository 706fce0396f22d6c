//! Scenario: the same identity connects twice.
//!
//! Asserts: the second connection gets `welcome`; the first is closed by the
//! server; the peer stays online for watchers (no offline flap); messages for the
//! id reach the new connection; the old connection's call is ended with `hangup`
//! once the new connection's `resume` does not list it.

mod common;

use common::Client;
use parley_proto::{ClientMessage, ServerMessage};

#[tokio::test]
async fn new_connection_replaces_old() {
    let server = common::server().await;
    let url = server.url();
    let mut watcher = Client::authed(&url, 2).await;
    let mut first = Client::authed(&url, 1).await;
    watcher
        .send(&ClientMessage::Watch {
            ids: vec![first.id.clone()],
        })
        .await;
    assert_eq!(
        watcher.recv().await,
        ServerMessage::Presence {
            id: first.id.clone(),
            online: true
        }
    );
    watcher
        .send(&ClientMessage::Invite {
            call_id: "c".into(),
            to: first.id.clone(),
            kind: parley_proto::CallKind::Media,
        })
        .await;
    assert!(matches!(first.recv().await, ServerMessage::Invite { .. }));

    let mut second = Client::authed(&url, 1).await;
    assert!(first.expect_closed().await.is_empty());
    second.send(&ClientMessage::Resume { calls: vec![] }).await;
    assert_eq!(
        watcher.recv().await,
        ServerMessage::Hangup {
            call_id: "c".into(),
            from: second.id.clone(),
            reason: None,
        }
    );
    watcher
        .send(&ClientMessage::Invite {
            call_id: "d".into(),
            to: second.id.clone(),
            kind: parley_proto::CallKind::Media,
        })
        .await;
    assert_eq!(
        second.recv().await,
        ServerMessage::Invite {
            call_id: "d".into(),
            from: watcher.id.clone(),
            kind: parley_proto::CallKind::Media,
            members: Vec::new(),
            sfu: false,
        }
    );
    // The old connection's teardown must not mark the id offline.
    watcher.ping().await;
    server.shutdown().await;
}
