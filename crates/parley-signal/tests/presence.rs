//! Scenario: presence of watched peers.
//!
//! Asserts: `watch` immediately yields one `presence` per distinct watched id
//! (offline and online ones); a watched peer's connect and disconnect each yield a
//! `presence`; replacing the watch set with `[]` stops updates.

mod common;

use common::{id, Client};
use parley_proto::{ClientMessage, ServerMessage};

#[tokio::test]
async fn presence_online_offline() {
    let server = common::server().await;
    let url = server.url();

    let mut watcher = Client::authed(&url, 1).await;
    let online_peer = Client::authed(&url, 3).await;
    watcher
        .send(&ClientMessage::Watch {
            ids: vec![id(2), id(3), id(2)],
        })
        .await;
    assert_eq!(
        watcher.recv().await,
        ServerMessage::Presence {
            id: id(2),
            online: false
        }
    );
    assert_eq!(
        watcher.recv().await,
        ServerMessage::Presence {
            id: id(3),
            online: true
        }
    );

    let peer = Client::authed(&url, 2).await;
    assert_eq!(
        watcher.recv().await,
        ServerMessage::Presence {
            id: id(2),
            online: true
        }
    );
    peer.close().await;
    assert_eq!(
        watcher.recv().await,
        ServerMessage::Presence {
            id: id(2),
            online: false
        }
    );

    watcher.send(&ClientMessage::Watch { ids: vec![] }).await;
    online_peer.close().await;
    let again = Client::authed(&url, 2).await;
    // Nothing arrives for the unwatched peers: the next frame is our pong.
    watcher.ping().await;
    again.close().await;
    server.shutdown().await;
}
