//! `parley-signal`: the Parley signaling server as a standalone binary.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use parley_janus::{JanusConfig, JanusProcess};
use parley_signal::sfu::{JanusSfu, Sfu};
use parley_signal::{FileConfig, ServerConfig, TurnSecret, DEFAULT_SFU_FROM};

/// Parley signaling server: authenticates peers, tracks presence and relays call
/// setup over WebSocket (GET /ws); GET /healthz answers "ok".
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on, e.g. 0.0.0.0:8443 [default: 127.0.0.1:8443].
    #[arg(long, env = "PARLEY_SIGNAL_LISTEN")]
    listen: Option<SocketAddr>,
    /// TOML file with any of: listen, max_frame_bytes, rate_limit_per_sec,
    /// rate_burst, stun_urls, turn_urls, turn_secret, turn_ttl_secs,
    /// call_grace_secs, ring_timeout_secs, max_connections_per_ip,
    /// max_failed_auths_per_ip, tls_cert, tls_key, sfu, sfu_from, janus_ice_ip,
    /// janus_bin. Command-line flags and environment override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A STUN server clients should use, e.g. stun:turn.example.org:3478
    /// (repeatable; env: comma-separated).
    #[arg(
        long = "stun-url",
        value_name = "URL",
        env = "PARLEY_STUN_URLS",
        value_delimiter = ','
    )]
    stun_urls: Vec<String>,
    /// A TURN server clients should use, e.g. turn:turn.example.org:3478,
    /// turn:turn.example.org:3478?transport=tcp or turns:turn.example.org:5349
    /// (repeatable; env: comma-separated). Needs --turn-secret.
    #[arg(
        long = "turn-url",
        value_name = "URL",
        env = "PARLEY_TURN_URLS",
        value_delimiter = ','
    )]
    turn_urls: Vec<String>,
    /// The secret shared with the TURN server (coturn's static-auth-secret): each
    /// client gets a short-lived username and password derived from it.
    #[arg(
        long,
        value_name = "SECRET",
        env = "PARLEY_TURN_SECRET",
        hide_env_values = true
    )]
    turn_secret: Option<String>,
    /// Lifetime of issued TURN credentials, seconds [default: 43200 = 12 h];
    /// clients get fresh ones at half of it.
    #[arg(long, value_name = "SECS", env = "PARLEY_TURN_TTL_SECS")]
    turn_ttl_secs: Option<u64>,
    /// How long a disconnected peer's calls wait for it to reconnect, seconds
    /// [default: 30].
    #[arg(long, value_name = "SECS", env = "PARLEY_CALL_GRACE_SECS")]
    call_grace_secs: Option<u64>,
    /// How long an unanswered invite rings before the server ends it, seconds
    /// [default: 60].
    #[arg(long, value_name = "SECS", env = "PARLEY_RING_TIMEOUT_SECS")]
    ring_timeout_secs: Option<u64>,
    /// Most open connections per IP address, 0 = unlimited [default: 256].
    #[arg(long, value_name = "N", env = "PARLEY_MAX_CONNECTIONS_PER_IP")]
    max_connections_per_ip: Option<u32>,
    /// Failed sign-ins per IP address per minute before it is refused for the rest
    /// of the minute, 0 = unlimited [default: 20].
    #[arg(long, value_name = "N", env = "PARLEY_MAX_FAILED_AUTHS_PER_IP")]
    max_failed_auths_per_ip: Option<u32>,
    /// PEM certificate chain: serve wss:// and https:// (with --tls-key).
    #[arg(
        long,
        value_name = "FILE",
        env = "PARLEY_TLS_CERT",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(
        long,
        value_name = "FILE",
        env = "PARLEY_TLS_KEY",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Run group calls through an SFU: `janus` starts a private Janus
    /// (VideoRoom over WebSocket) on the --listen IP, at a free port. Janus
    /// then sees those calls' media (chat and files stay end to end).
    #[arg(long, value_name = "KIND", env = "PARLEY_SFU", value_parser = ["janus"])]
    sfu: Option<String>,
    /// With --sfu: members (invited ones included, 2 to 16) from which a call
    /// runs through the SFU; 2 = every call [default: 5].
    #[arg(long, value_name = "N", env = "PARLEY_SFU_FROM")]
    sfu_from: Option<usize>,
    /// With --sfu janus: the only address Janus offers ICE candidates for
    /// [default: the --listen IP].
    #[arg(long, value_name = "IP", env = "PARLEY_JANUS_ICE_IP")]
    janus_ice_ip: Option<IpAddr>,
    /// With --sfu janus: the Janus program [default: janus, from PATH].
    #[arg(long, value_name = "PATH", env = "PARLEY_JANUS_BIN")]
    janus_bin: Option<PathBuf>,
    /// With --sfu janus: use the Janus already running at this WebSocket URL
    /// (`ws://HOST:PORT/`, also the URL clients are given) instead of starting
    /// one; needs --janus-admin-key.
    #[arg(
        long,
        value_name = "URL",
        env = "PARLEY_JANUS_URL",
        requires = "janus_admin_key"
    )]
    janus_url: Option<String>,
    /// With --janus-url: that Janus's VideoRoom `admin_key` (it creates rooms).
    #[arg(
        long,
        value_name = "KEY",
        env = "PARLEY_JANUS_ADMIN_KEY",
        requires = "janus_url"
    )]
    janus_admin_key: Option<String>,
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

    let file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            FileConfig::parse(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => FileConfig::default(),
    };
    let mut config = file.apply(ServerConfig::default());
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if !args.stun_urls.is_empty() {
        config.ice.stun_urls = args.stun_urls;
    }
    if !args.turn_urls.is_empty() {
        config.ice.turn_urls = args.turn_urls;
    }
    if let Some(secret) = args.turn_secret {
        config.ice.turn_secret = Some(TurnSecret(secret));
    }
    if let Some(secs) = args.call_grace_secs {
        config.call_grace = std::time::Duration::from_secs(secs);
    }
    if let Some(secs) = args.ring_timeout_secs {
        config.ring_timeout = std::time::Duration::from_secs(secs);
    }
    if let Some(n) = args.max_connections_per_ip {
        config.max_connections_per_ip = n;
    }
    if let Some(n) = args.max_failed_auths_per_ip {
        config.max_failed_auths_per_ip = n;
    }
    if args.tls_cert.is_some() {
        config.tls_cert = args.tls_cert;
        config.tls_key = args.tls_key;
    }
    if let Some(secs) = args.turn_ttl_secs {
        config.ice.turn_ttl = std::time::Duration::from_secs(secs);
    }

    let settings = SfuSettings {
        kind: args.sfu.or(file.sfu),
        from: args.sfu_from.or(file.sfu_from).unwrap_or(DEFAULT_SFU_FROM),
        ice_ip: args.janus_ice_ip.or(file.janus_ice_ip),
        bin: args.janus_bin.or(file.janus_bin),
        existing: args.janus_url.zip(args.janus_admin_key),
    };
    let (sfu, janus) = match start_sfu(settings, config.listen.ip()).await? {
        Some((sfu, from, janus)) => (Some((sfu, from)), janus),
        None => (None, None),
    };
    let mut server = parley_signal::start_with_sfu(config, sfu).await?;
    println!("listening on {}", server.url());
    if let Some(janus) = janus {
        println!("sfu janus pid {} url {}", janus.pid(), janus.url());
        server.keep_alive(janus);
    }
    wait_for_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// The SFU settings: flags (and environment) over the configuration file.
