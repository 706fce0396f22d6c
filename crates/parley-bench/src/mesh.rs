//! Mesh group calls: N = 2, 3 and 4 `parley-cli` processes through one local
//! signaling server on 127.0.0.1, every member with a peer link to every other,
//! each sending the recorded clip (`../shared/media/chrome-320x180-15fps.y4m`,
//! 320x180 at 15 frames/s) and speech (`jfk.wav`) for `--secs` seconds (default 10).
//!
//! Per member: the uplink, bits/s, and the CPU, % of one core (user + system time
//! of the process from /proc/PID/stat, read every 200 ms, over its wall time);
//! each N is compared with N = 2, measured in the same run.
//!
//! The uplink is `uplink_bytes` of `parley-cli --stats` (bytes sent on every
//! link still up at the member's end, summed) over the time from its first
//! `connected` to its `call ended`, as this bench reads them on its stderr. The
//! caller's figure is the one compared: it hangs up first, with every link up;
//! the invited members' links start about 1 s after its first, which makes the
//! figure a little low for N > 2.
//!
//! Run: `cargo build --release -p parley-cli -p parley-bench &&
//! target/release/parley-bench --mesh` (or `cargo run --release -p parley-bench --
//! --mesh --secs 10` once parley-cli is built in release).

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::setup::{cli_id, stats_of};
use crate::{proc_cpu_seconds, Guard};

/// Group sizes of `--mesh`, the reference first.
pub const SIZES: [usize; 3] = [2, 3, 4];
/// How often the members' CPU time is read and their exit checked.
const POLL: Duration = Duration::from_millis(200);

/// `../shared/media/NAME` beside the repository, as the end-to-end tests read it.
pub(crate) fn media(name: &str) -> Result<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/media/");
    std::fs::canonicalize(p.join(name)).with_context(|| {
        format!("{name} is missing: the benchmark reads ../shared/media beside the repository")
    })
}

/// What every member of every call shares.
struct Bench<'a> {
    cli: &'a Path,
    url: &'a str,
    clip: PathBuf,
    speech: PathBuf,
    secs: f64,
}

/// One member's figures.
struct Figures {
    /// Uplink over every link, bits/s.
    uplink_bps: f64,
    /// Seconds that rate is over.
    secs: f64,
    /// CPU time, s, and the wall time it is over, s.
    cpu: (f64, f64),
    /// CPU, % of one core.
    cpu_pct: f64,
}

/// A running `parley-cli` (killed and reaped on drop, by its guard).
struct Member {
    name: String,
    child: Guard,
    out: PathBuf,
    /// Its stderr lines, each with the moment it was read.
    stderr: Option<JoinHandle<Vec<(Instant, String)>>>,
    spawned: Instant,
    /// The last CPU time read, s, and when, s after the spawn.
    cpu: (f64, f64),
    exited: Option<Instant>,
}

impl Bench<'_> {
    /// Starts `parley-cli <args>` on `profile`, sending the clip and the speech on
    /// loopback and printing its stats to the file `out`.
    fn spawn(&self, name: String, profile: &Path, args: &[&str], out: PathBuf) -> Result<Member> {
        let mut child = Guard(
            Command::new(self.cli)
                .arg("--profile")
                .arg(profile)
                .args(["--server", self.url])
                .args(args)
                .args(["--bind", "127.0.0.1:0", "--stats", "--video-file"])
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

    /// Its figures once it has exited.
    fn figures(&mut self) -> Result<Figures> {
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
        let bytes = stats["uplink_bytes"]
            .as_u64()
            .with_context(|| format!("{name}: no uplink_bytes"))?;
        let secs = to.saturating_duration_since(*from).as_secs_f64().max(1e-3);
        let (cpu, cpu_pct) = (self.cpu, self.cpu.0 / self.cpu.1.max(1e-3) * 100.0);
        Ok(Figures {
            uplink_bps: bytes as f64 * 8.0 / secs,
            secs,
            cpu,
            cpu_pct,
        })
    }
}

/// Runs one group call of `n` members; each member's name and figures, the caller first.
fn group_call(b: &Bench, n: usize) -> Result<Vec<(String, Figures)>> {
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
    for (i, (_, profile)) in profiles.iter().enumerate().skip(1) {
        let args = ["answer", "--timeout", "60", "--leave-after", secs.as_str()];
        members.push(b.spawn(format!("member {} (answer)", i + 1), profile, &args, out(i))?);
    }
    let mut args = vec!["call", ids[1].as_str(), "--wait-online", "20"];
    args.extend(["--duration", secs.as_str(), "--invite-at", "1"]);
    // As `call ID2 ID3 ...`: the others invited once the first answered (an id
    // may start with '-', which only --invite takes).
    for id in &ids[2..] {
        args.extend(["--invite", id.as_str()]);
    }
    let caller = b.spawn("member 1 (call)".to_owned(), &profiles[0].1, &args, out(0))?;
    members.insert(0, caller);
    let limit = b.secs + 90.0;
    let deadline = Instant::now() + Duration::from_secs_f64(limit);
    while members.iter().any(|m| m.exited.is_none()) {
        for m in members.iter_mut().filter(|m| m.exited.is_none()) {
            m.poll().with_context(|| format!("mesh N={n}"))?;
        }
        ensure!(
            Instant::now() < deadline,
            "mesh N={n}: not over after {limit} s"
        );
        std::thread::sleep(POLL);
    }
    let mut all = Vec::new();
    for m in members.iter_mut() {
        all.push((m.name.clone(), m.figures()?));
    }
    Ok(all)
}

/// Runs the group calls through the server at `url` and prints the figures.
/// Mesh calls of each size in `sizes` (the first is the reference the others
/// are compared with); prints the figures and returns, per size, the caller's
/// uplink (bits/s) and the members' mean CPU (% of a core).
pub fn run(cli: &Path, url: &str, secs: f64, sizes: &[usize]) -> Result<Vec<(usize, f64, f64)>> {
    ensure!(secs > 0.0, "--secs must be positive");
    let b = Bench {
        cli,
        url,
        clip: media("chrome-320x180-15fps.y4m")?,
        speech: media("jfk.wav")?,
        secs,
    };
    println!("mesh group calls of {secs} s, each member sending the clip and speech:");
    println!("  uplink: bytes sent on every link of the caller (it hangs up first, every link up)");
    let mut reference: Option<(f64, f64)> = None;
    let mut figures = Vec::new();
    for &n in sizes {
        let members = group_call(&b, n)?;
        for (name, f) in &members {
            println!(
                "  N={n} {name}: uplink {:.2} Mbit/s over {:.1} s, CPU {:.0} % of a core ({:.1} s in {:.1} s)",
                f.uplink_bps / 1e6,
                f.secs,
                f.cpu_pct,
                f.cpu.0,
                f.cpu.1
            );
        }
        let mean =
            |v: fn(&Figures) -> f64| members.iter().map(|(_, f)| v(f)).sum::<f64>() / n as f64;
        let (up, cpu) = (members[0].1.uplink_bps, mean(|f| f.cpu_pct));
        figures.push((n, up, cpu));
        let (up2, cpu2) = *reference.get_or_insert((up, cpu));
        println!(
            "mesh N={n}: uplink per member {:.2} Mbit/s (x{:.2} of N={}), CPU per member {cpu:.0} % of a core (x{:.1} of N={})",
            up / 1e6,
            up / up2,
            sizes[0],
            cpu / cpu2,
            sizes[0]
        );
    }
    Ok(figures)
}
