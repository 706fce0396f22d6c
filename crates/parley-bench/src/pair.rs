//! Two peer connections in one process, connected over loopback UDP.

use anyhow::{Context, Result};
use parley_engine::channel::DcMessage;
use parley_engine::rtc::{DataChannel, PeerConnection, RtcConfig, RtcEvent};
use tokio::sync::mpsc;

/// A connected pair with one reliable ordered data channel from `a` to `b`
/// (the ends a one-way test uses).
pub struct Pair {
    /// The offerer.
    pub a: PeerConnection,
    /// The answerer.
    pub b: PeerConnection,
    /// `a`'s end of the channel.
    pub a_dc: DataChannel,
    /// `b`'s inbound messages.
    pub b_rx: mpsc::Receiver<DcMessage>,
}

/// The data channels' send buffer for every pair of this run, bytes
/// (`--send-buffer-kib`; unset: the engine's default).
pub static SEND_BUFFER_BYTES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// The SCTP receive window for every pair of this run, bytes
/// (`--sctp-window-kib`; unset: the engine's default).
pub static SCTP_WINDOW_BYTES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

fn loopback() -> RtcConfig {
    let mut cfg = RtcConfig {
        udp_bind: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    };
    if let Some(bytes) = SEND_BUFFER_BYTES.get() {
        cfg.data_channel_send_buffer_bytes = *bytes;
    }
    if let Some(bytes) = SCTP_WINDOW_BYTES.get() {
        cfg.sctp_receive_window_bytes = *bytes;
    }
    cfg
}

/// Forwards `from`'s local candidates to `to` and returns `from`'s other events.
fn pump(mut events: mpsc::Receiver<RtcEvent>, to: PeerConnection) -> mpsc::Receiver<RtcEvent> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match ev {
                RtcEvent::LocalCandidate(c) => {
                    let _ = to.add_ice_candidate(c).await;
                }
                other => {
                    if tx.send(other).await.is_err() {
                        // Nobody listens any more; keep forwarding candidates.
                    }
                }
            }
        }
    });
    rx
}

/// Both ends of one data channel of a [`connect_many`] pair.
pub struct Channel {
    /// `a`'s end.
    pub a_dc: DataChannel,
    /// `a`'s inbound messages.
    pub a_rx: mpsc::Receiver<DcMessage>,
    /// `b`'s end.
    pub b_dc: DataChannel,
    /// `b`'s inbound messages.
    pub b_rx: mpsc::Receiver<DcMessage>,
}

/// Builds and connects a pair with a channel labelled `label`.
pub async fn connect(label: &str) -> Result<Pair> {
    let (a, b, mut channels) = connect_many(&[label]).await?;
    let Channel { a_dc, b_rx, .. } = channels.remove(0);
    Ok(Pair { a, b, a_dc, b_rx })
}

/// Builds and connects a pair (offerer, answerer) with one reliable ordered
/// channel per label, on one SCTP association; returns them in `labels` order.
pub async fn connect_many(
    labels: &[&str],
) -> Result<(PeerConnection, PeerConnection, Vec<Channel>)> {
    let (a, a_ev) = PeerConnection::new(&loopback()).await?;
    let (b, b_ev) = PeerConnection::new(&loopback()).await?;
    let mut a_ends = Vec::new();
    for label in labels {
        a_ends.push(a.create_data_channel(label).await?);
    }
    let offer = a.create_offer(false).await?;
    let answer = b.answer_offer(&offer).await?;
    a.apply_answer(&answer).await?;
    let _a_events = pump(a_ev, b.clone());
    let mut b_events = pump(b_ev, a.clone());
    let mut b_ends = Vec::new();
    while b_ends.len() < labels.len() {
        match b_events
            .recv()
            .await
            .context("b closed before the channels opened")?
        {
            RtcEvent::DataChannel(dc, rx) => b_ends.push((dc, rx)),
            _ => continue,
        }
    }
    tokio::spawn(async move { while b_events.recv().await.is_some() {} });
    let mut channels = Vec::new();
    for (a_dc, a_rx) in a_ends {
        let i = b_ends
            .iter()
            .position(|(dc, _)| dc.label() == a_dc.label())
            .context("a channel arrived with another label")?;
        let (b_dc, b_rx) = b_ends.remove(i);
        a_dc.wait_open().await?;
        b_dc.wait_open().await?;
        channels.push(Channel {
            a_dc,
            a_rx,
            b_dc,
            b_rx,
        });
    }
    Ok((a, b, channels))
}
