//! Scenario: graceful shutdown with clients connected.
//!
//! Asserts: `shutdown()` returns promptly, every connected client (authenticated
//! or not) sees its socket closed, and the port no longer accepts connections.

mod common;

use std::time::Duration;

use common::Client;

#[tokio::test]
async fn shutdown_closes_sockets() {
    let server = common::server().await;
    let url = server.url();
    let addr = server.local_addr();
    let mut authed = Client::authed(&url, 1).await;
    let mut fresh = Client::connect(&url, 2).await;
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("shutdown hung");
    assert!(authed.expect_closed().await.is_empty());
    assert!(fresh.expect_closed().await.is_empty());
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
