//! Scenario: the health endpoint.
//!
//! Asserts: a plain HTTP/1.1 `GET /healthz` over a raw TCP socket answers
//! `200` with body `ok`; an unknown path answers 404.

mod common;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn healthz_answers_ok() {
    let server = common::server().await;
    let response = get(server.local_addr(), "/healthz").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("\r\n\r\nok"), "{response}");
    let response = get(server.local_addr(), "/nope").await;
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    server.shutdown().await;
}
