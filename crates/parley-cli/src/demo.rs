//! `demo`: a real call between two local headless peers through a local server.
//!
//! Starts the embedded signaling server on 127.0.0.1, makes two profiles, and runs
//! this same executable twice — one `answer`, one `call` — so the call crosses
//! process boundaries exactly as between two machines. Each peer sends the camera and
//! microphone when there are any, a test pattern and a tone otherwise; they chat, the
//! caller sends a file, and the callee records what it receives.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::process::Command;

async fn own_id(exe: &PathBuf, profile: &PathBuf) -> Result<String> {
    let out = Command::new(exe)
        .arg("--profile")
        .arg(profile)
        .arg("id")
        .output()
        .await?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let text = String::from_utf8(out.stdout)?;
    Ok(text.lines().last().unwrap_or_default().trim().to_owned())
}

/// Runs the demo for `duration_s` seconds, keeping profiles and recordings in `dir`
/// (or a temporary folder).
pub async fn run(duration_s: f64, dir: Option<PathBuf>) -> Result<()> {
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("parley-demo-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir)?;
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let server = parley_signal::start(parley_signal::ServerConfig {
        listen: "127.0.0.1:0".parse()?,
        ..Default::default()
    })
    .await?;
    let url = server.url();
    println!("signaling server: {url}");
    let (alice, bob) = (dir.join("alice"), dir.join("bob"));
    let bob_id = own_id(&exe, &bob).await?;
    own_id(&exe, &alice).await?;
    let note = dir.join("hello-from-alice.txt");
    std::fs::write(
        &note,
        "Hello from Parley's demo: this file crossed a WebRTC data channel.\n",
    )?;
    let received = dir.join("received");
    println!("bob ({bob_id}) waits; alice calls for {duration_s} s");

    let mut answer = Command::new(&exe)
        .args(["--server", &url, "--profile"])
        .arg(&bob)
        .args(["answer", "--stats", "--chat", "Hi Alice, Bob here."])
        .arg("--record-video")
        .arg(dir.join("bob-received.y4m"))
        .arg("--record-audio")
        .arg(dir.join("bob-received.wav"))
        .arg("--receive-dir")
        .arg(&received)
        .stdout(Stdio::piped())
        .spawn()?;
    // Give the answerer a moment to log in before the invite.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let caller = Command::new(&exe)
        .args(["--server", &url, "--profile"])
        .arg(&alice)
        .args(["call", &bob_id, "--stats", "--chat", "Hi Bob, it's Alice!"])
        .args(["--duration", &duration_s.to_string()])
        .arg("--send-file")
        .arg(&note)
        .output()
        .await?;
    let answer_out = tokio::time::timeout(Duration::from_secs(10), answer.wait())
        .await
        .context("the answering peer did not exit")??;
    let mut bob_stdout = String::new();
    if let Some(mut out) = answer.stdout.take() {
        use tokio::io::AsyncReadExt;
        out.read_to_string(&mut bob_stdout).await?;
    }
    println!(
        "--- alice (caller) ---\n{}",
        String::from_utf8_lossy(&caller.stdout).trim()
    );
    println!("--- bob (callee) ---\n{}", bob_stdout.trim());
    server.shutdown().await;
    if !caller.status.success() || !answer_out.success() {
        bail!(
            "the demo call failed: {}",
            String::from_utf8_lossy(&caller.stderr).trim()
        );
    }
    println!("recordings and the received file are in {}", dir.display());
    Ok(())
}
