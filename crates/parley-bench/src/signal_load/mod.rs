//! Load on the signaling server (issue: a server that holds up under load): the
//! real `parley-signal` binary in its own process on 127.0.0.1, real WebSocket
//! clients signed in with their own keys.
//!
//! 1. `idle` clients sign in and stay: the server's RSS against the empty
//!    server's (measured first, same run).
//! 2. With those still connected, `pairs` pairs of clients run calls (invite,
//!    ringing, accept, offer, answer, candidates, end-of-candidates, hangup) at
//!    `rate` frames/s in all: relay latency p50/p99.
//! 3. The same again while one client floods the server: p50/p99 against step 2's.

mod client;
mod flood;
mod pairs;
mod server;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use pairs::Latencies;
use server::ServerProcess;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct LoadPlan {
    /// Idle signed-in clients.
    pub idle: usize,
    /// Calling pairs (2 clients each).
    pub pairs: usize,
    /// Frames per second offered by all pairs together.
    pub rate: f64,
    /// Length of each calling run.
    pub duration: Duration,
}

const MB: f64 = 1024.0 * 1024.0;

/// Runs the plan against `server_exe` (the `parley-signal` binary) and prints
/// the figures.
///
/// Errors: the open-file limit cannot be raised, the server does not start, or a
/// client's frames go missing.
pub async fn run(server_exe: &Path, plan: LoadPlan) -> Result<()> {
    let sockets = plan.idle + 2 * plan.pairs + 16;
    let limit = server::raise_open_file_limit(sockets as u64 + 256)?;
    let server = ServerProcess::start(server_exe, sockets)?;
    let empty_rss = server.rss_bytes()?;
    println!(
        "signaling load: parley-signal (pid of its own) on 127.0.0.1; open-file limit {limit}"
    );

    let started = Instant::now();
    let idle = pairs::connect_many(&server.url, 1_000_000, plan.idle).await?;
    let took = started.elapsed();
    let rss = server.rss_bytes()?;
    println!(
        "idle:     {} signed-in clients in {:.1} s ({:.0} sign-ins/s); server RSS {:.1} MB \
         (empty server {:.1} MB; {:.1} KB per client; target ≤ 200 MB)",
        idle.len(),
        took.as_secs_f64(),
        idle.len() as f64 / took.as_secs_f64(),
        rss as f64 / MB,
        empty_rss as f64 / MB,
        (rss.saturating_sub(empty_rss)) as f64 / 1024.0 / idle.len().max(1) as f64,
    );

    let calling = pairs::connect_pairs(&server.url, plan.pairs, 2_000_000).await?;
    let cpu0 = server.cpu_time()?;
    let (quiet, calling) = pairs::run(calling, plan.rate, plan.duration).await?;
    let cpu = server.cpu_time()?.saturating_sub(cpu0);
    print_latency("calls:   ", &quiet, plan, cpu);

    let flood = Arc::new(flood::Flood::default());
    let flooder = tokio::spawn(flood::run(
        server.url.clone(),
        3_000_000,
        Arc::clone(&flood),
    ));
    let cpu0 = server.cpu_time()?;
    let (loud, calling) = pairs::run(calling, plan.rate, plan.duration).await?;
    let cpu = server.cpu_time()?.saturating_sub(cpu0);
    flooder.abort();
    print_latency("flooded: ", &loud, plan, cpu);
    let secs = loud.wall.as_secs_f64();
    println!(
        "          the flooder wrote {} frames ({:.0}/s, into its socket's buffers), the server \
         read and answered {} ({:.0}/s: a burst of 200, then 50/s), {} reconnects; p50 {:.2} × and p99 \
         {:.2} × the quiet run's",
        flood.written.load(Ordering::Relaxed),
        flood.written.load(Ordering::Relaxed) as f64 / secs,
        flood.answered.load(Ordering::Relaxed),
        flood.answered.load(Ordering::Relaxed) as f64 / secs,
        flood.reconnects.load(Ordering::Relaxed),
        loud.quantile_ms(0.5) / quiet.quantile_ms(0.5),
        loud.quantile_ms(0.99) / quiet.quantile_ms(0.99),
    );
    println!(
        "server peak RSS {:.1} MB with {} clients",
        server.peak_rss_bytes()? as f64 / MB,
        idle.len() + 2 * calling.len()
    );
    drop(idle);
    drop(calling);
    Ok(())
}

fn print_latency(label: &str, l: &Latencies, plan: LoadPlan, cpu: Duration) {
    println!(
        "{label}{} pairs, {} calls, {} frames at {:.0}/s (offered {:.0}/s, {} sent late): relay \
         latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 ≤ 5 ms); server CPU {:.0}% of a core",
        plan.pairs,
        l.calls,
        l.samples_us.len(),
        l.rate(),
        plan.rate,
        l.late,
        l.quantile_ms(0.5),
        l.quantile_ms(0.99),
        l.quantile_ms(1.0),
        100.0 * cpu.as_secs_f64() / l.wall.as_secs_f64(),
    );
}
