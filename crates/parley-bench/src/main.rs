//! `parley-bench`: one run on loopback prints raw data-channel throughput, file
//! transfer throughput disk to disk through our protocol, their ratio, plain TCP as
//! the ceiling, and call setup time (accept → first decoded remote frame, median of
//! N calls through the real server and two `parley-cli` processes), and the chat
//! round trip idle and while a file streams on the same connection.
//!
//! Build and run optimised: `cargo build --release -p parley-cli -p parley-bench &&
//! target/release/parley-bench`. `--screen` runs the screen-share benchmark instead
//! (1920x1080 capture + encode); `--fuzz N` fuzzes every parser of network bytes
//! with N inputs; `--signal-load` loads the signaling server (10,000 idle
//! clients, 1,000 calling in pairs, a flooder); `--mesh` runs mesh group calls of
//! 2, 3 and 4 `parley-cli` processes and compares uplink and CPU per member with
//! N = 2 (see mesh.rs); `--sfu` runs, in one run and through one `parley-signal
//! --sfu janus` in a network namespace (as root, with Janus), mesh calls of 2, 3
//! and 4 `parley-cli` processes and a call of six that the server puts through
//! Janus, and prints uplink, CPU and frames per member, the servers' CPU and the
//! ratios against N = 2 (see sfu/); `--setup` measures data channel open and a
//! 1280x720 call's setup against headless Chromium in the same run
//! (versus_chromium.rs; `scripts/bench-setup.sh` once first); `--convert N`
//! times the camera's RGB → I420 conversion against the scalar loop it
//! replaced; `--camera-quality` the 1280x720 footage's PSNR at 800 kbit/s and
//! at the camera's default ceiling (quality.rs); `--one-way SECS` a one-way 1280x720 call's CPU against Chromium's,
//! its glass-to-glass latency and the peers' memory; `--transfer-rss GIB` the
//! peers' memory over a GIB GiB transfer (peer_cost.rs). Results go to
//! BENCHMARKS.md.

mod chat_latency;
mod convert;
mod fuzz;
mod group;
mod mesh;
mod pair;
mod peer_cost;
mod quality;
mod screen;
mod setup;
mod sfu;
mod signal_load;
mod throughput;
mod versus_chromium;

use std::process::Child;

/// mimalloc, not glibc's malloc: a tenth less CPU for a data channel
/// (BENCHMARKS.md, "File transfer: what bounds it").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result};
use clap::Parser;

