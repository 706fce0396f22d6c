//! Scenario: a client connects and never authenticates.
//!
//! Asserts: after `auth_timeout` the server sends `auth_failed` and closes the
//! connection, also when the client stopped after hello.

mod common;

use std::time::{Duration, Instant};

use common::Client;
use parley_proto::ErrorCode;

#[tokio::test]
async fn unauthenticated_connections_time_out() {
    let config = parley_signal::ServerConfig {
        auth_timeout: Duration::from_millis(300),
        ..common::config()
    };
    let server = parley_signal::start(config).await.unwrap();
    let url = server.url();
    let start = Instant::now();
    let mut silent = Client::connect(&url, 1).await;
    let mut half = Client::connect(&url, 2).await;
    half.hello().await;
    silent.expect_error(ErrorCode::AuthFailed).await;
    assert!(silent.expect_closed().await.is_empty());
    half.expect_error(ErrorCode::AuthFailed).await;
    assert!(half.expect_closed().await.is_empty());
    assert!(start.elapsed() >= Duration::from_millis(300));
    server.shutdown().await;
}
