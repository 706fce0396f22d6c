//! Call setup time: accept → first decoded remote frame, with the real server and two
//! `parley-cli` processes, as a user meets it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// The id of the profile in `profile` (created if new): `parley-cli id`'s last line.
pub(crate) fn cli_id(cli: &Path, profile: &Path) -> Result<String> {
    let out = Command::new(cli)
        .arg("--profile")
        .arg(profile)
        .arg("id")
        .output()?;
    if !out.status.success() {
        bail!("parley-cli id failed");
    }
    Ok(String::from_utf8(out.stdout)?
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned())
}

/// The `--stats` JSON line: the last line of a `parley-cli` stdout.
pub(crate) fn stats_of(stdout: &[u8]) -> Result<serde_json::Value> {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().last().context("no stats line")?;
    Ok(serde_json::from_str(line)?)
}

/// The test pattern the default setup benchmark sends (`--test-pattern`).
pub const PATTERN: &[&str] = &["--test-pattern", "640x360@15"];

/// Runs `runs` short calls, both sides sending `video` (`parley-cli` arguments:
/// [`PATTERN`], or `--video-file FILE.y4m`), and returns the setup times, ms,
/// as measured by the caller: from the callee's accept to the first decoded
/// frame.
pub fn call_setup_ms(
    cli: &PathBuf,
    server_url: &str,
    runs: usize,
    video: &[&str],
) -> Result<Vec<u64>> {
    let dir = tempfile::tempdir()?;
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    cli_id(cli, &a)?;
    let b_id = cli_id(cli, &b)?;
    let mut out = Vec::new();
    for _ in 0..runs {
        let common = |profile: &Path| {
            let mut c = Command::new(cli);
            c.arg("--profile")
                .arg(profile)
                .args(["--server", server_url]);
            c
        };
        let mut answer = common(&b)
            .args(["answer", "--stats", "--no-audio"])
            .args(video)
            .args(["--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let call = common(&a)
            .args(["call", &b_id, "--stats", "--no-audio"])
            .args(video)
            .args(["--bind", "127.0.0.1:0", "--duration", "1"])
            .stderr(Stdio::null())
            .output()?;
        let _ = answer.wait();
        if !call.status.success() {
            bail!("a benchmark call failed");
        }
        let s = stats_of(&call.stdout)?;
        out.push(s["setup_ms"].as_u64().context("no setup_ms")?);
    }
    Ok(out)
}