/// Command line.
#[derive(Parser)]
struct Args {
    /// Bytes per throughput test, MiB.
    #[arg(long, default_value_t = 256)]
    mib: u64,
    /// Rounds of the raw data channel and the file transfer, run in turn; the
    /// figures printed are the medians (the ratio: of each round's own).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Calls for the setup-time median.
    #[arg(long, default_value_t = 10)]
    calls: usize,
    /// Skip the call-setup part (no parley-cli needed).
    #[arg(long)]
    no_calls: bool,
    /// Data channels' send buffer (bytes queued or unacknowledged before a send
    /// waits) for the throughput and chat parts, KiB; default: the engine's.
    #[arg(long, value_name = "KIB")]
    send_buffer_kib: Option<usize>,
    /// The SCTP receive window each peer advertises for the throughput and
    /// chat parts, KiB; default: the engine's.
    #[arg(long, value_name = "KIB")]
    sctp_window_kib: Option<usize>,
    /// Run only the screen-share benchmark (1920x1080 capture + encode under its own
    /// Xvfb).
    #[arg(long)]
    screen: bool,
    /// Frames per screen-share measurement.
    #[arg(long, default_value_t = 90)]
    screen_frames: u32,
    /// Only fuzz every parser of network bytes with this many inputs in all
    /// (10000000 for the figure in BENCHMARKS.md).
    #[arg(long, value_name = "INPUTS")]
    fuzz: Option<u64>,
    /// Only load the signaling server (the `parley-signal` binary next to this
    /// one): idle clients, calling pairs, a flooder.
    #[arg(long)]
    signal_load: bool,
    /// Idle signed-in clients for --signal-load.
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// Calling pairs for --signal-load (2 clients each).
    #[arg(long, default_value_t = 500)]
    pairs: usize,
    /// Frames per second offered by all pairs together, for --signal-load.
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
    /// Seconds of each calling run, for --signal-load; seconds of each group
    /// call, for --mesh and --sfu.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Only run mesh group calls of 2, 3 and 4 `parley-cli` processes (the one
    /// next to this binary) and compare uplink and CPU per member with N = 2.
    #[arg(long)]
    mesh: bool,
    /// Only run, through one `parley-signal --sfu janus --sfu-from 5` (the one
    /// next to this binary) in a network namespace (needs root and Janus), mesh
    /// calls of 2, 3 and 4 `parley-cli` processes and a call of six through
    /// Janus, and compare uplink and CPU per member with N = 2 (sfu/).
    #[arg(long)]
    sfu: bool,
    /// Only measure connection setup against headless Chromium in the same run:
    /// data channel open (median of --dc-runs) and a 1280x720 call's setup
    /// (median of --calls); needs `scripts/bench-setup.sh` once.
    #[arg(long)]
    setup: bool,
    /// Only time a camera frame's RGB → I420 conversion at 1280x720, ours
    /// against the scalar loop it replaced, over this many frames.
    #[arg(long, value_name = "FRAMES")]
    convert: Option<usize>,
    /// Only encode the 1280x720 footage at 800 kbit/s and at the camera's
    /// default ceiling for its size, and print PSNR-Y, bitrate and encode time
    /// of each (needs `scripts/bench-setup.sh` once).
    #[arg(long)]
    camera_quality: bool,
    /// Only run a one-way 1280x720 30 frames/s call on real footage for this
    /// many seconds, and Chromium the same: CPU of both peers against
    /// Chromium's, glass-to-glass latency, peak RSS (needs
    /// `scripts/bench-setup.sh` once).
    #[arg(long, value_name = "SECS")]
    one_way: Option<f64>,
    /// Only send a file of this many GiB between two `parley-cli` processes
    /// and print their RSS over the transfer.
    #[arg(long, value_name = "GIB")]
    transfer_rss: Option<u64>,
    /// Data channel opens for --setup's median.
    #[arg(long, default_value_t = 20)]
    dc_runs: usize,
    /// The benchmark of --sfu, run by --sfu itself inside its namespace, whose
    /// address this is.
    #[arg(long, hide = true, value_name = "IP")]
    sfu_inside: Option<std::net::IpAddr>,
}

