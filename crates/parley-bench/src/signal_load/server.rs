//! The signaling server under load: the real `parley-signal` binary in its own
//! process, so its memory can be read from /proc apart from the clients'.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A running `parley-signal` process; killed on drop.
pub struct ServerProcess {
    child: Child,
    /// Its WebSocket URL, `ws://127.0.0.1:PORT/ws`.
    pub url: String,
}

impl ServerProcess {
    /// Starts `exe` on a free loopback port with per-IP limits high enough for
    /// `clients` connections from 127.0.0.1 (every bench client shares that
    /// address) and waits until it accepts connections.
    ///
    /// Errors: the binary cannot start, or does not listen within 10 s.
    pub fn start(exe: &Path, clients: usize) -> Result<ServerProcess> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let limit = (clients + 1000).to_string();
        let child = Command::new(exe)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--max-connections-per-ip", &limit])
            .args(["--max-failed-auths-per-ip", &limit])
            // Per-connection logging of 10,000 sign-ins would measure the logger.
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", exe.display()))?;
        let mut server = ServerProcess {
            child,
            url: format!("ws://127.0.0.1:{port}/ws"),
        };
        let start = Instant::now();
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Some(status) = server.child.try_wait()? {
                bail!("{} exited ({status}) before listening", exe.display());
            }
            if start.elapsed() > Duration::from_secs(10) {
                bail!("{} did not listen on {port} within 10 s", exe.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// The process's resident set size now, bytes (VmRSS in /proc/PID/status).
    pub fn rss_bytes(&self) -> Result<u64> {
        proc_status_kib(self.child.id(), "VmRSS:").map(|kib| kib * 1024)
    }

    /// The process's peak resident set size, bytes (VmHWM).
    pub fn peak_rss_bytes(&self) -> Result<u64> {
        proc_status_kib(self.child.id(), "VmHWM:").map(|kib| kib * 1024)
    }

    /// CPU time the process has used, user + system (from /proc/PID/stat).
    pub fn cpu_time(&self) -> Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the parenthesised command name; utime and stime are the
        // 14th and 15th fields of the whole line (proc(5)), in clock ticks.
        let rest = stat.rsplit_once(')').context("/proc/PID/stat format")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        // USER_HZ, the unit of these fields, is 100 on every Linux ABI.
        Ok(Duration::from_millis(ticks * 10))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proc_status_kib(pid: u32, key: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .with_context(|| format!("no {key} in /proc/{pid}/status"))?;
    Ok(line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?)
}

/// Raises this process's open-file soft limit to at least `wanted` (children
/// inherit it), up to the hard limit; returns the new soft limit.
///
/// Errors: the hard limit is below `wanted` (raise it with `ulimit -Hn`, as root).
pub fn raise_open_file_limit(wanted: u64) -> Result<u64> {
    let got = rlimit::increase_nofile_limit(wanted).context("raise the open-file limit")?;
    if got < wanted {
        bail!("the open-file hard limit is {got}, the load test needs {wanted} (ulimit -Hn)");
    }
    Ok(got)
}
