//! Nearby (issue 16) from the command line, over `parley_engine::nearby`
//! (mDNS / DNS-SD, RFC 6762 / 6763):
//!
//! - `parley-cli nearby [--timeout SECS] [--watch]` listens for SECS (default
//!   3), then prints one line per Parley found on the local network:
//!   `nearby <id> <contact|stranger> <server url> <name>`; with `--watch` also
//!   each change as it happens (`appeared <id> <ms> <name>`, `vanished <id> <ms>`).
//! - `--server auto` with `call` / `answer`: no server configured. This machine
//!   runs the embedded signaling server (`--listen`, default `0.0.0.0:0`) and
//!   announces it (unless `--no-announce`). `answer` signs in to it; `call ID`
//!   looks for ID nearby (at most `--wait-online` seconds), prints
//!   `nearby found <id> at <url> after <ms> ms` on stderr and calls through
//!   the callee's server. An embedded server hands out no ICE servers: host
//!   candidates, a LAN path. That server is whoever announced it, so any SFU it
//!   offers is refused (`CallOptions::refuse_sfu`); the ICE servers it hands
//!   out are still used, unless `--ice-server` is given.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use parley_engine::nearby::{Nearby, NearbyConfig};
use parley_engine::storage::{keys, Profile};
use parley_proto::PeerId;

use crate::args::{CallArgs, NearbyArgs};
use crate::session;

/// The `--server` value that means "no server: find people nearby".
pub const AUTO: &str = "auto";

/// Where the embedded server listens by default: every IPv4 interface, a free
/// port (two peers on one machine each get their own).
const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// Longest wait for our embedded server to close its connections at the end.
const SERVER_STOP_WAIT: Duration = Duration::from_secs(2);

/// Longest `--timeout` / `--wait-online` taken: longer ones are cut to this.
const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// Whether `--server` asks for nearby mode (`auto`, any case).
pub fn is_auto(server: &str) -> bool {
    server.trim().eq_ignore_ascii_case(AUTO)
}

/// `s` seconds from the option `what`, at most [`MAX_WAIT`] (24 h). Errors:
/// negative, NaN or infinite.
fn seconds(what: &str, s: f64) -> Result<Duration> {
    if !(s.is_finite() && s >= 0.0) {
        bail!("{what} must be a number of seconds, 0 or more");
    }
    // Finite and not negative: only too large a number fails, and is cut.
    Ok(Duration::try_from_secs_f64(s).map_or(MAX_WAIT, |d| d.min(MAX_WAIT)))
}

/// [`Nearby::start`] off the async threads (the mDNS daemon starts a thread and
/// opens sockets).
async fn start_nearby(cfg: NearbyConfig) -> Result<Nearby> {
    tokio::task::spawn_blocking(move || Nearby::start(cfg))
        .await
        .context("nearby discovery")?
        .context("nearby discovery")
}

/// [`Nearby::shutdown`] (goodbye packets, waits for the daemon) off the async
/// threads.
async fn stop_nearby(nearby: Nearby) {
    let _ = tokio::task::spawn_blocking(move || nearby.shutdown()).await;
}

/// The display name the profile announces (setting `display_name`; empty if
/// unset).
fn display_name(profile: &Profile) -> String {
    profile
        .get_setting(keys::DISPLAY_NAME)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// `parley-cli nearby`: listens for `timeout_s` seconds (announcing nothing),
/// then prints on stdout, per Parley found, sorted by name then id:
/// `nearby <id> <contact|stranger> <server url> <name>` (single spaces; the
/// name, control characters removed, comes last and may be empty or hold
/// spaces). `contact`: the id is in this profile's contacts.
///
/// With `watch`, meanwhile prints each change as it happens: `appeared <id>
/// <ms> <name>` and `vanished <id> <ms>`, ms since discovery started.
pub async fn list(profile: &Profile, timeout_s: f64, watch: bool) -> Result<()> {
    let wait = seconds("--timeout", timeout_s)?;
    let nearby = start_nearby(NearbyConfig {
        me: profile.identity().id(),
        name: String::new(),
        server_port: 0,
        announce: false,
    })
    .await?;
    if watch {
        print_changes(&nearby, wait).await;
    } else {
        tokio::time::sleep(wait).await;
    }
    let peers = nearby.peers();
    stop_nearby(nearby).await;
    let contacts = profile.contacts().unwrap_or_default();
    if peers.is_empty() {
        eprintln!("no Parley found nearby within {timeout_s} s");
    }
    for p in peers {
        let who = if contacts.iter().any(|c| c.id == p.id) {
            "contact"
        } else {
            "stranger"
        };
        let line = format!("nearby {} {who} {} {}", p.id, p.server_url(), p.name);
        println!("{}", line.trim_end());
    }
    Ok(())
}

/// Prints who appears and vanishes nearby for `wait` (see [`list`]).
async fn print_changes(nearby: &Nearby, wait: Duration) {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + wait;
    let mut rx = nearby.watch();
    let mut seen: Vec<PeerId> = Vec::new();
    loop {
        let now: Vec<(PeerId, String)> = rx
            .borrow_and_update()
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect();
        let ms = started.elapsed().as_millis();
        for (id, name) in now.iter().filter(|(id, _)| !seen.contains(id)) {
            println!("{}", format!("appeared {id} {ms} {name}").trim_end());
        }
        for id in seen.iter().filter(|id| !now.iter().any(|(n, _)| n == *id)) {
            println!("vanished {id} {ms}");
        }
        seen = now.into_iter().map(|(id, _)| id).collect();
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => break,
        }
    }
}

