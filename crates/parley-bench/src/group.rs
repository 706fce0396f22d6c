//! One group call of `parley-cli` processes and each member's figures, for the
//! mesh (mesh.rs) and SFU (sfu/) benchmarks.
//!
//! Member 1 calls member 2 for `--secs` seconds and invites the others a second
//! after the answer (`--invite`, as `call ID2 ID3 ...`); they answer and leave
//! `--secs` seconds after their own accept. Each sends the recorded clip
//! (`../shared/media/chrome-320x180-15fps.y4m`, 320x180 at 15 frames/s) and
//! speech (`jfk.wav`) and prints its `--stats`.
//!
//! Per member, over the time from its first `connected` to its `call ended` (as
//! this bench reads them on its stderr): the uplink, bits/s, from `uplink_bytes`
//! (bytes sent on every peer link still up at its end) plus, when its media went
//! through an SFU, `sfu.publisher_bytes_sent`; the downlink from the SFU
//! (`sfu.subscriber_bytes_received`); the video frames decoded per other member,
//! frames/s. The CPU, % of one core: user + system time of the process from
//! /proc/PID/stat, read every 200 ms, over its wall time.

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::setup::{cli_id, stats_of};
use crate::{proc_cpu_seconds, Guard};

/// How often the members' CPU time is read and their exit checked.
const POLL: Duration = Duration::from_millis(200);

/// `../shared/media/NAME` beside the repository, as the end-to-end tests read it.
fn media(name: &str) -> Result<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/media/");
    std::fs::canonicalize(p.join(name)).with_context(|| {
        format!("{name} is missing: the benchmark reads ../shared/media beside the repository")
    })
}

/// What every member of every call shares.
pub(crate) struct Bench<'a> {
    cli: &'a Path,
    url: &'a str,
    /// Where members bind their media, `IP:0`.
    bind: String,
    clip: PathBuf,
    speech: PathBuf,
    /// Length of each call, s.
    secs: f64,
}

/// One member's figures.
pub(crate) struct Figures {
    /// `member 1 (call)`, `member 2 (answer)`, ...
    pub(crate) name: String,
    /// Its Parley id (`parley-cli id`).
    pub(crate) id: String,
    /// Everything it sent, bits/s: its peer links plus, through an SFU, its
    /// publisher.
    pub(crate) uplink_bps: f64,
    /// The peer links' part of `uplink_bps`, bits/s.
    pub(crate) links_bps: f64,
    /// Video frames it decoded (every path), per other member, frames/s.
    pub(crate) fps_each: f64,
    /// Its share of the SFU, when its media went through one.
    pub(crate) sfu: Option<SfuFigures>,
    /// Seconds the rates are over (first `connected` to `call ended`), s.
    pub(crate) secs: f64,
    /// CPU time, s, and the wall time it is over, s.
    pub(crate) cpu: (f64, f64),
    /// CPU, % of one core.
    pub(crate) cpu_pct: f64,
}

/// A member's share of the SFU (its `--stats` `sfu` object).
pub(crate) struct SfuFigures {
    /// What its publisher sent to the SFU, bits/s.
    pub(crate) publish_bps: f64,
    /// What its subscribers received from the SFU, bits/s.
    pub(crate) downlink_bps: f64,
    /// The members whose feeds it subscribed to, by id.
    pub(crate) feeds: Vec<String>,
    /// Video frames decoded from the SFU, all members together.
    pub(crate) frames: u64,
    /// Of those, per other member, frames/s.
    pub(crate) fps_each: f64,
    /// Seconds the media went through the SFU (the rates above are over it), s.
    pub(crate) secs: f64,
}

/// A running `parley-cli` (killed and reaped on drop, by its guard).
struct Member {
    name: String,
    id: String,
    child: Guard,
    out: PathBuf,
    /// Its stderr lines, each with the moment it was read.
    stderr: Option<JoinHandle<Vec<(Instant, String)>>>,
    spawned: Instant,
    /// The last CPU time read, s, and when, s after the spawn.
    cpu: (f64, f64),
    exited: Option<Instant>,
}

