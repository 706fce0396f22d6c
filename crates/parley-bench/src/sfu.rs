//! Group calls through the SFU: six members in a private Janus VideoRoom, each
//! publishing the recorded clip (320x180 at 15 frames/s) and speech once and
//! receiving the five others from Janus, with the engine's own SFU publisher
//! and subscriber (`parley_engine::call::sfu`). Reference in the same run: a
//! mesh of six `parley-cli` processes (mesh.rs), every member sending to five.
//!
//! Janus never offers loopback candidates, so the SFU part runs in a network
//! namespace of its own (`pbench<pid>`, a veth pair at 198.51.100.1/24): this
//! binary builds it, runs itself there with `--sfu-inside`, and deletes it.
//! Needs root and Janus (Debian package `janus`).
//!
//! Per member: uplink and downlink, bits/s (bytes of its publisher and
//! subscriber peer connections over the measured window), and CPU, % of one
//! core (the bench process's CPU time, which holds all six members, divided by
//! six); Janus's CPU from /proc/PID/stat.
//!
//! Run: `cargo build --release -p parley-cli -p parley-bench &&
//! target/release/parley-bench --sfu --secs 10`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use parley_engine::call::sfu::{SfuGrant, SfuPublisher, SfuSubscriber};
use parley_engine::call::{AudioSink, RemoteSinks, TrackKind, VideoSink};
use parley_engine::media::{WavFileSource, Y4mFileSource};
use parley_engine::rtc::RtcConfig;
use parley_janus::{JanusClient, JanusConfig, JanusProcess};
use parley_proto::PeerId;
use serde_json::json;

use crate::proc_cpu_seconds;

/// Members of the SFU call and of the mesh reference.
pub const MEMBERS: usize = 6;
/// The namespace's address (Janus's ICE and every member's).
const NS_IP: &str = "198.51.100.1";
/// How long each peer connection may take to come up.
const CONNECT: Duration = Duration::from_secs(15);

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

/// The SFU call in its namespace, then the mesh reference; prints both and
/// their ratio.
pub fn run(cli: &Path, url: &str, secs: f64) -> Result<()> {
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
    ip(&[
        "-n",
        &ns.0,
        "addr",
        "add",
        &format!("{NS_IP}/24"),
        "dev",
        "veth0",
    ])?;
    ip(&["-n", &ns.0, "link", "set", "veth0", "up"])?;
    ip(&["-n", &ns.0, "link", "set", "veth1", "up"])?;
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(std::env::current_exe()?)
        .args(["--sfu-inside", NS_IP, "--secs", &secs.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .context("run the SFU part in the namespace")?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    ensure!(out.status.success(), "the SFU part failed");
    let figure = |key: &str| -> Result<f64> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("sfu-result "))
            .context("no sfu-result line")?;
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
            .with_context(|| format!("no {key} in {line}"))
    };
    let (up, cpu, janus) = (
        figure("uplink_bps")?,
        figure("cpu_pct")?,
        figure("janus_pct")?,
    );
    drop(ns);
    let mesh = crate::mesh::run(cli, url, secs, &[MEMBERS])?;
    let &(_, mesh_up, mesh_cpu) = mesh.first().context("no mesh figures")?;
    println!(
        "SFU N={MEMBERS} vs mesh N={MEMBERS}: uplink per member {:.2} vs {:.2} Mbit/s (x{:.2}); \
         CPU per member {cpu:.0} vs {mesh_cpu:.0} % of a core (x{:.2}); Janus {janus:.0} % of a core \
         (members and Janus together x{:.2} of the mesh)",
        up / 1e6,
        mesh_up / 1e6,
        up / mesh_up,
        cpu / mesh_cpu,
        (cpu * MEMBERS as f64 + janus) / (mesh_cpu * MEMBERS as f64)
    );
    Ok(())
}

/// Decoded media goes nowhere (the mesh's members do not record either).
struct Discard;

impl RemoteSinks for Discard {
    fn video(&mut self, _: &PeerId, _: TrackKind) -> Vec<Box<dyn VideoSink>> {
        Vec::new()
    }
    fn audio(&mut self, _: &PeerId) -> Vec<Box<dyn AudioSink>> {
        Vec::new()
    }
}

fn member_id(i: usize) -> PeerId {
    let key = ed25519_dalek::SigningKey::from_bytes(&[i as u8 + 1; 32]);
    PeerId::from_public_key(&key.verifying_key())
}

