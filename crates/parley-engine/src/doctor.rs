//! The connection doctor: can this machine make calls from the network it is on,
//! and through what? It checks, in order:
//!
//! 1. the signaling server: reachable and signed in (ms to `welcome`);
//! 2. the public address a STUN server sees, and the NAT's mapping behaviour
//!    (RFC 5780 §4.3: a second Binding to the server's OTHER-ADDRESS from the same
//!    socket; with a server that has none, a second STUN server; else unknown);
//! 3. a TURN allocation through every TURN URL (UDP, TCP, TLS), each timed, made
//!    the way a call makes it;
//!
//! and says which kinds of path a call can use and, for every failure, what to
//! change. Used by `parley-cli doctor` and the app's settings.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde::Serialize;
use tokio::net::UdpSocket;

use crate::rtc::{self, IceServer, IceUrlKind, RtcConfig};
use crate::signaling::SignalingClient;

/// How long the doctor waits for the server's `ice_servers` after signing in, ms.
pub const ICE_SERVERS_WAIT_MS: u64 = 2_000;
/// How long one TURN allocation may take, ms.
pub const RELAY_TIMEOUT_MS: u64 = 8_000;

/// What to check.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// Signaling server URL (`ws://host:port/ws`).
    pub server_url: String,
    /// The profile's key, to sign in.
    pub key: SigningKey,
    /// The user's own STUN/TURN servers; empty means those the server hands out.
    /// `udp_bind` and `turn_tls_roots` apply to the TURN checks.
    pub rtc: RtcConfig,
}

/// The signaling server check.
#[derive(Debug, Clone, Serialize)]
pub struct ServerCheck {
    /// The URL tried.
    pub url: String,
    /// Reachable and signed in.
    pub ok: bool,
    /// Connect, WebSocket upgrade and sign-in, ms.
    pub ms: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// The STUN check.
#[derive(Debug, Clone, Serialize)]
pub struct StunCheck {
    /// The STUN (or UDP TURN) URL asked.
    pub url: String,
    /// It answered.
    pub ok: bool,
    /// Our address on the way out to it.
    pub local: Option<String>,
    /// Our address as it saw it.
    pub public: Option<String>,
    /// Binding round trip, ms.
    pub rtt_ms: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// How the NAT in front of this machine maps addresses (RFC 4787 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NatMapping {
    /// No NAT: the public address is our own.
    Open,
    /// One public address and port for every destination (a "cone" NAT): direct
    /// paths work with nearly every peer.
    EndpointIndependent,
    /// A new public port per destination (a "symmetric" NAT): direct paths only
    /// with peers on open networks or cone NATs.
    AddressDependent,
    /// Not determined: the STUN server has no OTHER-ADDRESS and there is no
    /// second one.
    Unknown,
    /// No STUN answer over UDP.
    UdpBlocked,
    /// No STUN or TURN server to ask.
    NotTested,
}

/// One TURN URL's allocation check.
#[derive(Debug, Clone, Serialize)]
pub struct RelayCheck {
    /// The TURN URL.
    pub url: String,
    /// `udp`, `tcp` or `tls`.
    pub transport: &'static str,
    /// A relay candidate was gathered.
    pub ok: bool,
    /// Start to relay candidate, ms.
    pub ms: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A kind of path a call can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    /// Peer to peer (host or server-reflexive candidates) with nearly every peer.
    Direct,
    /// Peer to peer only with peers on open networks or behind cone NATs.
    DirectLimited,
    /// Through the TURN relay over UDP.
    RelayUdp,
    /// Through the TURN relay over TCP.
    RelayTcp,
    /// Through the TURN relay over TLS.
    RelayTls,
}

/// What the doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The signaling server.
    pub server: ServerCheck,
    /// Where the STUN/TURN servers came from: `settings`, `server` or `none`.
    pub ice_source: &'static str,
    /// The STUN check, if there was a server to ask.
    pub stun: Option<StunCheck>,
    /// The NAT's mapping behaviour.
    pub nat: NatMapping,
    /// Every TURN URL's allocation.
    pub relays: Vec<RelayCheck>,
    /// The kinds of path a call can use across the internet.
    pub paths: Vec<PathKind>,
    /// For every problem, what to change.
    pub advice: Vec<String>,
}

impl DoctorReport {
    /// Calls can connect across the internet: the server works and some path does.
    pub fn usable(&self) -> bool {
        self.server.ok && !self.paths.is_empty()
    }
}

