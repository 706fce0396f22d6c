//! Two peer connections in one process, connected over loopback UDP.

use anyhow::{Context, Result};
use parley_engine::channel::DcMessage;
use parley_engine::rtc::{DataChannel, PeerConnection, RtcConfig, RtcEvent};
use tokio::sync::mpsc;

/// A connected pair with one reliable ordered data channel from `a` to `b`.
pub struct Pair {
    /// The offerer.
    pub a: PeerConnection,
    /// The answerer.
    pub b: PeerConnection,
    /// `a`'s end of the channel.
    pub a_dc: DataChannel,
    /// `a`'s inbound messages.
    pub a_rx: mpsc::Receiver<DcMessage>,
    /// `b`'s end of the channel.
    pub b_dc: DataChannel,
    /// `b`'s inbound messages.
    pub b_rx: mpsc::Receiver<DcMessage>,
}

fn loopback() -> RtcConfig {
    RtcConfig {
        udp_bind: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    }
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

/// Builds and connects a pair with a channel labelled `label`.
pub async fn connect(label: &str) -> Result<Pair> {
    let (a, a_ev) = PeerConnection::new(&loopback()).await?;
    let (b, b_ev) = PeerConnection::new(&loopback()).await?;
    let (a_dc, a_rx) = a.create_data_channel(label).await?;
    let offer = a.create_offer(false).await?;
    let answer = b.answer_offer(&offer).await?;
    a.apply_answer(&answer).await?;
    let _a_events = pump(a_ev, b.clone());
    let mut b_events = pump(b_ev, a.clone());
    let (b_dc, b_rx) = loop {
        match b_events
            .recv()
            .await
            .context("b closed before the channel opened")?
        {
            RtcEvent::DataChannel(dc, rx) => break (dc, rx),
            _ => continue,
        }
    };
    a_dc.wait_open().await?;
    b_dc.wait_open().await?;
    tokio::spawn(async move { while b_events.recv().await.is_some() {} });
    Ok(Pair {
        a,
        b,
        a_dc,
        a_rx,
        b_dc,
        b_rx,
    })
}
