//! A minimal signaling client for load: connects over a real WebSocket, signs in
//! (hello → challenge → auth → welcome, docs/protocol.md §3) and exchanges typed
//! frames.

use anyhow::{bail, Context, Result};
use ed25519_dalek::SigningKey;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use parley_proto::identity::decode_b64url;
use parley_proto::{sign_challenge, ClientMessage, PeerId, ServerMessage, PROTOCOL_VERSION};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Read buffer per client socket, bytes: small, so that 10,000 clients fit in
/// the bench process (tungstenite's default is 128 KiB each).
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// A client's WebSocket.
type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One signed-in client.
pub struct LoadClient {
    ws: Ws,
    /// The id it signed in as.
    pub id: PeerId,
}

impl LoadClient {
    /// Connects to `url` and signs in with `key`.
    ///
    /// Errors: the connection fails, or the server answers anything but the
    /// expected handshake frames.
    pub async fn connect(url: &str, key: &SigningKey) -> Result<LoadClient> {
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .with_context(|| format!("connect to {url}"))?;
        let id = PeerId::from_public_key(&key.verifying_key());
        let mut c = LoadClient { ws, id };
        c.send(&ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            public_key: c.id.to_string(),
        })
        .await?;
        let nonce = match c.recv().await? {
            ServerMessage::Challenge { nonce, .. } => decode_b64url(&nonce)?,
            other => bail!("expected challenge, got {other:?}"),
        };
        c.send(&ClientMessage::Auth {
            signature: sign_challenge(key, &nonce),
            owner: None,
        })
        .await?;
        match c.recv().await? {
            ServerMessage::Welcome { .. } => Ok(c),
            other => bail!("expected welcome, got {other:?}"),
        }
    }

    /// Sends one frame.
    pub async fn send(&mut self, msg: &ClientMessage) -> Result<()> {
        self.send_text(msg.to_json()).await
    }

    /// Sends raw text as one frame.
    pub async fn send_text(&mut self, text: String) -> Result<()> {
        self.ws.send(Message::text(text)).await?;
        Ok(())
    }

    /// The next typed frame (pings and pongs of the WebSocket layer skipped).
    ///
    /// Errors: the connection closed or failed, or the frame does not parse.
    pub async fn recv(&mut self) -> Result<ServerMessage> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => return Ok(ServerMessage::parse(t.as_str())?),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(other)) => bail!("{}: connection closed ({other:?})", self.id),
                Some(Err(e)) => bail!("{}: {e}", self.id),
                None => bail!("{}: connection closed", self.id),
            }
        }
    }

    /// Splits into a sending half and a receiving half.
    pub fn split(self) -> (SplitSink<Ws, Message>, SplitStream<Ws>) {
        self.ws.split()
    }
}

/// A deterministic key for client number `n` of a run.
pub fn key(n: u64) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    seed[8] = 0xb7;
    SigningKey::from_bytes(&seed)
}
