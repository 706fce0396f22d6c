//! Clients calling in pairs at a fixed total message rate; each relayed frame's
//! latency is measured from just before the sender writes it to when the other
//! client has read it (one process, one clock).

use std::time::Duration;

use anyhow::{bail, Result};
use futures_util::StreamExt as _;
use parley_proto::{CallKind, ClientMessage, ServerMessage};
use tokio::time::{sleep_until, Instant};

use super::client::{key, LoadClient};

/// Sign-ins in flight at once while connecting.
pub const CONNECT_CONCURRENCY: usize = 200;

/// Longest wait for one relayed frame before the run fails.
const RELAY_TIMEOUT: Duration = Duration::from_secs(10);

/// Frames of one call between `a` (caller) and `b` (callee).
const FRAMES_PER_CALL: usize = 10;

/// What one run of calls measured.
#[derive(Debug, Default)]
pub struct Latencies {
    /// Relay latency of each frame, µs.
    pub samples_us: Vec<u32>,
    /// Frames sent later than their schedule by more than 5 ms (the client side
    /// could not keep up; the offered rate was not met).
    pub late: u64,
    /// Calls completed.
    pub calls: u64,
    /// Wall time from the first to the last frame.
    pub wall: Duration,
}

impl Latencies {
    /// The `q` quantile (0..=1) of the latencies, ms.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let mut v = self.samples_us.clone();
        v.sort_unstable();
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        f64::from(v[i]) / 1000.0
    }

    /// Frames relayed per second over the run.
    pub fn rate(&self) -> f64 {
        self.samples_us.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Signs in `2 × pairs` clients (keys from `first_key` on).
///
/// Errors: any sign-in fails.
pub async fn connect_pairs(
    url: &str,
    pairs: usize,
    first_key: u64,
) -> Result<Vec<(LoadClient, LoadClient)>> {
    let clients = connect_many(url, first_key, 2 * pairs).await?;
    let mut it = clients.into_iter();
    let mut out = Vec::with_capacity(pairs);
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

/// Signs in `n` clients with keys `first_key..first_key + n`, at most
/// [`CONNECT_CONCURRENCY`] at a time.
///
/// Errors: any sign-in fails.
pub async fn connect_many(url: &str, first_key: u64, n: usize) -> Result<Vec<LoadClient>> {
    futures_util::stream::iter(0..n as u64)
        .map(|k| async move { LoadClient::connect(url, &key(first_key + k)).await })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Runs calls on every pair for `duration` at `rate` frames/s in all: each pair
/// sends one frame every `pairs / rate` seconds, pairs staggered evenly. A call
/// under way when time is up is finished. Returns the pairs for another run.
///
/// Errors: a frame is lost, unexpected, or a connection fails.
pub async fn run(
    pairs: Vec<(LoadClient, LoadClient)>,
    rate: f64,
    duration: Duration,
) -> Result<(Latencies, Vec<(LoadClient, LoadClient)>)> {
    let n = pairs.len();
    let interval = Duration::from_secs_f64(n as f64 / rate);
    let t0 = Instant::now() + Duration::from_millis(100);
    let end = t0 + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, pair) in pairs.into_iter().enumerate() {
        let first = t0 + interval.mul_f64(i as f64 / n as f64);
        tasks.spawn(run_pair(i, pair, first, interval, end));
    }
    let mut total = Latencies::default();
    let mut back = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        let (lat, pair) = done??;
        total.samples_us.extend(lat.samples_us);
        total.late += lat.late;
        total.calls += lat.calls;
        back.push(pair);
    }
    total.wall = t0.elapsed();
    Ok((total, back))
}

/// One pair's calls until `end`.
async fn run_pair(
    i: usize,
    (mut a, mut b): (LoadClient, LoadClient),
    first: Instant,
    interval: Duration,
    end: Instant,
) -> Result<(Latencies, (LoadClient, LoadClient))> {
    let mut lat = Latencies {
        samples_us: Vec::with_capacity(
            (end.duration_since(first).as_secs_f64() / interval.as_secs_f64()) as usize
                + FRAMES_PER_CALL,
        ),
        ..Latencies::default()
    };
    let sdp = fake_sdp();
    let mut next = first;
    let mut call = 0u64;
    while next < end {
        let call_id = format!("l{i}-{call}");
        for step in 0..FRAMES_PER_CALL {
            sleep_until(next).await;
            if next.elapsed() > Duration::from_millis(5) {
                lat.late += 1;
            }
            next += interval;
            let (from_a, msg) = frame(step, &call_id, &b, &sdp);
            let (tx, rx) = if from_a {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            let sent = Instant::now();
            tx.send(&msg).await?;
            let got = tokio::time::timeout(RELAY_TIMEOUT, rx.recv())
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "pair {i}, call {call_id}: {msg:?} not relayed within {RELAY_TIMEOUT:?}"
                    )
                })??;
            let us = sent.elapsed().as_micros();
            if !relays(&msg, &got) {
                bail!("pair {i}, call {call_id}: sent {msg:?}, the other got {got:?}");
            }
            lat.samples_us.push(u32::try_from(us).unwrap_or(u32::MAX));
        }
        lat.calls += 1;
        call += 1;
    }
    Ok((lat, (a, b)))
}

/// Frame `step` of a call: whether the caller sends it, and the frame.
fn frame(step: usize, call_id: &str, callee: &LoadClient, sdp: &str) -> (bool, ClientMessage) {
    let call_id = call_id.to_owned();
    let candidate = |c: &str| ClientMessage::Candidate {
        to: None,
        call_id: call_id.clone(),
        candidate: c.to_owned(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    };
    const HOST: &str = "candidate:1 1 udp 2130706431 192.168.1.20 50000 typ host";
    match step {
        0 => (
            true,
            ClientMessage::Invite {
                call_id,
                to: callee.id.clone(),
                kind: CallKind::Media,
            },
        ),
        1 => (false, ClientMessage::Ringing { call_id }),
        2 => (false, ClientMessage::Accept { call_id }),
        3 => (
            true,
            ClientMessage::Offer {
                to: None,
                call_id,
                sdp: sdp.to_owned(),
                sig: Some("S".repeat(86)),
            },
        ),
        4 => (
            false,
            ClientMessage::Answer {
                to: None,
                call_id,
                sdp: sdp.to_owned(),
                sig: Some("S".repeat(86)),
            },
        ),
        5 => (true, candidate(HOST)),
        6 => (false, candidate(HOST)),
        7 => (true, candidate("")),
        8 => (false, candidate("")),
        _ => (
            true,
            ClientMessage::Hangup {
                call_id,
                reason: None,
            },
        ),
    }
}

/// Whether `got` is the relayed form of `sent`.
fn relays(sent: &ClientMessage, got: &ServerMessage) -> bool {
    use ClientMessage as C;
    use ServerMessage as S;
    matches!(
        (sent, got),
        (C::Invite { .. }, S::Invite { .. })
            | (C::Ringing { .. }, S::Ringing { .. })
            | (C::Accept { .. }, S::Accept { .. })
            | (C::Offer { .. }, S::Offer { .. })
            | (C::Answer { .. }, S::Answer { .. })
            | (C::Candidate { .. }, S::Candidate { .. })
            | (C::Hangup { .. }, S::Hangup { .. })
    )
}

/// An SDP of the size Parley sends (about 2.5 KB: audio, video and a data
/// channel); the server relays it unread.
fn fake_sdp() -> String {
    let mut sdp = String::from("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n");
    while sdp.len() < 2500 {
        sdp.push_str("a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1\r\n");
    }
    sdp
}
