//! `parley-bench --setup`: connection setup against headless Chromium, measured
//! in the same run (issue 13):
//!
//! - data channel open, from creating the offer to the offerer's channel open,
//!   two peer connections in one process (Chromium: in one page), 127.0.0.1
//!   host candidates only, median of `--dc-runs`;
//! - call setup with a 1280x720 30 frames/s camera (real footage, a Y4M file):
//!   Parley from the callee's accept to the caller's first decoded remote frame,
//!   two `parley-cli` processes through the real signaling server; Chromium from
//!   createOffer to the first remote frame presented; median of `--calls`.
//!
//! Chromium's figures come from `scripts/chromium-reference.py`; the footage
//! and Chromium are installed and made by `scripts/bench-setup.sh`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use parley_engine::rtc::{PeerConnection, RtcConfig, RtcEvent};

/// Where `scripts/bench-setup.sh` puts the 1280x720 30 frames/s footage.
pub const FOOTAGE: &str = "target/bench-media/chrome-1280x720-30fps.y4m";

/// Chromium's figures from one run of the reference script.
#[derive(Debug, serde::Deserialize)]
pub struct Chromium {
    /// Data channel open times, ms.
    pub dc_open_ms: Vec<f64>,
    /// createOffer → first remote frame, ms.
    pub call_setup_ms: Vec<f64>,
    /// Size of the first remote frame, pixels.
    pub width: u32,
    /// Size of the first remote frame, pixels.
    pub height: u32,
}

/// Runs `scripts/chromium-reference.py` with `footage` as the fake camera.
///
/// Errors: Python or Chromium missing, or the page failed (the script's
/// message).
pub fn chromium(footage: &Path, dc_runs: usize, calls: usize) -> Result<Chromium> {
    let (dc_runs, calls) = (dc_runs.to_string(), calls.to_string());
    reference(footage, &["--dc-runs", &dc_runs, "--calls", &calls])
}

/// Runs `scripts/chromium-reference.py --y4m footage` with `args` and parses
/// its JSON line.
fn reference<T: serde::de::DeserializeOwned>(footage: &Path, args: &[&str]) -> Result<T> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/chromium-reference.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--y4m")
        .arg(footage)
        .args(args)
        .output()
        .context("running python3 scripts/chromium-reference.py")?;
    if !out.status.success() {
        bail!(
            "the Chromium reference failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let line = String::from_utf8(out.stdout)?;
    serde_json::from_str(line.trim()).context("the Chromium reference's output")
}

/// Chromium's CPU over a one-way call (`--cpu-secs`).
#[derive(Debug, serde::Deserialize)]
pub struct ChromiumCpu {
    /// CPU time of all its processes over the call, s (user + system).
    pub cpu_secs: f64,
    /// The call's length as measured, s.
    pub secs: f64,
    /// Frames the receiving peer connection decoded.
    pub frames_decoded: u64,
    /// Bytes it received on the selected candidate pair over the measured
    /// seconds (RTP, RTCP, STUN and DTLS, as Parley's figure counts).
    #[serde(default)]
    pub bytes: u64,
    /// The received frame sizes seen, sampled each second, e.g. `1280x720`.
    #[serde(default)]
    pub sizes: Vec<String>,
    /// Size of the last frame decoded, pixels.
    #[serde(default)]
    pub width: u32,
    /// Size of the last frame decoded, pixels.
    #[serde(default)]
    pub height: u32,
    /// The video codec, e.g. `video/VP8`.
    #[serde(default)]
    pub codec: String,
}

/// Runs `scripts/chromium-reference.py --cpu-secs secs` with `footage` as the
/// fake camera: one one-way call in one page. With `hold`, the sender's
/// degradation preference is `maintain-resolution` (W3C webrtc-pc §5.2), so
/// Chromium keeps sending the camera's 1280x720 where on its own it scales
/// the picture down while its bandwidth estimate ramps up.
///
/// Errors: as [`chromium`].
pub fn chromium_cpu(footage: &Path, secs: f64, hold: bool) -> Result<ChromiumCpu> {
    let secs = secs.to_string();
    let mut args = vec!["--cpu-secs", &secs];
    if hold {
        args.push("--hold-resolution");
    }
    reference(footage, &args)
}

/// One data channel open on loopback, ms: two fresh peer connections, from
/// creating the offer until both ends of the channel are open.
async fn parley_dc_open_once() -> Result<f64> {
    let cfg = RtcConfig {
        udp_bind: vec!["127.0.0.1:0".parse()?],
        ..Default::default()
    };
    let (a, mut a_ev) = PeerConnection::new(&cfg).await?;
    let (b, mut b_ev) = PeerConnection::new(&cfg).await?;
    let (dc, _rx) = a.create_data_channel("bench").await?;
    let t0 = Instant::now();
    let offer = a.create_offer(false).await?;
    let answer = b.answer_offer(&offer).await?;
    a.apply_answer(&answer).await?;
    let (a2, b2) = (a.clone(), b.clone());
    // Trickle both ways; b's channel arrives as an event.
    let forward_a = tokio::spawn(async move {
        while let Some(ev) = a_ev.recv().await {
            if let RtcEvent::LocalCandidate(c) = ev {
                let _ = b2.add_ice_candidate(c).await;
            }
        }
    });
    let b_open = async {
        while let Some(ev) = b_ev.recv().await {
            match ev {
                RtcEvent::LocalCandidate(c) => {
                    let _ = a2.add_ice_candidate(c).await;
                }
                RtcEvent::DataChannel(dc, _) => {
                    dc.wait_open().await?;
                    return Ok(());
                }
                _ => {}
            }
        }
        bail!("the answerer closed before its channel opened")
    };
    let (a_open, b_open): (_, Result<()>) = tokio::join!(dc.wait_open(), b_open);
    a_open?;
    b_open?;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    forward_a.abort();
    a.close().await;
    b.close().await;
    Ok(ms)
}

/// `runs` data channel opens (after one not counted), ms each.
pub async fn parley_dc_open_ms(runs: usize) -> Result<Vec<f64>> {
    parley_dc_open_once().await?;
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let ms = tokio::time::timeout(std::time::Duration::from_secs(20), parley_dc_open_once())
            .await
            .context("a data channel did not open within 20 s")??;
        out.push(ms);
    }
    Ok(out)
}

/// The median of `v` (not empty).
pub fn median_f(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The footage at [`FOOTAGE`] under the workspace.
///
/// Errors: not made yet (run `scripts/bench-setup.sh`).
pub fn footage() -> Result<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(FOOTAGE);
    anyhow::ensure!(
        path.exists(),
        "{} is missing: run scripts/bench-setup.sh first",
        path.display()
    );
    Ok(path)
}