impl<'a> Bench<'a> {
    /// Calls of `secs` seconds through the server at `url`, members binding
    /// their media to `bind` (any port).
    ///
    /// Errors: `secs` is not positive, or the clip or speech is missing.
    pub(crate) fn new(cli: &'a Path, url: &'a str, bind: IpAddr, secs: f64) -> Result<Bench<'a>> {
        ensure!(secs > 0.0, "--secs must be positive");
        Ok(Bench {
            cli,
            url,
            bind: std::net::SocketAddr::new(bind, 0).to_string(),
            clip: media("chrome-320x180-15fps.y4m")?,
            speech: media("jfk.wav")?,
            secs,
        })
    }

    /// Length of each call, s.
    pub(crate) fn secs(&self) -> f64 {
        self.secs
    }

    /// Starts `parley-cli <args>` on `profile` (whose id is `id`), sending the
    /// clip and the speech and printing its stats to the file `out`.
    fn spawn(
        &self,
        name: String,
        id: &str,
        profile: &Path,
        args: &[&str],
        out: PathBuf,
    ) -> Result<Member> {
        let mut child = Guard(
            Command::new(self.cli)
                .arg("--profile")
                .arg(profile)
                .args(["--server", self.url])
                .args(args)
                .args(["--bind", self.bind.as_str(), "--stats", "--video-file"])
                .arg(&self.clip)
                .arg("--audio-file")
                .arg(&self.speech)
                .stdout(File::create(&out)?)
                .stderr(Stdio::piped())
                .spawn()
                .context("spawn parley-cli")?,
        );
        let err = child.0.stderr.take().context("no stderr pipe")?;
        let stderr = std::thread::spawn(move || {
            let lines = BufReader::new(err).lines().map_while(std::io::Result::ok);
            lines.map(|l| (Instant::now(), l)).collect::<Vec<_>>()
        });
        Ok(Member {
            name,
            id: id.to_owned(),
            child,
            out,
            stderr: Some(stderr),
            spawned: Instant::now(),
            cpu: (0.0, 0.0),
            exited: None,
        })
    }
}

impl Member {
    /// Its stderr lines (once it has exited).
    fn stderr_lines(&mut self) -> Vec<(Instant, String)> {
        let handle = self.stderr.take();
        handle.and_then(|h| h.join().ok()).unwrap_or_default()
    }

    /// Reads its CPU time, then whether it exited. Errors: it failed.
    fn poll(&mut self) -> Result<()> {
        if let Some(cpu) = proc_cpu_seconds(&self.child.0.id().to_string()) {
            self.cpu = (cpu, self.spawned.elapsed().as_secs_f64());
        }
        if let Some(status) = self.child.0.try_wait()? {
            self.exited = Some(Instant::now());
            if !status.success() {
                let lines = self.stderr_lines();
                let tail = &lines[lines.len().saturating_sub(15)..];
                let tail: Vec<&str> = tail.iter().map(|(_, l)| l.as_str()).collect();
                bail!(
                    "{} exited with {status}; its stderr ends:\n{}",
                    self.name,
                    tail.join("\n")
                );
            }
        }
        Ok(())
    }