struct SfuSettings {
    /// `--sfu`: `"janus"`, or `None` for no SFU.
    kind: Option<String>,
    /// `--sfu-from`: members from which a call runs through the SFU.
    from: usize,
    /// `--janus-ice-ip`: Janus's only ICE address; `None` = the listen IP.
    ice_ip: Option<IpAddr>,
    /// `--janus-bin`: the Janus program; `None` = `janus` from `PATH`.
    bin: Option<PathBuf>,
    /// `--janus-url` and `--janus-admin-key`: a Janus already running.
    existing: Option<(String, String)>,
}

/// Starts the SFU `settings` ask for: for `janus`, a private Janus whose
/// WebSocket API listens on `listen_ip` at a free port (clients are given that
/// URL too), and a connection to it; or with `--janus-url`, a connection to that
/// Janus. Returns the SFU, `sfu_from` and the Janus process started (kept by the
/// server handle); `None` without `--sfu`.
///
/// Errors: an unknown SFU kind, `--sfu-from` outside 2..=16, Janus not starting
/// (with the end of its log) or not answering.
async fn start_sfu(
    settings: SfuSettings,
    listen_ip: IpAddr,
) -> anyhow::Result<Option<(Box<dyn Sfu>, usize, Option<JanusProcess>)>> {
    let Some(kind) = settings.kind else {
        return Ok(None);
    };
    anyhow::ensure!(
        kind == "janus",
        "unknown sfu {kind:?} (the one known: janus)"
    );
    let max = parley_proto::MAX_CALL_MEMBERS;
    anyhow::ensure!(
        (2..=max).contains(&settings.from),
        "--sfu-from must be 2 to {max}, not {}",
        settings.from
    );
    if let Some((url, admin_key)) = settings.existing {
        let sfu = JanusSfu::connect(&url, admin_key, url.clone())
            .await
            .with_context(|| format!("cannot use the Janus at {url} (--janus-url)"))?;
        tracing::info!(%url, "group calls go through the Janus at --janus-url");
        let sfu: Box<dyn Sfu> = Box::new(sfu);
        return Ok(Some((sfu, settings.from, None)));
    }
    let mut janus_config = JanusConfig::new(listen_ip, 0);
    janus_config.ice_ip = settings.ice_ip;
    if let Some(bin) = settings.bin {
        janus_config.program = bin;
    }
    let janus = JanusProcess::start(janus_config)
        .await
        .context("cannot start Janus (--sfu janus)")?;
    let url = janus.url().to_owned();
    let sfu = JanusSfu::connect(&url, janus.admin_key().to_owned(), url.clone())
        .await
        .with_context(|| format!("cannot use the Janus started at {url}"))?;
    let sfu: Box<dyn Sfu> = Box::new(sfu);
    Ok(Some((sfu, settings.from, Some(janus))))
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
