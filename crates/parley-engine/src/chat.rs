//! The chat protocol on the `chat` data channel (reliable, ordered): JSON
//! [`ChatFrame`]s, a `message` answered by an `ack` with the same id.
//!
//! The caller owns the channel: it sends with [`ChatChannel::send_chat`], feeds every
//! received [`DcMessage`] to [`ChatChannel::handle_incoming`], stores
//! [`ChatEvent::Received`] messages (see [`crate::storage::Profile::store_chat`],
//! which ignores duplicates) and then acks them with [`ChatChannel::send_ack`].

use parley_proto::data::{ChatFrame, ChatMessage};

use crate::channel::{DcMessage, MessageSink};
use crate::{Error, Result};

pub use parley_proto::data::CHAT_LABEL;

/// Longest chat text accepted (sent or received), bytes of UTF-8.
pub const MAX_CHAT_TEXT_BYTES: usize = 16 * 1024;

/// Longest chat frame accepted from a peer, bytes of JSON (text plus envelope).
pub const MAX_CHAT_FRAME_BYTES: usize = 2 * MAX_CHAT_TEXT_BYTES + 1024;

/// Something that happened on the chat channel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatEvent {
    /// The peer sent a message: store it, show it, then ack its id.
    Received(ChatMessage),
    /// The peer acknowledged our message with this id.
    Acked(String),
}

/// The chat protocol's operations (stateless: the state lives in the profile).
#[derive(Debug, Clone, Copy, Default)]
pub struct ChatChannel;

impl ChatChannel {
    /// Sends `text` as a new message (random 128-bit hex id, our clock in ms since
    /// the Unix epoch) and returns it, for the caller to store as sent.
    ///
    /// Waits while the channel's send buffer is full.
    ///
    /// Errors: [`Error::Invalid`] if `text` is blank or longer than
    /// [`MAX_CHAT_TEXT_BYTES`]; [`Error::ChannelClosed`].
    pub async fn send_chat(sink: &dyn MessageSink, text: &str) -> Result<ChatMessage> {
        if text.trim().is_empty() {
            return Err(Error::Invalid("chat message is empty".into()));
        }
        if text.len() > MAX_CHAT_TEXT_BYTES {
            return Err(Error::Invalid(format!(
                "chat message of {} bytes exceeds the limit of {MAX_CHAT_TEXT_BYTES} bytes",
                text.len()
            )));
        }
        let id: [u8; 16] = rand::random();
        let msg = ChatMessage::new(id, text, crate::storage::now_ms());
        send_frame(sink, &ChatFrame::Message(msg.clone())).await?;
        Ok(msg)
    }

    /// Acknowledges the received message `id`.
    ///
    /// Errors: [`Error::ChannelClosed`].
    pub async fn send_ack(sink: &dyn MessageSink, id: &str) -> Result<()> {
        send_frame(sink, &ChatFrame::Ack { id: id.to_owned() }).await
    }

    /// Parses one message received on the chat channel. Returns `Ok(None)` for
    /// frames that need no action.
    ///
    /// Errors: [`Error::Invalid`] (prefixed `chat:`) for binary messages, frames over
    /// [`MAX_CHAT_FRAME_BYTES`], malformed JSON, and texts over
    /// [`MAX_CHAT_TEXT_BYTES`]. Log and carry on: the channel stays usable.
    pub fn handle_incoming(msg: DcMessage) -> Result<Option<ChatEvent>> {
        let text = match msg {
            DcMessage::Text(text) => text,
            DcMessage::Binary(bytes) => {
                return Err(Error::Invalid(format!(
                    "chat: unexpected binary message of {} bytes",
                    bytes.len()
                )))
            }
        };
        if text.len() > MAX_CHAT_FRAME_BYTES {
            return Err(Error::Invalid(format!(
                "chat: frame of {} bytes exceeds the limit of {MAX_CHAT_FRAME_BYTES} bytes",
                text.len()
            )));
        }
        let frame = ChatFrame::parse(&text).map_err(|e| Error::Invalid(format!("chat: {e}")))?;
        match frame {
            ChatFrame::Message(msg) => {
                if msg.text.len() > MAX_CHAT_TEXT_BYTES {
                    return Err(Error::Invalid(format!(
                        "chat: message of {} bytes exceeds the limit of {MAX_CHAT_TEXT_BYTES} bytes",
                        msg.text.len()
                    )));
                }
                if msg.id.is_empty() || msg.id.len() > 64 {
                    return Err(Error::Invalid("chat: message id must be 1-64 chars".into()));
                }
                Ok(Some(ChatEvent::Received(msg)))
            }
            ChatFrame::Ack { id } => Ok(Some(ChatEvent::Acked(id))),
            _ => Ok(None),
        }
    }
}

async fn send_frame(sink: &dyn MessageSink, frame: &ChatFrame) -> Result<()> {
    sink.send(DcMessage::Text(frame.to_json())).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::memory_pair;

    #[tokio::test]
    async fn send_receive_ack() {
        let (sink, mut rx) = memory_pair(4);
        let sent = ChatChannel::send_chat(&sink, "hello 👋").await.unwrap();
        assert_eq!(sent.id.len(), 32);
        assert!(sent.sent_at_ms > 1_600_000_000_000);
        let got = ChatChannel::handle_incoming(rx.recv().await.unwrap()).unwrap();
        assert_eq!(got, Some(ChatEvent::Received(sent.clone())));

        ChatChannel::send_ack(&sink, &sent.id).await.unwrap();
        let got = ChatChannel::handle_incoming(rx.recv().await.unwrap()).unwrap();
        assert_eq!(got, Some(ChatEvent::Acked(sent.id)));
    }

    #[tokio::test]
    async fn refuses_empty_and_huge_text() {
        let (sink, _rx) = memory_pair(4);
        assert!(ChatChannel::send_chat(&sink, "  ").await.is_err());
        let huge = "x".repeat(MAX_CHAT_TEXT_BYTES + 1);
        assert!(ChatChannel::send_chat(&sink, &huge).await.is_err());
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            DcMessage::Binary(bytes::Bytes::from_static(b"\x00\x01")),
            DcMessage::Text("not json".into()),
            DcMessage::Text("{}".into()),
            DcMessage::Text(r#"{"type":"message"}"#.into()),
            DcMessage::Text(r#"{"type":"bogus","id":"1"}"#.into()),
            DcMessage::Text("x".repeat(MAX_CHAT_FRAME_BYTES + 1)),
        ] {
            assert!(
                matches!(
                    ChatChannel::handle_incoming(bad.clone()),
                    Err(Error::Invalid(_))
                ),
                "{bad:?} accepted"
            );
        }
    }
}
