//! The bench's `parley-signal` child with the Janus it starts, in the namespace.

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{proc_cpu_seconds, Guard};

/// How long `parley-signal` may take to start, Janus included.
const START: Duration = Duration::from_secs(60);
/// How long it may take to stop on SIGTERM (it closes its rooms, at most 10 s,
/// then stops Janus) before it is killed.
const STOP: Duration = Duration::from_secs(15);

/// A running `parley-signal --sfu janus`: stopped with SIGTERM on drop (so it
/// stops its Janus), killed if it does not exit in time.
pub(super) struct Signal {
    child: Guard,
    /// Its client URL, `ws://IP:PORT/ws`.
    pub(super) url: String,
    /// Janus's process id, from its `sfu janus pid N url URL` line.
    pub(super) janus_pid: u32,
    /// Its stderr (the log).
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Signal {
    /// Starts `bin` listening on `ip` at a free port, with Janus as its SFU
    /// (ICE on `ip` only) for calls of `sfu_from` members or more, and waits
    /// for its `listening on URL` and `sfu janus pid N url URL` lines.
    ///
    /// Errors: it cannot be started, or it exits or stays silent for 60 s
    /// (the end of its log is in the error).
    pub(super) fn start(bin: &Path, ip: IpAddr, sfu_from: usize) -> Result<Signal> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("parley-signal.log");
        let mut child = Guard(
            Command::new(bin)
                .arg("--listen")
                .arg(SocketAddr::new(ip, 0).to_string())
                .args(["--sfu", "janus", "--sfu-from", &sfu_from.to_string()])
                .arg("--janus-ice-ip")
                .arg(ip.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(File::create(&log)?)
                .spawn()
                .context("spawn parley-signal")?,
        );
        let out = child.0.stdout.take().context("no stdout pipe")?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Drains its stdout for as long as it runs.
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(std::io::Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut signal = Signal {
            child,
            url: String::new(),
            janus_pid: 0,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + START;
        while signal.url.is_empty() || signal.janus_pid == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                bail!(
                    "parley-signal --sfu janus did not start (no `listening on` and `sfu janus \
                     pid` lines within {} s); its log ends:\n{}",
                    START.as_secs(),
                    signal.log_tail()
                );
            };
            if let Some(url) = line.strip_prefix("listening on ") {
                signal.url = url.trim().to_owned();
            }
            if let Some(rest) = line.strip_prefix("sfu janus pid ") {
                let pid = rest.split_whitespace().next().unwrap_or_default();
                let what = || format!("parley-signal printed {line:?}");
                signal.janus_pid = pid.parse().with_context(what)?;
            }
        }
        Ok(signal)
    }

    /// CPU time (user + system) so far of `parley-signal` and of Janus, s.
    ///
    /// Errors: either has exited.
    pub(super) fn cpu_seconds(&self) -> Result<(f64, f64)> {
        let of = |what: &str, pid: u32| {
            proc_cpu_seconds(&pid.to_string())
                .with_context(|| format!("cannot read {what}'s CPU time (/proc/{pid}/stat)"))
        };
        let signal = of("parley-signal", self.child.0.id())?;
        Ok((signal, of("Janus", self.janus_pid)?))
    }

    /// The last 20 lines of its log, for an error.
    pub(super) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        // SIGTERM: it closes its rooms and stops its Janus, which SIGKILL (the
        // guard's) would leave running until the namespace goes.
        let pid = self.child.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + STOP;
        while matches!(self.child.0.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
