//! The seam between data-channel protocols (chat, transfer, control) and the
//! transport that carries them.
//!
//! Protocol code sends through a [`MessageSink`] and reads a
//! `tokio::sync::mpsc::Receiver<DcMessage>`; the real implementation is a WebRTC data
//! channel ([`crate::rtc::DataChannel`]), tests may use [`memory_pair`].

use bytes::Bytes;
use tokio::sync::mpsc;

/// One data-channel message: WebRTC keeps the text/binary distinction
/// (RFC 8831 §6.6, PPID 51 for UTF-8 text, 53 for binary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DcMessage {
    /// A UTF-8 text message (our JSON control messages).
    Text(String),
    /// A binary message (transfer chunks).
    Binary(Bytes),
}

/// Something data-channel messages can be sent through, with backpressure.
#[async_trait::async_trait]
pub trait MessageSink: Send + Sync {
    /// Sends one message. Waits while the channel's send buffer is above its limit, so
    /// a fast producer cannot buffer a whole file in memory.
    ///
    /// Errors: [`crate::Error::ChannelClosed`] once the channel or the call is gone.
    async fn send(&self, msg: DcMessage) -> crate::Result<()>;
}

/// An in-memory [`MessageSink`] feeding a bounded queue; `capacity` is in messages.
#[derive(Clone)]
pub struct MemorySink(mpsc::Sender<DcMessage>);

#[async_trait::async_trait]
impl MessageSink for MemorySink {
    async fn send(&self, msg: DcMessage) -> crate::Result<()> {
        self.0
            .send(msg)
            .await
            .map_err(|_| crate::Error::ChannelClosed)
    }
}

/// A one-way in-memory channel with `capacity` messages of buffer, for tests of the
/// data-channel protocols without a peer connection.
pub fn memory_pair(capacity: usize) -> (MemorySink, mpsc::Receiver<DcMessage>) {
    let (tx, rx) = mpsc::channel(capacity);
    (MemorySink(tx), rx)
}