/// Runs every check; never fails: failures are in the report.
pub async fn run(opts: &DoctorOptions) -> DoctorReport {
    let mut advice = Vec::new();
    let started = Instant::now();
    let signed_in = SignalingClient::connect(&opts.server_url, opts.key.clone()).await;
    let connect_ms = started.elapsed().as_secs_f64() * 1e3;
    let (server, handed_out) = match signed_in {
        Ok((client, _events)) => {
            let ice = client
                .wait_for_ice_servers(Duration::from_millis(ICE_SERVERS_WAIT_MS))
                .await;
            client.close();
            let check = ServerCheck {
                url: opts.server_url.clone(),
                ok: true,
                ms: Some(connect_ms),
                error: None,
            };
            (check, ice)
        }
        Err(e) => {
            advice.push(format!(
                "Cannot reach or sign in to the signaling server ({e}). Check its URL \
                 (ws:// or wss://, ending in /ws) and that it is running."
            ));
            let check = ServerCheck {
                url: opts.server_url.clone(),
                ok: false,
                ms: None,
                error: Some(e.to_string()),
            };
            (check, Vec::new())
        }
    };
    let (ice_source, servers) = if !opts.rtc.ice_servers.is_empty() {
        ("settings", opts.rtc.ice_servers.clone())
    } else if !handed_out.is_empty() {
        ("server", handed_out)
    } else {
        ("none", Vec::new())
    };
    if servers.is_empty() && server.ok {
        advice.push(
            "Neither the server nor your settings name a STUN or TURN server, so calls \
             connect only within one local network. Ask the server's operator to start \
             parley-signal with --stun-url and --turn-url, or add servers in Settings."
                .into(),
        );
    }

    let urls: Vec<(String, IceUrlKind, String, u16)> = servers
        .iter()
        .flat_map(|s| s.urls.iter())
        .filter_map(|u| rtc::parse_ice_url(u).map(|(k, h, p)| (u.clone(), k, h, p)))
        .collect();
    let (stun, nat) = stun_checks(&urls, &mut advice).await;
    let relays = relay_checks(&servers, &opts.rtc, &mut advice).await;

    let mut paths = Vec::new();
    match nat {
        NatMapping::Open | NatMapping::EndpointIndependent | NatMapping::Unknown => {
            paths.push(PathKind::Direct)
        }
        NatMapping::AddressDependent => paths.push(PathKind::DirectLimited),
        NatMapping::UdpBlocked | NatMapping::NotTested => {}
    }
    for r in relays.iter().filter(|r| r.ok) {
        let kind = match r.transport {
            "tcp" => PathKind::RelayTcp,
            "tls" => PathKind::RelayTls,
            _ => PathKind::RelayUdp,
        };
        if !paths.contains(&kind) {
            paths.push(kind);
        }
    }
    if server.ok && !servers.is_empty() && relays.is_empty() {
        advice.push(
            "No TURN server: calls between two symmetric NATs, or from a network that \
             blocks UDP, cannot connect. Add a turn: URL (coturn) on the server or in \
             Settings."
                .into(),
        );
    }
    if nat == NatMapping::UdpBlocked
        && !paths
            .iter()
            .any(|p| matches!(p, PathKind::RelayTcp | PathKind::RelayTls))
    {
        advice.push(
            "This network lets no UDP out, and no TURN over TCP or TLS works: no call \
             can connect. Use a TURN server over TCP or TLS \
             (turn:HOST:3478?transport=tcp, turns:HOST:5349), or another network."
                .into(),
        );
    }
    DoctorReport {
        server,
        ice_source,
        stun,
        nat,
        relays,
        paths,
        advice,
    }
}

async fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    tokio::net::lookup_host((host, port))
        .await
        .ok()?
        .find(SocketAddr::is_ipv4)
}

