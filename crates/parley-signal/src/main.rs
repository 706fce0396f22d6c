//! `parley-signal`: the Parley signaling server as a standalone binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use parley_signal::{FileConfig, ServerConfig};

/// Parley signaling server: authenticates peers, tracks presence and relays call
/// setup over WebSocket (GET /ws); GET /healthz answers "ok".
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on, e.g. 0.0.0.0:8443 [default: 127.0.0.1:8443].
    #[arg(long, env = "PARLEY_SIGNAL_LISTEN")]
    listen: Option<SocketAddr>,
    /// TOML file with any of: listen, max_frame_bytes, rate_limit_per_sec,
    /// rate_burst. Command-line flags and environment override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let mut config = ServerConfig::default();
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let file = FileConfig::parse(&text).with_context(|| format!("in {}", path.display()))?;
        config = file.apply(config);
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }

    let server = parley_signal::start(config).await?;
    println!("listening on {}", server.url());
    wait_for_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot install SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    Ok(())
}
