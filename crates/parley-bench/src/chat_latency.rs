//! Chat while a file streams (issue 14): the round trip of a chat-sized text
//! message echoed on the `chat` data channel, idle and during a transfer on
//! the `file` channel of the same SCTP association, measured in one run on one
//! pair of local peer connections. The target: p95 ≤ 50 ms during the transfer.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use parley_engine::channel::{DcMessage, MessageSink};

use crate::pair::{self, Channel};
use crate::throughput::{mb_per_s, random_file, send_over};

/// Time between two pings, ms.
const PING_GAP_MS: u64 = 10;
/// Pings for the idle reference.
const IDLE_PINGS: usize = 100;

/// Round trips in ms: median and 95th percentile, and how many.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    /// Median, ms.
    pub p50: f64,
    /// 95th percentile, ms.
    pub p95: f64,
    /// Samples.
    pub n: usize,
}

impl Percentiles {
    fn of(mut v: Vec<Duration>) -> Result<Percentiles> {
        if v.is_empty() {
            bail!("no round trips measured");
        }
        v.sort();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
        Ok(Percentiles {
            p50: at(0.5),
            p95: at(0.95),
            n: v.len(),
        })
    }
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct ChatLatency {
    /// Round trips with nothing else on the connection.
    pub idle: Percentiles,
    /// Round trips while the file streams.
    pub busy: Percentiles,
    /// The transfer's speed meanwhile, offer → verified, MB/s.
    pub transfer_mb_s: f64,
}

/// One ping: sends a chat-sized text on `ch` (a's end) and waits for b's echo.
async fn ping(ch: &mut Channel, n: u64) -> Result<Duration> {
    let text = format!(r#"{{"type":"message","id":"{n:032x}","text":"ping","sent_at_ms":0}}"#);
    let start = Instant::now();
    ch.a_dc.send(DcMessage::Text(text.clone())).await?;
    loop {
        match ch.a_rx.recv().await.context("the chat channel closed")? {
            DcMessage::Text(t) if t == text => return Ok(start.elapsed()),
            _ => continue,
        }
    }
}

/// Measures the chat round trip idle, then during a transfer of `total` bytes
/// (a file in `dir`, verified on arrival).
pub async fn run(total: u64, dir: &Path) -> Result<ChatLatency> {
    let src = dir.join("chat-bench.bin");
    random_file(&src, total)?;
    let (a, b, mut channels) = pair::connect_many(&["file", "chat"]).await?;
    let mut chat = channels.pop().context("the chat channel")?;
    let file = channels.pop().context("the file channel")?;
    // b echoes every chat message.
    let mut b_rx = std::mem::replace(&mut chat.b_rx, tokio::sync::mpsc::channel(1).1);
    let b_dc = chat.b_dc.clone();
    tokio::spawn(async move {
        while let Some(msg) = b_rx.recv().await {
            if b_dc.send(msg).await.is_err() {
                break;
            }
        }
    });
    let gap = Duration::from_millis(PING_GAP_MS);
    let mut idle = Vec::new();
    for n in 0..IDLE_PINGS as u64 {
        idle.push(ping(&mut chat, n).await?);
        tokio::time::sleep(gap).await;
    }
    let inbox = dir.join("chat-inbox");
    let transfer = tokio::spawn(async move { send_over(file, &src, &inbox).await });
    let mut busy = Vec::new();
    let mut n = IDLE_PINGS as u64;
    while !transfer.is_finished() {
        busy.push(ping(&mut chat, n).await?);
        n += 1;
        tokio::time::sleep(gap).await;
    }
    let (_, wall, _) = transfer.await??;
    a.close().await;
    b.close().await;
    Ok(ChatLatency {
        idle: Percentiles::of(idle)?,
        busy: Percentiles::of(busy)?,
        transfer_mb_s: mb_per_s(total, wall),
    })
}