/// The SFU call, inside the namespace at `ip`: prints each member's figures and
/// one `sfu-result` line for [`run`].
pub async fn inside(ip: IpAddr, secs: f64) -> Result<()> {
    let clip = crate::mesh::media("chrome-320x180-15fps.y4m")?;
    let speech = crate::mesh::media("jfk.wav")?;
    let mut cfg = JanusConfig::new("127.0.0.1".parse()?, 0);
    cfg.ice_ip = Some(ip);
    let janus = JanusProcess::start(cfg).await?;
    let client = JanusClient::connect(janus.url()).await?;
    let admin = client.create_session().await?;
    let room = parley_janus::random_id();
    let pin = parley_janus::random_key();
    let tokens: Vec<String> = (0..MEMBERS).map(|_| parley_janus::random_key()).collect();
    admin
        .attach_videoroom()
        .await?
        .send(
            json!({"request": "create", "admin_key": janus.admin_key(), "room": room,
                   "pin": pin, "is_private": true, "publishers": 16, "videocodec": "h264",
                   "h264_profile": "42e01f", "audiocodec": "opus", "require_pvtid": true,
                   "allowed": tokens, "permanent": false}),
            None,
        )
        .await?;
    let rtc = RtcConfig::default();
    let feeds: Vec<u64> = (0..MEMBERS).map(|_| parley_janus::random_id()).collect();
    let mut sessions = Vec::new();
    let mut publishers = Vec::new();
    for i in 0..MEMBERS {
        let session = client.create_session().await?;
        let grant = SfuGrant {
            url: janus.url().to_owned(),
            room,
            pin: pin.clone(),
            token: tokens[i].clone(),
            feed: feeds[i],
        };
        let mut p = SfuPublisher::publish(&session, &grant, &rtc).await?;
        let video = Y4mFileSource::open(&clip, true)?;
        let audio = WavFileSource::open(&speech, true)?;
        p.send(
            Some(Box::new(video)),
            Some(Box::new(audio)),
            parley_engine::call::DEFAULT_VIDEO_BITRATE_BPS,
        );
        p.wait_connected(CONNECT).await?;
        sessions.push((session, grant));
        publishers.push(p);
    }
    let mut subscribers = Vec::new();
    for (i, (session, grant)) in sessions.iter().enumerate() {
        let others: Vec<(u64, PeerId)> = (0..MEMBERS)
            .filter(|&j| j != i)
            .map(|j| (feeds[j], member_id(j)))
            .collect();
        let private_id = publishers[i].private_id();
        let mut s =
            SfuSubscriber::subscribe(session, grant, private_id, &others, &rtc, Box::new(Discard))
                .await?;
        s.wait_connected(CONNECT).await?;
        subscribers.push(s);
    }
    // Every member receives frames before the window starts.
    let ready = Instant::now();
    while subscribers.iter().any(|s| s.frames_received() < 15) {
        if ready.elapsed() > CONNECT {
            bail!("not every member received frames from the SFU");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let janus_pid = janus.pid().to_string();
    let snapshot = |subscribers: &[SfuSubscriber]| {
        let frames: Vec<u64> = subscribers
            .iter()
            .map(SfuSubscriber::frames_received)
            .collect();
        let cpu = proc_cpu_seconds("self").unwrap_or(0.0);
        (frames, cpu, proc_cpu_seconds(&janus_pid).unwrap_or(0.0))
    };
    let mut bytes0 = HashMap::new();
    for (i, (p, s)) in publishers.iter().zip(&subscribers).enumerate() {
        bytes0.insert(i, (p.bytes_sent().await, s.bytes_received().await));
    }
    let (frames0, cpu0, janus0) = snapshot(&subscribers);
    let t0 = Instant::now();
    // The measured window: media flows on its own meanwhile.
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let (frames1, cpu1, janus1) = snapshot(&subscribers);
    let wall = t0.elapsed().as_secs_f64();
    let mut ups = Vec::new();
    println!(
        "SFU group call of {MEMBERS} through Janus for {secs} s, each sending the clip and speech:"
    );
    for (i, (p, s)) in publishers.iter().zip(&subscribers).enumerate() {
        let (sent0, recv0) = bytes0[&i];
        let up = (p.bytes_sent().await - sent0) as f64 * 8.0 / wall;
        let down = (s.bytes_received().await - recv0) as f64 * 8.0 / wall;
        let fps = (frames1[i] - frames0[i]) as f64 / wall / (MEMBERS - 1) as f64;
        println!(
            "  member {i}: uplink {:.2} Mbit/s, downlink {:.2} Mbit/s, {fps:.1} frames/s decoded per other member",
            up / 1e6,
            down / 1e6
        );
        ups.push(up);
    }
    let up = ups.iter().sum::<f64>() / ups.len() as f64;
    let cpu = (cpu1 - cpu0) / wall * 100.0 / MEMBERS as f64;
    let janus_pct = (janus1 - janus0) / wall * 100.0;
    println!(
        "SFU N={MEMBERS}: uplink per member {:.2} Mbit/s, CPU per member {cpu:.0} % of a core, Janus {janus_pct:.0} % of a core",
        up / 1e6
    );
    println!("sfu-result uplink_bps={up} cpu_pct={cpu} janus_pct={janus_pct}");
    for s in subscribers {
        s.close().await;
    }
    for p in publishers {
        p.close().await;
    }
    Ok(())
}