    /// Its figures once it has exited, in a call with `others` other members.
    fn figures(&mut self, others: usize) -> Result<Figures> {
        let lines = self.stderr_lines();
        let name = &self.name;
        let (from, _) = lines
            .iter()
            .find(|(_, l)| l.trim() == "connected")
            .with_context(|| format!("{name} did not connect"))?;
        let ended = lines.iter().find(|(_, l)| l.starts_with("call ended"));
        let to = ended
            .map(|&(t, _)| t)
            .or(self.exited)
            .context("still running")?;
        let stats =
            stats_of(&std::fs::read(&self.out)?).with_context(|| format!("{name}: no stats"))?;
        let count = |v: &serde_json::Value, key: &str| {
            v[key]
                .as_u64()
                .with_context(|| format!("{name}: no {key} in its stats"))
        };
        let secs = to.saturating_duration_since(*from).as_secs_f64().max(1e-3);
        let bps = |bytes: u64| bytes as f64 * 8.0 / secs;
        let per_member = |frames: u64| frames as f64 / secs / others.max(1) as f64;
        let s = &stats["sfu"];
        let sfu = if s.is_object() {
            // The SFU's figures are over the time the media went through it:
            // from the CLI's `media goes through the SFU` to the end.
            let (moved, _) = lines
                .iter()
                .find(|(_, l)| l.trim() == "media goes through the SFU")
                .with_context(|| format!("{name}: its media never went through the SFU"))?;
            let on_sfu = to.saturating_duration_since(*moved).as_secs_f64().max(1e-3);
            let sfu_bps = |bytes: u64| bytes as f64 * 8.0 / on_sfu;
            let frames = count(s, "frames_received")?;
            let feeds = s["feeds"].as_object();
            Some(SfuFigures {
                publish_bps: sfu_bps(count(s, "publisher_bytes_sent")?),
                downlink_bps: sfu_bps(count(s, "subscriber_bytes_received")?),
                feeds: feeds.map_or_else(Vec::new, |f| f.keys().cloned().collect()),
                frames,
                fps_each: frames as f64 / on_sfu / others.max(1) as f64,
                secs: on_sfu,
            })
        } else {
            None
        };
        let links_bps = bps(count(&stats, "uplink_bytes")?);
        let (cpu, cpu_pct) = (self.cpu, self.cpu.0 / self.cpu.1.max(1e-3) * 100.0);
        Ok(Figures {
            name: name.clone(),
            id: self.id.clone(),
            uplink_bps: links_bps + sfu.as_ref().map_or(0.0, |s| s.publish_bps),
            links_bps,
            fps_each: per_member(count(&stats, "frames_received")?),
            sfu,
            secs,
            cpu,
            cpu_pct,
        })
    }
}

/// Runs one group call of `n` members (see the module doc); each member's
/// figures, the caller first.
///
/// Errors: a member failed, or the call was not over `--secs` + 90 s after it
/// began.
pub(crate) fn group_call(b: &Bench, n: usize) -> Result<Vec<Figures>> {
    ensure!(n >= 2, "a call needs two members");
    let dir = tempfile::tempdir()?;
    let mut profiles = Vec::new();
    for i in 0..n {
        let profile = dir.path().join(format!("profile{i}"));
        profiles.push((cli_id(b.cli, &profile)?, profile));
    }
    let ids: Vec<String> = profiles.iter().map(|(id, _)| id.clone()).collect();
    let secs = b.secs.to_string();
    let out = |i: usize| dir.path().join(format!("stdout{i}"));
    let mut members = Vec::new();
    for (i, (id, profile)) in profiles.iter().enumerate().skip(1) {
        let args = ["answer", "--timeout", "60", "--leave-after", secs.as_str()];
        let name = format!("member {} (answer)", i + 1);
        members.push(b.spawn(name, id, profile, &args, out(i))?);
    }
    let mut args = vec!["call", ids[1].as_str(), "--wait-online", "20"];
    args.extend(["--duration", secs.as_str(), "--invite-at", "1"]);
    // As `call ID2 ID3 ...`: the others invited once the first answered (an id
    // may start with '-', which only --invite takes).
    for id in &ids[2..] {
        args.extend(["--invite", id.as_str()]);
    }
    let (id, profile) = &profiles[0];
    let caller = b.spawn("member 1 (call)".to_owned(), id, profile, &args, out(0))?;
    members.insert(0, caller);
    let limit = b.secs + 90.0;
    let deadline = Instant::now() + Duration::from_secs_f64(limit);
    while members.iter().any(|m| m.exited.is_none()) {
        for m in members.iter_mut().filter(|m| m.exited.is_none()) {
            m.poll().with_context(|| format!("call of {n}"))?;
        }
        ensure!(
            Instant::now() < deadline,
            "call of {n}: not over after {limit} s"
        );
        std::thread::sleep(POLL);
    }
    members.iter_mut().map(|m| m.figures(n - 1)).collect()
}
