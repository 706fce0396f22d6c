//! Shared harness for the signaling server's scenario tests: start a server on
//! 127.0.0.1:0, connect real WebSocket clients, authenticate, exchange typed frames.

#![allow(dead_code)] // each test file uses a different subset

use std::time::Duration;

use ed25519_dalek::SigningKey;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use parley_proto::identity::decode_b64url;
use parley_proto::{sign_challenge, ClientMessage, ErrorCode, PeerId, ServerMessage};
use parley_signal::{ServerConfig, ServerHandle};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for an expected frame.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// A config listening on a free loopback port.
pub fn config() -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    }
}

/// Starts a server with [`config`].
pub async fn server() -> ServerHandle {
    parley_signal::start(config()).await.unwrap()
}

/// A deterministic key for `seed`.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The peer id of [`key`]`(seed)`.
pub fn id(seed: u8) -> PeerId {
    PeerId::from_public_key(&key(seed).verifying_key())
}

/// A client's WebSocket.
type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One WebSocket client.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The id it authenticated as (or claims).
    pub id: PeerId,
}

impl Client {
    /// Connects without saying anything.
    pub async fn connect(url: &str, seed: u8) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Client { ws, id: id(seed) }
    }

    /// Connects and completes hello → challenge → auth → welcome as `key(seed)`.
    pub async fn authed(url: &str, seed: u8) -> Client {
        Client::authed_as(url, seed, parley_proto::PROTOCOL_VERSION).await
    }

    /// As [`Client::authed`], saying it speaks protocol version `protocol`.
    pub async fn authed_as(url: &str, seed: u8, protocol: u32) -> Client {
        let mut c = Client::connect(url, seed).await;
        let nonce = c.hello_as(protocol).await;
        c.send(&ClientMessage::Auth {
            signature: sign_challenge(&key(seed), &nonce),
            owner: None,
        })
        .await;
        let id = c.id.clone();
        assert_eq!(c.recv().await, ServerMessage::Welcome { id });
        c
    }

    /// Sends hello with this client's public key; returns the decoded nonce.
    pub async fn hello(&mut self) -> Vec<u8> {
        self.hello_as(parley_proto::PROTOCOL_VERSION).await
    }

    /// As [`Client::hello`] for protocol version `version`; the challenge must
    /// name the same version.
    pub async fn hello_as(&mut self, version: u32) -> Vec<u8> {
        self.send(&ClientMessage::Hello {
            protocol: version,
            public_key: self.id.to_string(),
        })
        .await;
        match self.recv().await {
            ServerMessage::Challenge { protocol, nonce } => {
                assert_eq!(protocol, version);
                let nonce = decode_b64url(&nonce).unwrap();
                assert_eq!(nonce.len(), 32);
                nonce
            }
            other => panic!("expected challenge, got {other:?}"),
        }
    }

    /// Sends a typed frame.
    pub async fn send(&mut self, msg: &ClientMessage) {
        self.send_text(&msg.to_json()).await;
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// Sends a raw frame, ignoring errors (the server may already have closed).
    pub async fn send_raw(&mut self, msg: Message) {
        let _ = self.ws.send(msg).await;
    }

    /// Next frame from the server, or `None` if the connection closed.
    pub async fn try_recv(&mut self) -> Option<ServerMessage> {
        loop {
            let next = tokio::time::timeout(RECV_TIMEOUT, self.ws.next())
                .await
                .expect("timed out waiting for a frame");
            match next {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
                Some(Ok(Message::Text(text))) => {
                    return Some(ServerMessage::parse(text.as_str()).unwrap())
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Next frame from the server; panics if the connection closed.
    pub async fn recv(&mut self) -> ServerMessage {
        self.try_recv().await.expect("connection closed")
    }

    /// Expects an `error` frame with `code`; returns its call id.
    pub async fn expect_error(&mut self, code: ErrorCode) -> Option<String> {
        match self.recv().await {
            ServerMessage::Error {
                code: got, call_id, ..
            } if got == code => call_id,
            other => panic!("expected error {code}, got {other:?}"),
        }
    }

    /// Expects the server to close the connection (after any frames, returned).
    pub async fn expect_closed(&mut self) -> Vec<ServerMessage> {
        let mut rest = Vec::new();
        while let Some(msg) = self.try_recv().await {
            rest.push(msg);
        }
        rest
    }

    /// Reads to the server's close frame and returns its code (`None` if the
    /// connection ended without one, e.g. reset); the frames before it are
    /// returned too.
    pub async fn close_code(&mut self) -> (Vec<ServerMessage>, Option<u16>) {
        let mut before = Vec::new();
        loop {
            let next = tokio::time::timeout(RECV_TIMEOUT, self.ws.next())
                .await
                .expect("timed out waiting for the close frame");
            match next {
                Some(Ok(Message::Close(frame))) => {
                    // Reading on sends our close reply (RFC 6455 §5.5.1), which the
                    // server waits for, and then sees the server end TCP.
                    let _ = tokio::time::timeout(RECV_TIMEOUT, self.ws.next()).await;
                    return (before, frame.map(|f| u16::from(f.code)));
                }
                None | Some(Err(_)) => return (before, None),
                Some(Ok(Message::Text(text))) => {
                    before.push(ServerMessage::parse(text.as_str()).unwrap());
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Round-trips a ping: proves the connection is alive and everything sent
    /// before it has been processed.
    pub async fn ping(&mut self) {
        self.send(&ClientMessage::Ping).await;
        assert_eq!(self.recv().await, ServerMessage::Pong);
    }

    /// The raw sending and receiving halves.
    pub fn into_split(self) -> (SplitSink<Ws, Message>, SplitStream<Ws>) {
        self.ws.split()
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