/// The STUN Binding checks: public address, then the mapping test.
async fn stun_checks(
    urls: &[(String, IceUrlKind, String, u16)],
    advice: &mut Vec<String>,
) -> (Option<StunCheck>, NatMapping) {
    // STUN servers first; a UDP TURN server answers Binding requests too.
    let mut candidates: Vec<&(String, IceUrlKind, String, u16)> =
        urls.iter().filter(|u| u.1 == IceUrlKind::Stun).collect();
    candidates.extend(urls.iter().filter(|u| u.1 == IceUrlKind::TurnUdp));
    let Some((url, _, host, port)) = candidates.first().copied() else {
        return (None, NatMapping::NotTested);
    };
    let mut check = StunCheck {
        url: url.clone(),
        ok: false,
        local: None,
        public: None,
        rtt_ms: None,
        error: None,
    };
    let Some(server) = resolve(host, *port).await else {
        check.error = Some(format!("cannot resolve {host}"));
        advice.push(format!(
            "The STUN server's name {host} does not resolve: check the URL {url}."
        ));
        return (Some(check), NatMapping::NotTested);
    };
    let socket = match UdpSocket::bind("0.0.0.0:0").await {
        Ok(s) => s,
        Err(e) => {
            check.error = Some(e.to_string());
            return (Some(check), NatMapping::NotTested);
        }
    };
    let local =
        local_address_towards(server, socket.local_addr().map(|a| a.port()).unwrap_or(0)).await;
    check.local = local.map(|a| a.to_string());
    let first = match rtc::stun_binding(&socket, server).await {
        Ok(b) => b,
        Err(e) => {
            check.error = Some(e.to_string());
            advice.push(format!(
                "No STUN answer from {url} over UDP: this network seems to block UDP (or \
                 the server is down). Direct calls cannot work from here; calls need TURN \
                 over TCP or TLS."
            ));
            return (Some(check), NatMapping::UdpBlocked);
        }
    };
    check.ok = true;
    check.public = Some(first.mapped.to_string());
    check.rtt_ms = Some(first.rtt_ms);
    if Some(first.mapped) == local {
        return (Some(check), NatMapping::Open);
    }
    // RFC 5780 §4.3 test II: the other address's IP, the primary port.
    let second_server = match first.other {
        Some(o) => Some(SocketAddr::new(o.ip(), server.port())),
        None => {
            let mut other = None;
            for (_, _, h, p) in candidates.iter().skip(1) {
                if let Some(a) = resolve(h, *p).await.filter(|a| a.ip() != server.ip()) {
                    other = Some(a);
                    break;
                }
            }
            other
        }
    };
    let Some(second_server) = second_server else {
        return (Some(check), NatMapping::Unknown);
    };
    let nat = match rtc::stun_binding(&socket, second_server).await {
        Ok(second) if second.mapped == first.mapped => NatMapping::EndpointIndependent,
        Ok(_) => {
            advice.push(
                "Your NAT gives every destination a new port (a symmetric NAT): direct \
                 calls work only with peers on open networks or cone NATs, the rest go \
                 through the TURN relay."
                    .into(),
            );
            NatMapping::AddressDependent
        }
        Err(_) => NatMapping::Unknown,
    };
    (Some(check), nat)
}

/// Our address on the route to `server` with `port`: the source address the
/// kernel picks (a connected UDP socket sends nothing).
async fn local_address_towards(server: SocketAddr, port: u16) -> Option<SocketAddr> {
    let probe = UdpSocket::bind("0.0.0.0:0").await.ok()?;
    probe.connect(server).await.ok()?;
    Some(SocketAddr::new(probe.local_addr().ok()?.ip(), port))
}

/// Allocates through every TURN URL at once.
async fn relay_checks(
    servers: &[IceServer],
    base: &RtcConfig,
    advice: &mut Vec<String>,
) -> Vec<RelayCheck> {
    let mut jobs = Vec::new();
    for s in servers {
        for url in &s.urls {
            let Some((kind, _, port)) = rtc::parse_ice_url(url) else {
                continue;
            };
            let transport = match kind {
                IceUrlKind::Stun => continue,
                IceUrlKind::TurnUdp => "udp",
                IceUrlKind::TurnTcp => "tcp",
                IceUrlKind::TurnTls => "tls",
            };
            let one = IceServer {
                urls: vec![url.clone()],
                ..s.clone()
            };
            let url = url.clone();
            jobs.push(async move {
                let got = rtc::relay_allocation(&one, base, RELAY_TIMEOUT_MS).await;
                (url, transport, port, got)
            });
        }
    }
    let mut checks = Vec::new();
    for (url, transport, port, got) in futures_util::future::join_all(jobs).await {
        let mut check = RelayCheck {
            url: url.clone(),
            transport,
            ok: false,
            ms: None,
            error: None,
        };
        match got {
            Ok(ms) => {
                check.ok = true;
                check.ms = Some(ms);
            }
            Err(e) => {
                let proto = if transport == "udp" { "UDP" } else { "TCP" };
                let tls = if transport == "tls" {
                    ", that its certificate is trusted (its CA in the system store)"
                } else {
                    ""
                };
                advice.push(format!(
                    "TURN {url} gave no relay ({e}). Check that {proto} port {port} is \
                     reachable from here{tls}, and that the credentials are current."
                ));
                check.error = Some(e.to_string());
            }
        }
        checks.push(check);
    }
    checks
}
