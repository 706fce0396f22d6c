//! Throughput measurements: raw data channel, file transfer, plain TCP.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use parley_engine::channel::{DcMessage, MessageSink};
use parley_engine::transfer::SendOutcome;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::pair::{self, Channel};

/// Message size for the raw data-channel test, bytes (SCTP's default max message).
pub const MESSAGE_BYTES: usize = 64 * 1024;

/// This process's CPU time so far (user + system, all threads), s.
fn cpu_now() -> f64 {
    crate::proc_cpu_seconds("self").unwrap_or(f64::NAN)
}

/// CPU seconds per GB (10^9 bytes) for `cpu_secs` spent moving `bytes`.
pub fn cpu_per_gb(cpu_secs: f64, bytes: u64) -> f64 {
    cpu_secs / (bytes as f64 / 1e9)
}

/// Result of one raw data-channel run.
pub struct RawResult {
    /// Measured at the receiver, MB/s.
    pub mb_s: f64,
    /// CPU of both peers (this process) while sending, s per GB.
    pub cpu_s_per_gb: f64,
}

/// MB/s (10^6 bytes per second).
pub fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

/// Sends `total` bytes in 64 KiB messages over a reliable ordered data channel between
/// two local peer connections; returns MB/s measured at the receiver, and the CPU
/// it took.
pub async fn raw_data_channel(total: u64) -> Result<RawResult> {
    let mut p = pair::connect("bench").await?;
    let payload = Bytes::from(vec![0x5a; MESSAGE_BYTES]);
    let n = total.div_ceil(MESSAGE_BYTES as u64);
    let sender = p.a_dc.clone();
    let start = Instant::now();
    let cpu = cpu_now();
    let send = tokio::spawn(async move {
        for _ in 0..n {
            sender.send(DcMessage::Binary(payload.clone())).await?;
        }
        anyhow::Ok(())
    });
    let mut got = 0u64;
    while got < n * MESSAGE_BYTES as u64 {
        match p.b_rx.recv().await {
            Some(DcMessage::Binary(b)) => got += b.len() as u64,
            Some(_) => {}
            None => bail!("channel closed after {got} bytes"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_now() - cpu;
    send.await??;
    p.a.close().await;
    p.b.close().await;
    Ok(RawResult {
        mb_s: mb_per_s(got, secs),
        cpu_s_per_gb: cpu_per_gb(cpu, got),
    })
}

/// Plain TCP over loopback, 64 KiB writes: the ceiling for any transport here.
pub async fn tcp_loopback(total: u64) -> Result<f64> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let reader = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut got = 0u64;
        let start = Instant::now();
        loop {
            let k = s.read(&mut buf).await?;
            if k == 0 {
                break;
            }
            got += k as u64;
        }
        anyhow::Ok((got, start.elapsed().as_secs_f64()))
    });
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let chunk = vec![0x5a; MESSAGE_BYTES];
    let mut sent = 0u64;
    while sent < total {
        s.write_all(&chunk).await?;
        sent += chunk.len() as u64;
    }
    s.shutdown().await?;
    drop(s);
    let (got, secs) = reader.await??;
    Ok(mb_per_s(got, secs))
}

/// Result of one disk-to-disk transfer.
pub struct FileResult {
    /// Offer → verified at the receiver (the file read once, hashed while sent), MB/s.
    pub wall_mb_s: f64,
    /// Accept → complete (streaming only), MB/s.
    pub stream_mb_s: f64,
    /// CPU of both peers (this process) from the offer to the verdict, s per GB.
    pub cpu_s_per_gb: f64,
}

/// Writes `total` random bytes to `path`.
pub fn random_file(path: &Path, total: u64) -> Result<()> {
    use rand::RngCore;
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = total;
    while left > 0 {
        rand::thread_rng().fill_bytes(&mut buf);
        let k = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..k])?;
        left -= k as u64;
    }
    f.flush()?;
    Ok(())
}

/// Sends `src` through our transfer protocol over `ch` (a's end sends, b's end
/// saves into `inbox`, both driven by `serve_file_channel` as in a call) and
/// checks the received copy against the source (SHA-256, untimed). Returns the
/// sender's outcome, the wall time from the offer to the verdict, s, and the
/// CPU this process spent meanwhile, s.
pub async fn send_over(ch: Channel, src: &Path, inbox: &Path) -> Result<(SendOutcome, f64, f64)> {
    use parley_engine::transfer::{send_file_named, serve_file_channel, ReceiveSession};
    use sha2::{Digest, Sha256};
    use std::sync::Arc;
    use tokio::sync::{mpsc, watch};

    std::fs::create_dir_all(inbox)?;
    let (ev_tx, mut ev_rx) = mpsc::channel(64);
    tokio::spawn(async move { while ev_rx.recv().await.is_some() {} });
    let Channel {
        a_dc,
        mut a_rx,
        b_dc,
        mut b_rx,
    } = ch;
    let b_events = ev_tx.clone();
    let inbox2 = inbox.to_path_buf();
    tokio::spawn(async move {
        let mut session = ReceiveSession::new(Some(inbox2), b_events);
        let (unused_tx, _unused_rx) = mpsc::channel(1);
        let (_no_commands, mut commands) = mpsc::channel(1);
        let _ = serve_file_channel(&mut b_rx, &b_dc, &mut session, &unused_tx, &mut commands).await;
    });
    let (to_sender_tx, mut to_sender_rx) = mpsc::channel(64);
    let a_events = ev_tx.clone();
    let a_dc2 = a_dc.clone();
    tokio::spawn(async move {
        let mut session = ReceiveSession::new(None, a_events);
        let (_no_commands, mut commands) = mpsc::channel(1);
        let _ = serve_file_channel(
            &mut a_rx,
            &a_dc2,
            &mut session,
            &to_sender_tx,
            &mut commands,
        )
        .await;
    });
    let (_cancel_tx, cancel_rx) = watch::channel(false);
    let start = Instant::now();
    let cpu = cpu_now();
    let outcome = send_file_named(
        src,
        None,
        Arc::new(a_dc),
        &mut to_sender_rx,
        &ev_tx,
        cancel_rx,
    )
    .await?;
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_now() - cpu;
    // Integrity, outside the timed part: the copy against the source, with
    // another hash than the protocol's.
    let got = inbox.join(src.file_name().context("a file name")?);
    let sha256 = |path: &Path| -> Result<Vec<u8>> {
        let mut h = Sha256::new();
        std::io::copy(&mut std::fs::File::open(path)?, &mut h)?;
        Ok(h.finalize().to_vec())
    };
    if sha256(&got)? != sha256(src)? {
        bail!("the received file differs from the source");
    }
    Ok((outcome, wall, cpu))
}

/// Sends `src` (of `total` bytes) through our transfer protocol over a data
/// channel between two local peer connections into `dir/inbox` (emptied
/// afterwards, so the next round starts from nothing), and checks the received
/// copy's SHA-256.
pub async fn file_transfer(src: &Path, total: u64, dir: &Path) -> Result<FileResult> {
    let (a, b, mut channels) = pair::connect_many(&["file"]).await?;
    let inbox = dir.join("inbox");
    let (outcome, wall, cpu) = send_over(channels.remove(0), src, &inbox).await?;
    a.close().await;
    b.close().await;
    std::fs::remove_dir_all(&inbox)?;
    Ok(FileResult {
        wall_mb_s: mb_per_s(total, wall),
        stream_mb_s: mb_per_s(
            total - outcome.resumed_from,
            outcome.elapsed_ms.max(1) as f64 / 1e3,
        ),
        cpu_s_per_gb: cpu_per_gb(cpu, total),
    })
}
