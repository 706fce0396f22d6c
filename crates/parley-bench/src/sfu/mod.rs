//! `--sfu`: in one run, with real `parley-cli` processes in real calls through
//! one real `parley-signal` (the release binary beside this one) started with
//! `--sfu janus --sfu-from 5`: mesh calls of 2, 3 and 4 members (the server
//! keeps calls under five members peer to peer) and a call of six, which the
//! server moves to its private Janus VideoRoom once the fifth member is
//! invited. Every member sends the recorded clip (320x180 at 15 frames/s) and
//! speech for `--secs` seconds; calls and member figures are group.rs's.
//!
//! Janus never offers loopback candidates, so everything runs in a network
//! namespace of its own (`pbench<pid>`, a veth pair at 198.51.100.1/24): this
//! binary builds it, runs itself there with `--sfu-inside 198.51.100.1`, which
//! starts `parley-signal` (listening there, Janus's ICE address there too) and
//! the members (media bound there), and deletes it afterwards. Needs root and
//! Janus (Debian package `janus`).
//!
//! Per member: uplink, bits/s (its peer links' `uplink_bytes` plus, through
//! the SFU, what its publisher sent to Janus, shown apart), the downlink from
//! Janus, the video frames decoded per other member, frames/s, and CPU, % of
//! one core. Per call: the CPU of `parley-signal` and of Janus (pid from the
//! server's `sfu janus pid N url URL` line), % of one core, from /proc/PID/stat
//! over the call. A table compares each call with the N = 2 mesh of the same
//! run. The bench fails if a call of six does not go through the SFU, or a
//! member of it did not receive every other member's feed from it or decoded
//! no video from it.
//!
//! Run: `cargo build --release -p parley-cli -p parley-signal -p parley-bench &&
//! sudo target/release/parley-bench --sfu --secs 10`.

mod inside;
mod server;
mod table;

use std::process::Command;

use anyhow::{ensure, Context, Result};

pub use inside::inside;

/// Members of the call through the SFU.
pub const SFU_MEMBERS: usize = 6;
/// `--sfu-from` of the bench's `parley-signal`: calls of this many members or
/// more (invited ones included) go through Janus; the mesh sizes stay below.
const SFU_FROM: usize = 5;
/// The namespace's address (the server's, Janus's and every member's).
const NS_IP: &str = "198.51.100.1";

/// `ip ARGS`, failing with its stderr.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output().context("run ip")?;
    ensure!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The namespace; deleted (with its veth pair and whatever runs in it) on drop.
struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Ok(o) = Command::new("ip").args(["netns", "pids", &self.0]).output() {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Builds the namespace, runs the whole benchmark in it (this binary with
/// `--sfu-inside`, whose output goes straight to ours) and deletes it; calls
/// of `secs` seconds.
///
/// Errors: not root, no Janus, the namespace cannot be built, or the
/// benchmark inside failed (its own error is on stderr).
pub fn run(secs: f64) -> Result<()> {
    ensure!(secs > 0.0, "--secs must be positive");
    let root = Command::new("id").arg("-u").output()?.stdout == b"0\n";
    ensure!(root, "--sfu builds a network namespace: run it as root");
    ensure!(
        Command::new("janus").arg("--version").output().is_ok(),
        "--sfu needs Janus (apt-get install janus)"
    );
    let ns = Namespace(format!("pbench{}", std::process::id()));
    ip(&["netns", "add", &ns.0])?;
    ip(&["-n", &ns.0, "link", "set", "lo", "up"])?;
    ip(&[
        "-n", &ns.0, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
    ])?;
    let cidr = format!("{NS_IP}/24");
    ip(&["-n", &ns.0, "addr", "add", &cidr, "dev", "veth0"])?;
    ip(&["-n", &ns.0, "link", "set", "veth0", "up"])?;
    ip(&["-n", &ns.0, "link", "set", "veth1", "up"])?;
    let status = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(std::env::current_exe()?)
        .args(["--sfu-inside", NS_IP, "--secs", &secs.to_string()])
        .status()
        .context("run the benchmark in the namespace")?;
    ensure!(
        status.success(),
        "the benchmark in namespace {} failed ({status})",
        ns.0
    );
    Ok(())
}
