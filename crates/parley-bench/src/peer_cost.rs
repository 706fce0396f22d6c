//! What a peer costs (issue 13): `--one-way SECS` runs a one-way 1280x720 30
//! frames/s call on real footage between two `parley-cli` processes through the
//! real server, and Chromium the same call in one page on the same footage
//! for the same time, and prints
//!
//! - the CPU of both peers together against Chromium's, and the ratio;
//! - the glass-to-glass latency: capture time drawn into each frame
//!   (`--clock-stamp`) → the decoded frame handed to the callee's sink;
//! - the resident memory (RSS) of each peer: its peak, sampled every 100 ms.
//!
//! `--transfer-rss GIB` sends a file of GIB GiB between two `parley-cli`
//! processes (`send` and `receive`) and prints each one's RSS early in the
//! transfer, at its peak and at the end, with the throughput.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::setup::{cli_id, stats_of};

/// Resident set size of process `pid`, bytes (VmRSS in /proc/PID/status).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Samples of one process while it runs.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    /// RSS samples, bytes, every [`SAMPLE_EVERY`].
    pub rss: Vec<u64>,
    /// The last CPU time read, s (user + system).
    pub cpu_secs: f64,
}

impl Samples {
    /// The largest RSS sampled, bytes.
    pub fn peak(&self) -> u64 {
        self.rss.iter().copied().max().unwrap_or(0)
    }
}

/// How often processes are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Samples `children` every [`SAMPLE_EVERY`] until all have exited (once one
/// fails or `deadline` passed, the others are killed). Returns their samples and exit
/// statuses' success.
fn watch(children: &mut [Child], deadline: Duration) -> (Vec<Samples>, Vec<bool>) {
    let started = Instant::now();
    let mut samples = vec![Samples::default(); children.len()];
    let mut done: Vec<Option<bool>> = vec![None; children.len()];
    while done.iter().any(Option::is_none) {
        for (i, child) in children.iter_mut().enumerate() {
            if done[i].is_some() {
                continue;
            }
            let pid = child.id();
            if let Some(rss) = rss_bytes(pid) {
                samples[i].rss.push(rss);
            }
            if let Some(cpu) = crate::proc_cpu_seconds(&pid.to_string()) {
                samples[i].cpu_secs = cpu;
            }
            if let Ok(Some(status)) = child.try_wait() {
                done[i] = Some(status.success());
            }
        }
        // One failed or the time is up: the others are stopped.
        if done.contains(&Some(false)) || started.elapsed() > deadline {
            for child in children.iter_mut() {
                let _ = child.kill();
            }
        }
        std::thread::sleep(SAMPLE_EVERY);
    }
    (samples, done.into_iter().map(|d| d == Some(true)).collect())
}

/// One one-way call's costs.
pub struct CallCost {
    /// Caller (sends the footage), callee (receives it).
    pub samples: [Samples; 2],
    /// Glass-to-glass latency, ms: median, p95, frames measured.
    pub latency_ms: (f64, f64, u64),
    /// Frames the callee decoded.
    pub frames: u64,
    /// Bytes the callee received on the selected candidate pair.
    pub bytes: u64,
}

/// A one-way call of `secs` s: the caller sends `footage` (1280x720 at 30
/// frames/s, each frame stamped with its capture time), the callee sends
/// nothing, neither sends audio.
///
/// Errors: a peer failed, or no stamped frame was decoded.
pub fn one_way_call(cli: &Path, url: &str, footage: &Path, secs: f64) -> Result<CallCost> {
    let dir = tempfile::tempdir()?;
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    cli_id(cli, &a)?;
    let b_id = cli_id(cli, &b)?;
    let peer = |profile: &Path| {
        let mut c = Command::new(cli);
        c.arg("--profile").arg(profile).args(["--server", url]);
        c.stderr(Stdio::null());
        c
    };
    let callee = peer(&b)
        .args([
            "answer",
            "--stats",
            "--no-audio",
            "--no-video",
            "--clock-stamp",
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let caller = peer(&a)
        .args(["call", &b_id, "--no-audio", "--clock-stamp", "--video-file"])
        .arg(footage)
        .args(["--bind", "127.0.0.1:0"])
        .args(["--duration", &secs.to_string()])
        .stdout(Stdio::null())
        .spawn()?;
    let mut children = [caller, callee];
    let (samples, ok) = watch(&mut children, Duration::from_secs_f64(secs + 60.0));
    let [_, callee] = children;
    let out = callee.wait_with_output()?;
    if ok.contains(&false) {
        bail!("a peer of the one-way call failed");
    }
    let stats = stats_of(&out.stdout)?;
    let g2g = &stats["glass_to_glass_ms"];
    let latency_ms = (
        g2g["median"]
            .as_f64()
            .context("no glass-to-glass latency")?,
        g2g["p95"].as_f64().unwrap_or(f64::NAN),
        g2g["n"].as_u64().unwrap_or(0),
    );
    Ok(CallCost {
        samples: [samples[0].clone(), samples[1].clone()],
        latency_ms,
        frames: stats["frames_received"].as_u64().unwrap_or(0),
        bytes: stats["bytes_received"].as_u64().unwrap_or(0),
    })
}

/// One transfer's memory.
pub struct TransferRss {
    /// Sender, receiver.
    pub samples: [Samples; 2],
    /// Throughput, MB/s (10^6 bytes), start of the processes to the end.
    pub mb_s: f64,
}

/// Sends a `bytes`-byte file (random) from one `parley-cli send` to a
/// `parley-cli receive` through the server at `url`, sampling both.
///
/// Errors: a process failed, or the copy differs in size.
pub fn transfer_rss(cli: &Path, url: &str, bytes: u64, dir: &Path) -> Result<TransferRss> {
    let (a, b) = (dir.join("a"), dir.join("b"));
    let a_id = cli_id(cli, &a)?;
    let b_id = cli_id(cli, &b)?;
    let peer = |profile: &Path| {
        let mut c = Command::new(cli);
        c.arg("--profile")
            .arg(profile)
            .args(["--server", url])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    for (profile, id) in [(&a, &b_id), (&b, &a_id)] {
        let ok = peer(profile).args(["contact", "add", id]).status()?;
        anyhow::ensure!(ok.success(), "parley-cli contact add failed");
    }
    let src = dir.join("big.bin");
    crate::throughput::random_file(&src, bytes)?;
    let inbox = dir.join("inbox");
    let started = Instant::now();
    let receiver = peer(&b)
        .args([
            "receive",
            "--count",
            "1",
            "--timeout",
            "3600",
            "--receive-dir",
        ])
        .arg(&inbox)
        .spawn()?;
    let sender = peer(&a)
        .args(["send", &b_id, "--timeout", "3600"])
        .arg(&src)
        .spawn()?;
    let mut children = [sender, receiver];
    let (samples, ok) = watch(&mut children, Duration::from_secs(3600));
    let secs = started.elapsed().as_secs_f64();
    if ok.contains(&false) {
        bail!("the transfer's sender or receiver failed");
    }
    let got = std::fs::metadata(inbox.join("big.bin"))?.len();
    anyhow::ensure!(got == bytes, "received {got} of {bytes} bytes");
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_dir_all(&inbox);
    Ok(TransferRss {
        samples: [samples[0].clone(), samples[1].clone()],
        mb_s: bytes as f64 / secs / 1e6,
    })
}