/// This machine on the network in nearby mode: the embedded signaling server
/// and, unless `--no-announce`, our announcement of it.
struct Local {
    server: parley_signal::ServerHandle,
    /// The URL we sign in to our own server with (`ws://127.0.0.1:<port>/ws`).
    url: String,
    /// Discovery; `None` for an `answer` that does not announce.
    nearby: Option<Nearby>,
    /// When discovery started.
    started: Instant,
}

impl Local {
    /// Starts the server on `a.listen` and discovery, announcing unless
    /// `a.no_announce`; `browse`: start discovery even when not announcing.
    async fn start(profile: &Profile, a: &NearbyArgs, browse: bool) -> Result<Local> {
        let listen = a.listen.unwrap_or(DEFAULT_LISTEN);
        let (server, url) =
            parley_engine::client::start_embedded_server(listen, profile.identity().id())
                .await
                .with_context(|| format!("embedded server on {listen}"))?;
        let announce = !a.no_announce;
        eprintln!(
            "embedded server on {}{}",
            server.local_addr(),
            if announce { ", announced nearby" } else { "" }
        );
        let started = Instant::now();
        let nearby = if announce || browse {
            let cfg = NearbyConfig {
                me: profile.identity().id(),
                name: display_name(profile),
                server_port: server.local_addr().port(),
                announce,
            };
            Some(start_nearby(cfg).await?)
        } else {
            None
        };
        Ok(Local {
            server,
            url,
            nearby,
            started,
        })
    }

    /// Waits (at most `within_s` seconds) until `id` is found nearby; prints
    /// `nearby found <id> at <url> after <ms> ms` (ms since discovery started)
    /// on stderr and returns its server's URL.
    async fn find(&self, id: &PeerId, within_s: f64) -> Result<String> {
        let within = seconds("--wait-online", within_s)?;
        let nearby = self.nearby.as_ref().context("nearby discovery is off")?;
        let Some(peer) = nearby.wait_for(id, within).await else {
            bail!(
                "{id} is not on this network (no Parley found nearby with that id within {within_s} s)"
            );
        };
        let url = peer.server_url();
        let ms = self.started.elapsed().as_millis();
        eprintln!("nearby found {id} at {url} after {ms} ms");
        Ok(url)
    }

    /// Withdraws our announcement (goodbye packets), then stops the server.
    async fn stop(self) {
        let Local { server, nearby, .. } = self;
        if let Some(nearby) = nearby {
            stop_nearby(nearby).await;
        }
        let _ = tokio::time::timeout(SERVER_STOP_WAIT, server.shutdown()).await;
    }
}

/// `call ID` with `--server auto`: finds ID nearby and calls it through its own
/// server (see the module docs). Errors: ID not found in `--wait-online`
/// seconds, or as `session::call`.
pub async fn call(profile: Arc<Profile>, to: PeerId, duration_s: f64, a: CallArgs) -> Result<()> {
    if !a.invite.is_empty() {
        bail!(
            "--server auto calls one person: a group call needs a signaling server everyone uses"
        );
    }
    let local = Local::start(&profile, &a.nearby, true).await?;
    let result = match local.find(&to, a.wait_online).await {
        // That server is whoever announced it: media stays peer to peer.
        Ok(url) => session::call(profile, &url, to, duration_s, a, true).await,
        Err(e) => Err(e),
    };
    local.stop().await;
    result
}

/// `answer` with `--server auto`: waits for a call on our own embedded server,
/// announced nearby unless `--no-announce`.
pub async fn answer(profile: Arc<Profile>, timeout_s: f64, a: CallArgs) -> Result<()> {
    let local = Local::start(&profile, &a.nearby, false).await?;
    let url = local.url.clone();
    // Our own server has no SFU; refused all the same, as in any nearby call.
    let result = session::answer(profile, &url, timeout_s, a, true).await;
    local.stop().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_checked_and_cut_at_a_day() {
        let s = |v| seconds("--timeout", v);
        assert_eq!(s(1.5).unwrap(), Duration::from_millis(1500));
        assert_eq!(s(0.0).unwrap(), Duration::ZERO);
        assert_eq!(s(90_000.0).unwrap(), MAX_WAIT);
        assert_eq!(s(1e300).unwrap(), MAX_WAIT);
        for bad in [-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(s(bad).is_err(), "{bad}");
        }
    }
}