/// Kills the child on drop (and reaps it).
pub(crate) struct Guard(pub(crate) Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// CPU time (user + system) of process `pid` (a number, or `self`), from
/// /proc/PID/stat, in seconds; `None` when it cannot be read (the process is gone,
/// or this is not Linux).
pub(crate) fn proc_cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at ") ".
    let (_, rest) = stat.rsplit_once(") ")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    // utime and stime are fields 14 and 15 (1-based), 11 and 12 here; 100 ticks/s.
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// The real signaling server, in-process on 127.0.0.1:0.
async fn local_server() -> Result<parley_signal::ServerHandle> {
    Ok(parley_signal::start(parley_signal::ServerConfig {
        listen: "127.0.0.1:0".parse()?,
        ..Default::default()
    })
    .await?)
}

/// The binary `name` built next to this one.
///
/// Errors: it is not there (build it with `cargo build --release -p <crate>`).
fn sibling(name: &str) -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .context("exe dir")?
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(
        path.exists(),
        "{} not built (cargo build --release -p {name})",
        path.display()
    );
    Ok(path)
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// `--setup`: Parley's data channel open and 1280x720 call setup, each next to
/// Chromium's from the same run and the ratio, one line each.
///
/// Errors: any figure could not be measured.
async fn setup_versus_chromium(dc_runs: usize, calls: usize) -> Result<()> {
    use versus_chromium::median_f;
    let footage = versus_chromium::footage()?;
    let cli = sibling("parley-cli")?;
    let chromium = {
        let footage = footage.clone();
        tokio::task::spawn_blocking(move || versus_chromium::chromium(&footage, dc_runs, calls))
            .await??
    };
    let ours = versus_chromium::parley_dc_open_ms(dc_runs).await?;
    let (p, c) = (
        median_f(ours.clone()),
        median_f(chromium.dc_open_ms.clone()),
    );
    println!(
        "data channel open, create offer → open: Parley median {p:.1} ms, Chromium {c:.1} ms, ratio {:.2} (target ≤ 1.0 and ≤ 10 ms; {dc_runs} runs each)",
        p / c
    );
    let server = local_server().await?;
    let url = server.url();
    let video = footage.to_string_lossy().into_owned();
    let times = tokio::task::spawn_blocking(move || {
        setup::call_setup_ms(&cli, &url, calls, &["--video-file", &video])
    })
    .await??;
    server.shutdown().await;
    let p = median(times.clone()) as f64;
    let c = median_f(chromium.call_setup_ms.clone());
    println!(
        "call setup, 1280x720 footage: Parley median {p:.0} ms (accept → first decoded frame) {times:?}, Chromium {c:.0} ms (createOffer → first frame, {}x{}), ratio {:.2} (target ≤ 0.5)",
        chromium.width,
        chromium.height,
        p / c
    );
    Ok(())
}

const MB: f64 = 1e6;

/// `--one-way`: one call of Parley and one of Chromium on the same footage for
/// the same time; CPU, latency and memory, one line each.
///
/// Errors: any figure could not be measured.
async fn one_way_versus_chromium(secs: f64) -> Result<()> {
    let footage = versus_chromium::footage()?;
    let cli = sibling("parley-cli")?;
    // Chromium twice: held at 1280x720 (maintain-resolution: the
    // like-for-like reference), and on its own (it scales the picture down
    // while its estimate ramps up).
    let mut chromium = Vec::new();
    for hold in [true, false] {
        let footage = footage.clone();
        chromium.push(
            tokio::task::spawn_blocking(move || {
                versus_chromium::chromium_cpu(&footage, secs, hold)
            })
            .await??,
        );
    }
    let server = local_server().await?;
    let url = server.url();
    let cost =
        tokio::task::spawn_blocking(move || peer_cost::one_way_call(&cli, &url, &footage, secs))
            .await??;
    server.shutdown().await;
    let [caller, callee] = &cost.samples;
    let ours = caller.cpu_secs + callee.cpu_secs;
    let kbit_s = |bytes: u64, s: f64| bytes as f64 * 8.0 / s / 1000.0;
    let describe = |c: &versus_chromium::ChromiumCpu| {
        format!(
            "{:.2} s ({:.1} s from the first frame, {} frames decoded, {} {}x{} at the end, sizes seen {}, {:.0} kbit/s)",
            c.cpu_secs,
            c.secs,
            c.frames_decoded,
            c.codec,
            c.width,
            c.height,
            c.sizes.join(" "),
            kbit_s(c.bytes, c.secs)
        )
    };
    let ratio = |c: &versus_chromium::ChromiumCpu| ours / c.cpu_secs * c.secs / secs;
    println!(
        "CPU, one-way 1280x720 30 frames/s call on footage, both peers: Parley {ours:.2} s ({:.2} + {:.2}, whole processes, {secs} s call, {} frames decoded, {:.0} kbit/s), Chromium at 1280x720 {}, ratio {:.2} (target ≤ 0.8)",
        caller.cpu_secs,
        callee.cpu_secs,
        cost.frames,
        kbit_s(cost.bytes, secs),
        describe(&chromium[0]),
        ratio(&chromium[0]),
    );
    println!(
        "CPU, the same against Chromium scaling its picture down: Chromium {}, ratio {:.2}",
        describe(&chromium[1]),
        ratio(&chromium[1]),
    );
    let (median, p95, n) = cost.latency_ms;
    println!(
        "glass-to-glass latency, capture → decoded frame at the sink: median {median:.0} ms, p95 {p95:.0} ms, {n} frames (target median ≤ 50 ms)"
    );
    println!(
        "RSS during the call, peak: caller {:.1} MB, callee {:.1} MB (target ≤ 150 MB)",
        caller.peak() as f64 / MB,
        callee.peak() as f64 / MB
    );
    Ok(())
}

/// `--transfer-rss`: each peer's RSS early in a `gib` GiB transfer, at its
/// peak and at the end.
///
/// Errors: the transfer failed.
async fn transfer_memory(gib: u64) -> Result<()> {
    let cli = sibling("parley-cli")?;
    let server = local_server().await?;
    let url = server.url();
    let dir = tempfile::tempdir_in(".")?;
    let path = dir.path().to_path_buf();
    let bytes = gib << 30;
    let rss =
        tokio::task::spawn_blocking(move || peer_cost::transfer_rss(&cli, &url, bytes, &path))
            .await??;
    server.shutdown().await;
    for (who, s) in ["sender", "receiver"].iter().zip(&rss.samples) {
        let early = s.rss.get(s.rss.len() / 10).copied().unwrap_or(0);
        println!(
            "RSS over a {gib} GiB transfer, {who}: {:.1} MB at 10 %, peak {:.1} MB, last {:.1} MB ({} samples; target ≤ 150 MB, flat)",
            early as f64 / MB,
            s.peak() as f64 / MB,
            s.rss.last().copied().unwrap_or(0) as f64 / MB,
            s.rss.len()
        );
        let at = |pct: usize| {
            s.rss
                .get((s.rss.len() * pct / 100).min(s.rss.len().saturating_sub(1)))
        };
        let course: Vec<String> = [10, 25, 50, 75, 100]
            .iter()
            .map(|&p| format!("{p} %: {:.1}", at(p).copied().unwrap_or(0) as f64 / MB))
            .collect();
        println!("  {who}'s RSS over the transfer, MB: {}", course.join(", "));
    }
    println!(
        "throughput, processes started → file arrived: {:.1} MB/s",
        rss.mb_s
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(total) = args.fuzz {
        return fuzz::run(total);
    }
    if args.signal_load {
        let plan = signal_load::LoadPlan {
            idle: args.idle,
            pairs: args.pairs,
            rate: args.rate,
            duration: std::time::Duration::from_secs_f64(args.secs),
        };
        return signal_load::run(&sibling("parley-signal")?, plan).await;
    }
    if args.screen {
        let frames = args.screen_frames;
        return tokio::task::spawn_blocking(move || screen::run(frames)).await?;
    }
    if let Some(ip) = args.sfu_inside {
        let cli = sibling("parley-cli")?;
        let (signal, secs) = (sibling("parley-signal")?, args.secs);
        return tokio::task::spawn_blocking(move || sfu::inside(&signal, &cli, ip, secs)).await?;
    }
    if args.sfu {
        // Both are run inside the namespace: fail before building it.
        sibling("parley-cli")?;
        sibling("parley-signal")?;
        let secs = args.secs;
        return tokio::task::spawn_blocking(move || sfu::run(secs)).await?;
    }
    if args.mesh {
        let cli = sibling("parley-cli")?;
        let server = local_server().await?;
        let (url, secs) = (server.url(), args.secs);
        let result = tokio::task::spawn_blocking(move || mesh::run(&cli, &url, secs)).await?;
        server.shutdown().await;
        return result;
    }
    if let Some(frames) = args.convert {
        return convert::run(frames.max(1));
    }
    if args.camera_quality {
        return quality::run();
    }
    if args.setup {
        return setup_versus_chromium(args.dc_runs, args.calls).await;
    }
    if let Some(secs) = args.one_way {
        return one_way_versus_chromium(secs).await;
    }
    if let Some(gib) = args.transfer_rss {
        return transfer_memory(gib).await;
    }
    if let Some(kib) = args.sctp_window_kib {
        // Below one 64 KiB message, a full-size message cannot be reassembled.
        anyhow::ensure!(kib >= 64, "--sctp-window-kib must be at least 64");
        let _ = pair::SCTP_WINDOW_BYTES.set(kib * 1024);
    }
    if let Some(kib) = args.send_buffer_kib {
        let _ = pair::SEND_BUFFER_BYTES.set(kib * 1024);
    }
    let total = args.mib * 1024 * 1024;
    let tcp = throughput::tcp_loopback(total).await?;
    println!("tcp loopback (ceiling):        {tcp:8.1} MB/s");
    let dir = tempfile::tempdir()?;
    let src = dir.path().join("bench-src.bin");
    throughput::random_file(&src, total)?;
    // Raw and file in turn, so a slow spell of the machine hits both.
    let (mut raws, mut walls, mut streams, mut ratios) = (vec![], vec![], vec![], vec![]);
    let (mut raw_cpus, mut file_cpus) = (vec![], vec![]);
    for round in 1..=args.rounds.max(1) {
        let r = throughput::raw_data_channel(total).await?;
        let raw = r.mb_s;
        let file = throughput::file_transfer(&src, total, dir.path()).await?;
        if args.rounds > 1 {
            println!(
                "  round {round}: raw {raw:6.1} MB/s, file {:6.1} MB/s, ratio {:.2}; CPU raw {:.2} s/GB, file {:.2} s/GB",
                file.wall_mb_s,
                file.wall_mb_s / raw,
                r.cpu_s_per_gb,
                file.cpu_s_per_gb,
            );
        }
        raw_cpus.push(r.cpu_s_per_gb);
        file_cpus.push(file.cpu_s_per_gb);
        raws.push(raw);
        walls.push(file.wall_mb_s);
        streams.push(file.stream_mb_s);
        ratios.push(file.wall_mb_s / raw);
    }
    let of = if args.rounds > 1 {
        format!(", median of {} rounds", args.rounds)
    } else {
        String::new()
    };
    let raw = versus_chromium::median_f(raws);
    println!(
        "raw data channel (64 KiB msgs): {raw:8.1} MB/s   ({:.2} of TCP{of})",
        raw / tcp
    );
    println!(
        "file transfer disk to disk:     {:8.1} MB/s   (offer → verified, read once, BLAKE3 while sent{of})",
        versus_chromium::median_f(walls)
    );
    println!(
        "file transfer, streaming part:  {:8.1} MB/s   (accept → complete{of})",
        versus_chromium::median_f(streams.clone())
    );
    println!(
        "ratio file / raw data channel:  {:8.2}   (streaming part: {:.2}{of})",
        versus_chromium::median_f(ratios),
        versus_chromium::median_f(streams) / raw
    );
    let (raw_cpu, file_cpu) = (
        versus_chromium::median_f(raw_cpus),
        versus_chromium::median_f(file_cpus),
    );
    println!(
        "CPU per GB, both peers:         raw {raw_cpu:.2} s, file {file_cpu:.2} s   (the file transfer's own work: {:.2} s/GB, {:.0} % more{of})",
        file_cpu - raw_cpu,
        (file_cpu / raw_cpu - 1.0) * 100.0
    );
    let chat = chat_latency::run(total, dir.path()).await?;
    println!(
        "chat round trip, idle:          p50 {:6.2} ms  p95 {:6.2} ms  ({} pings)",
        chat.idle.p50, chat.idle.p95, chat.idle.n
    );
    println!(
        "chat round trip, file streaming: p50 {:6.2} ms  p95 {:6.2} ms  ({} pings; {:.1} × idle p95; target p95 ≤ 50 ms; transfer {:.1} MB/s)",
        chat.busy.p50,
        chat.busy.p95,
        chat.busy.n,
        chat.busy.p95 / chat.idle.p95.max(0.001),
        chat.transfer_mb_s
    );
    if !args.no_calls {
        let cli = sibling("parley-cli")?;
        let server = local_server().await?;
        let url = server.url();
        let runs = args.calls;
        let times = tokio::task::spawn_blocking(move || {
            setup::call_setup_ms(&cli, &url, runs, setup::PATTERN)
        })
        .await??;
        println!(
            "call setup, accept → first decoded frame: median {} ms of {} calls {:?}",
            median(times.clone()),
            times.len(),
            times
        );
        server.shutdown().await;
    }
    Ok(())
}
