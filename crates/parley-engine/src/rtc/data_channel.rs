//! A data channel (RFC 8831) with send backpressure, behind our own type.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::sync::{mpsc, watch};
use webrtc::data_channel::DataChannelEvent as WDataChannelEvent;

use crate::channel::{DcMessage, MessageSink};
use crate::{Error, Result};

/// Capacity of a channel's inbound message queue, messages. When the reader lags this
/// far behind, reading from SCTP pauses: backpressure reaches the remote sender.
pub const INBOUND_QUEUE_MESSAGES: usize = 256;

/// What happens on a data channel, as seen by its reader.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataChannelEvent {
    /// The channel is open (W3C webrtc §6.2 `open` event).
    Open,
    /// A message arrived.
    Message(DcMessage),
    /// The channel closed; no more messages.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenState {
    Connecting,
    Open,
    Closed,
}

/// A reliable, ordered data channel. Cloning shares the channel.
#[derive(Clone)]
pub struct DataChannel {
    inner: Arc<dyn webrtc::data_channel::DataChannel>,
    label: String,
    state: watch::Receiver<OpenState>,
}

impl std::fmt::Debug for DataChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataChannel")
            .field("label", &self.label)
            .finish()
    }
}

impl DataChannel {
    /// Wraps a webrtc-rs channel and starts the task that reads it. Returns the channel
    /// and the receiver of its messages (closed when the channel closes).
    pub(crate) async fn wrap(
        inner: Arc<dyn webrtc::data_channel::DataChannel>,
    ) -> (Self, mpsc::Receiver<DcMessage>) {
        let label = inner.label().await.unwrap_or_default();
        let (state_tx, state) = watch::channel(OpenState::Connecting);
        if matches!(
            inner.ready_state().await,
            Ok(webrtc::data_channel::RTCDataChannelState::Open)
        ) {
            let _ = state_tx.send(OpenState::Open);
        }
        let (msg_tx, msg_rx) = mpsc::channel(INBOUND_QUEUE_MESSAGES);
        let reader = Arc::clone(&inner);
        tokio::spawn(async move {
            while let Some(event) = reader.poll().await {
                match event {
                    WDataChannelEvent::OnOpen => {
                        let _ = state_tx.send(OpenState::Open);
                    }
                    WDataChannelEvent::OnMessage(m) => {
                        let msg = if m.is_string {
                            match String::from_utf8(m.data.to_vec()) {
                                Ok(s) => DcMessage::Text(s),
                                Err(_) => {
                                    tracing::warn!("data channel: text message is not UTF-8");
                                    continue;
                                }
                            }
                        } else {
                            DcMessage::Binary(m.data.freeze())
                        };
                        if msg_tx.send(msg).await.is_err() {
                            // Nobody reads this channel any more; keep draining so the
                            // connection is not blocked.
                            continue;
                        }
                    }
                    WDataChannelEvent::OnClose => break,
                    _ => {}
                }
            }
            let _ = state_tx.send(OpenState::Closed);
        });
        (
            Self {
                inner,
                label,
                state,
            },
            msg_rx,
        )
    }

    /// The channel's label (`chat`, `file`, `control`, …).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Waits until the channel is open.
    ///
    /// Errors: [`Error::ChannelClosed`] if it closes first.
    pub async fn wait_open(&self) -> Result<()> {
        let mut state = self.state.clone();
        let s = state
            .wait_for(|s| *s != OpenState::Connecting)
            .await
            .map_err(|_| Error::ChannelClosed)?;
        match *s {
            OpenState::Open => Ok(()),
            _ => Err(Error::ChannelClosed),
        }
    }

    /// Bytes handed to `send` and not yet acknowledged by the peer's SCTP.
    pub async fn buffered_bytes(&self) -> usize {
        self.inner.outstanding_bytes().await.unwrap_or(0)
    }

    /// Closes the channel (RFC 8831 §6.7); idempotent.
    pub async fn close(&self) {
        let _ = self.inner.close().await;
    }
}

#[async_trait::async_trait]
impl MessageSink for DataChannel {
    async fn send(&self, msg: DcMessage) -> Result<()> {
        let r = match msg {
            DcMessage::Text(s) => self.inner.send_text(&s).await,
            // webrtc-rs takes a `BytesMut`: a buffer nobody else holds (a file
            // chunk read into its own frame) is handed over without a copy.
            DcMessage::Binary(b) => {
                let buf = b.try_into_mut().unwrap_or_else(|b| BytesMut::from(&b[..]));
                self.inner.send(buf).await
            }
        };
        r.map_err(|e| {
            tracing::debug!("data channel {} send: {e}", self.label);
            Error::ChannelClosed
        })
    }
}
