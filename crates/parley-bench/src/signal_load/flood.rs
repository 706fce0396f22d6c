//! One abusive client: signs in and sends `ping` frames as fast as its socket
//! takes them, counting the `pong`s that come back; if the server closes it, it
//! signs in again and goes on. It runs until its task is aborted (a send blocked
//! by a full socket never returns on its own while the server reads slowly).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::{SinkExt as _, StreamExt as _};
use parley_proto::ClientMessage;
use tokio_tungstenite::tungstenite::Message;

use super::client::{key, LoadClient};

/// What the flooder did so far.
#[derive(Debug, Default)]
pub struct Flood {
    /// Frames written to its socket (the kernel's buffers included).
    pub written: AtomicU64,
    /// Frames the server answered (it read them).
    pub answered: AtomicU64,
    /// Times it was closed and signed in again.
    pub reconnects: AtomicU64,
}

/// Floods `url` with key `key_n`, counting into `flood`, until aborted.
pub async fn run(url: String, key_n: u64, flood: Arc<Flood>) {
    let ping = ClientMessage::Ping.to_json();
    loop {
        let Ok(client) = LoadClient::connect(&url, &key(key_n)).await else {
            tokio::task::yield_now().await;
            continue;
        };
        let (mut tx, mut rx) = client.split();
        let answered = Arc::clone(&flood);
        let reader = tokio::spawn(async move {
            while let Some(Ok(_)) = rx.next().await {
                answered.answered.fetch_add(1, Ordering::Relaxed);
            }
        });
        while tx.send(Message::text(ping.clone())).await.is_ok() {
            flood.written.fetch_add(1, Ordering::Relaxed);
        }
        reader.abort();
        flood.reconnects.fetch_add(1, Ordering::Relaxed);
    }
}
