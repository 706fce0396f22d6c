//! Network topologies for end-to-end tests, built from Linux network namespaces
//! (`ip netns`), veth pairs, a bridge, iptables NAT routers and coturn. Every
//! address lives inside namespaces this module creates; nothing leaves the machine,
//! and everything is torn down on drop.
//!
//! The "internet" is one namespace (`wan`) with a bridge on 198.51.100.0/24
//! (TEST-NET-2, RFC 5737) that holds the signaling server and coturn at
//! [`WAN_SERVER_IP`]. Each site is a host namespace behind its own router
//! namespace: LAN 10.N.0.0/24, the router's WAN address 198.51.100.(10+N).
//!
//! Kernel facts (see ../shared/DESIGN.md): NAT with `MASQUERADE` keeps the source
//! port when it can, so mappings are endpoint-independent and filtering is
//! address- and port-dependent (a port-restricted cone NAT); `--random-fully` picks
//! a new port per destination (a symmetric NAT). netem is not available.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The server host's address on the WAN bridge (signaling server and coturn).
pub const WAN_SERVER_IP: &str = "198.51.100.1";
/// The server host's second address: coturn listens on both, which lets it answer
/// RFC 5780 NAT behaviour tests (OTHER-ADDRESS).
pub const WAN_SERVER_IP2: &str = "198.51.100.2";
/// coturn's shared secret in the tests (`static-auth-secret`).
pub const TURN_SECRET: &str = "parley-test-secret";
/// The signaling server's port in the WAN namespace.
pub const SIGNAL_PORT: u16 = 8443;

/// How a site reaches the WAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// Port-restricted cone NAT (iptables `MASQUERADE`).
    Cone,
    /// Symmetric NAT (iptables `MASQUERADE --random-fully`).
    Symmetric,
    /// No NAT: the host sits on the WAN with a public address.
    Open,
}

/// One site: a host behind a NAT router.
#[derive(Debug, Clone)]
pub struct Site {
    /// The host's namespace (where a peer runs).
    pub host: String,
    /// The router's namespace.
    pub router: String,
    /// The host's LAN address.
    pub host_ip: String,
    /// The router's WAN address (the site's public address).
    pub public_ip: String,
}

/// Set (by `.ci/run`) where the network tests must run: a missing permission or
/// tool then fails a test instead of skipping it, so CI cannot pass by skipping.
pub const REQUIRE_ENV: &str = "PARLEY_TESTS_REQUIRE_NETNS";

/// Skips `test` with one line saying `why`, or fails it when [`REQUIRE_ENV`] is
/// set. Returns false (the test is not to run).
pub fn skip(test: &str, why: &str) -> bool {
    assert!(
        std::env::var_os(REQUIRE_ENV).is_none(),
        "{test} cannot run: {why} ({REQUIRE_ENV} is set)"
    );
    eprintln!("SKIPPED {test}: {why}");
    false
}

/// Whether this process may build namespaces. When it may not, prints one line
/// saying the test is skipped, and returns false (fails with [`REQUIRE_ENV`]).
pub fn available(test: &str) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let tools = ["ip", "iptables", "turnserver"]
        .iter()
        .all(|t| which(t).is_some());
    if !root || !tools {
        return skip(
            test,
            "network namespaces need root and ip, iptables and turnserver (coturn); CI runs \
             as root and installs them",
        );
    }
    true
}

/// Whether Janus is installed (and namespaces can be built, [`available`]);
/// as [`available`] when not.
pub fn janus_available(test: &str) -> bool {
    if !available(test) {
        return false;
    }
    if !Path::new("/usr/bin/janus").exists() {
        return skip(test, "needs Janus (Debian package janus; CI installs it)");
    }
    true
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| PathBuf::from(d).join(tool))
        .find(|p| p.exists())
}

/// Runs a command to completion and panics with its output if it fails.
pub fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "`{}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A set of namespaces and the processes started in them; dropped, it kills the
/// processes and deletes the namespaces (which removes their links).
pub struct Lab {
    prefix: String,
    namespaces: Vec<String>,
    children: Vec<(String, Child)>,
    scratch: tempfile::TempDir,
    /// The internet's namespace (bridge, signaling server, coturn).
    pub wan: String,
    /// The sites, in the order asked for.
    pub sites: Vec<Site>,
}

static LABS: AtomicU32 = AtomicU32::new(0);

impl Lab {
    /// The WAN namespace with its bridge, and one site per entry of `nats`.
    pub fn build(nats: &[Nat]) -> Lab {
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let mut lab = Lab {
            prefix: format!("pl{}x{n}", std::process::id()),
            namespaces: Vec::new(),
            children: Vec::new(),
            scratch: tempfile::tempdir().unwrap(),
            wan: String::new(),
            sites: Vec::new(),
        };
        lab.wan = lab.namespace("wan");
        lab.ip(&lab.wan, &["link", "add", "br0", "type", "bridge"]);
        lab.ip(&lab.wan, &["link", "set", "br0", "up"]);
        for ip in [WAN_SERVER_IP, WAN_SERVER_IP2] {
            let cidr = format!("{ip}/24");
            lab.ip(&lab.wan, &["addr", "add", &cidr, "dev", "br0"]);
        }
        for (i, nat) in nats.iter().enumerate() {
            let site = lab.add_site(i + 1, *nat);
            lab.sites.push(site);
        }
        lab
    }

    fn namespace(&mut self, short: &str) -> String {
        let name = format!("{}{short}", self.prefix);
        run(&["ip", "netns", "add", &name]);
        self.namespaces.push(name.clone());
        self.ip(&name, &["link", "set", "lo", "up"]);
        name
    }

    /// `ip -n NS ARGS`.
    pub fn ip(&self, ns: &str, args: &[&str]) {
        let mut all = vec!["ip", "-n", ns];
        all.extend_from_slice(args);
        run(&all);
    }

    /// `ip netns exec NS ARGS` (iptables, sysctl, ...).
    pub fn exec(&self, ns: &str, args: &[&str]) {
        let mut all = vec!["ip", "netns", "exec", ns];
        all.extend_from_slice(args);
        run(&all);
    }

    /// A veth pair from `a`'s interface `a_if` to `b`'s interface `b_if`, both up.
    fn veth(&self, a: &str, a_if: &str, b: &str, b_if: &str) {
        run(&[
            "ip", "link", "add", "name", a_if, "netns", a, "type", "veth", "peer", "name", b_if,
            "netns", b,
        ]);
        self.ip(a, &["link", "set", a_if, "up"]);
        self.ip(b, &["link", "set", b_if, "up"]);
    }

    fn add_site(&mut self, n: usize, nat: Nat) -> Site {
        if nat == Nat::Open {
            return self.add_open_site(n);
        }
        let router = self.namespace(&format!("r{n}"));
        let host = self.namespace(&format!("h{n}"));
        let public_ip = format!("198.51.100.{}", 10 + n);
        let host_ip = format!("10.{n}.0.2");
        let port = format!("port{n}");
        let wan = self.wan.clone();
        self.veth(&router, "wan0", &wan, &port);
        self.ip(&wan, &["link", "set", &port, "master", "br0"]);
        self.ip(
            &router,
            &["addr", "add", &format!("{public_ip}/24"), "dev", "wan0"],
        );
        self.veth(&host, "eth0", &router, "lan0");
        self.ip(
            &router,
            &["addr", "add", &format!("10.{n}.0.1/24"), "dev", "lan0"],
        );
        self.ip(
            &host,
            &["addr", "add", &format!("{host_ip}/24"), "dev", "eth0"],
        );
        self.ip(
            &host,
            &["route", "add", "default", "via", &format!("10.{n}.0.1")],
        );
        self.exec(&router, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        let mut masq = vec![
            "iptables",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-o",
            "wan0",
            "-j",
            "MASQUERADE",
        ];
        if nat == Nat::Symmetric {
            masq.push("--random-fully");
        }
        self.exec(&router, &masq);
        // Like a home router's firewall: unsolicited packets from the WAN are dropped
        // before their conntrack entry is confirmed. Without this, a peer's first
        // check arriving before our own outbound one leaves an entry for the router
        // itself that makes MASQUERADE pick another port for our reply, and hole
        // punching never succeeds.
        for chain in ["INPUT", "FORWARD"] {
            self.exec(
                &router,
                &[
                    "iptables",
                    "-A",
                    chain,
                    "-i",
                    "wan0",
                    "-m",
                    "conntrack",
                    "--ctstate",
                    "NEW",
                    "-j",
                    "DROP",
                ],
            );
        }
        Site {
            host,
            router,
            host_ip,
            public_ip,
        }
    }

    /// A host on the WAN bridge itself at 198.51.100.(20+N), without a router.
    fn add_open_site(&mut self, n: usize) -> Site {
        let host = self.namespace(&format!("h{n}"));
        let host_ip = format!("198.51.100.{}", 20 + n);
        let port = format!("port{n}");
        let wan = self.wan.clone();
        self.veth(&host, "eth0", &wan, &port);
        self.ip(&wan, &["link", "set", &port, "master", "br0"]);
        self.ip(
            &host,
            &["addr", "add", &format!("{host_ip}/24"), "dev", "eth0"],
        );
        Site {
            host,
            router: String::new(),
            host_ip: host_ip.clone(),
            public_ip: host_ip,
        }
    }

    /// Drops every UDP packet the site's router would forward out (a network that
    /// allows only TCP).
    pub fn block_udp(&self, site: usize) {
        let r = &self.sites[site].router;
        self.exec(r, &["iptables", "-A", "FORWARD", "-p", "udp", "-j", "DROP"]);
    }

    /// Cuts the site off: its router forwards nothing either way (an outage of
    /// the site's uplink; connection-tracking state survives, as on a real router
    /// whose line drops for a while). Undone by [`Lab::restore`].
    pub fn cut(&self, site: usize) {
        let r = &self.sites[site].router;
        self.exec(r, &["iptables", "-I", "FORWARD", "1", "-j", "DROP"]);
    }

    /// Moves the site's host to a new network, as a laptop that changes Wi-Fi:
    /// a new link to its router on another subnet (10.(10+N).0.0/24) comes up and
    /// the old one (and with it the host's old address) goes away. The router
    /// NATs the new subnet like the old one. Returns the host's new address.
    pub fn roam(&mut self, site: usize) -> String {
        let n = site + 1;
        let (host, router) = (
            self.sites[site].host.clone(),
            self.sites[site].router.clone(),
        );
        self.veth(&host, "eth1", &router, "lan1");
        let new_ip = format!("10.{}.0.2", 10 + n);
        self.ip(
            &router,
            &[
                "addr",
                "add",
                &format!("10.{}.0.1/24", 10 + n),
                "dev",
                "lan1",
            ],
        );
        self.ip(
            &host,
            &["addr", "add", &format!("{new_ip}/24"), "dev", "eth1"],
        );
        self.ip(&host, &["link", "del", "eth0"]);
        self.ip(
            &host,
            &[
                "route",
                "add",
                "default",
                "via",
                &format!("10.{}.0.1", 10 + n),
            ],
        );
        self.sites[site].host_ip = new_ip.clone();
        new_ip
    }

    /// Ends an outage begun by [`Lab::cut`].
    pub fn restore(&self, site: usize) {
        let r = &self.sites[site].router;
        self.exec(r, &["iptables", "-D", "FORWARD", "-j", "DROP"]);
    }

    /// Caps what the site's router sends to the WAN at `mbit` Mbit/s (tc tbf:
    /// netem is not in this kernel, tbf is), with a 256 KB bucket and 100 ms of
    /// queue.
    pub fn cap_uplink(&self, site: usize, mbit: u32) {
        self.shape_uplink(site, "add", mbit * 1000, 256, 100);
    }

    /// Caps the site's uplink like a modem: `mbit` Mbit/s, a bucket of
    /// `burst_kb` KB (how much may pass at line rate after a pause) and a queue
    /// of `latency_ms` ms at that rate, beyond which packets are dropped.
    pub fn cap_uplink_with(&self, site: usize, mbit: u32, burst_kb: u32, latency_ms: u32) {
        self.shape_uplink(site, "add", mbit * 1000, burst_kb, latency_ms);
    }

    /// As [`Lab::cap_uplink_with`], the rate in kbit/s.
    pub fn cap_uplink_kbit(&self, site: usize, kbit: u32, burst_kb: u32, latency_ms: u32) {
        self.shape_uplink(site, "add", kbit, burst_kb, latency_ms);
    }

    /// Changes the cap [`Lab::cap_uplink_with`] set, at once.
    pub fn change_uplink(&self, site: usize, mbit: u32, burst_kb: u32, latency_ms: u32) {
        self.shape_uplink(site, "change", mbit * 1000, burst_kb, latency_ms);
    }

    fn shape_uplink(&self, site: usize, how: &str, kbit: u32, burst_kb: u32, latency_ms: u32) {
        let r = &self.sites[site].router;
        let (rate, burst, latency) = (
            format!("{kbit}kbit"),
            format!("{burst_kb}kb"),
            format!("{latency_ms}ms"),
        );
        self.exec(
            r,
            &[
                "tc", "qdisc", how, "dev", "wan0", "root", "tbf", "rate", &rate, "burst", &burst,
                "latency", &latency,
            ],
        );
    }

    /// Drops `percent` % of the UDP packets the site's router forwards, picked at
    /// random, both ways (iptables `statistic`: this kernel has no netem).
    pub fn lose_udp(&self, site: usize, percent: u32) {
        let r = &self.sites[site].router;
        let p = format!("{:.4}", f64::from(percent) / 100.0);
        self.exec(
            r,
            &[
                "iptables",
                "-I",
                "FORWARD",
                "1",
                "-p",
                "udp",
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                &p,
                "-j",
                "DROP",
            ],
        );
    }

    /// Drops the first `count` DTLS handshake datagrams through the site's router
    /// (either way) whose first record carries handshake message `msg_type`
    /// (RFC 5246 §7.4: 2 ServerHello, 11 Certificate, ...), and no later one:
    /// iptables `u32` reads the UDP payload (record content type 22 at byte 0,
    /// the message type at byte 13), `limit` with a burst of `count` lets that
    /// many matches through to DROP an hour.
    pub fn drop_first_handshake(&self, site: usize, msg_type: u8, count: u32) {
        let expr = format!("0>>22&0x3C@8>>24=0x16&&0>>22&0x3C@21>>24={msg_type:#x}");
        let burst = count.to_string();
        let limit = ["-m", "limit", "--limit", "1/hour", "--limit-burst", &burst];
        self.drop_u32(site, &expr, &limit);
    }

    /// Drops every DTLS application-data record through the site's router (either
    /// way): UDP payloads whose first byte is content type 23 (RFC 6347 §4.1).
    /// That is all of SCTP (RFC 8261), so no data channel opens, while STUN,
    /// the DTLS handshake and SRTP pass. Counted by [`Lab::handshakes_dropped`].
    pub fn drop_dtls_application_data(&self, site: usize) {
        self.drop_u32(site, "0>>22&0x3C@8>>24=0x17", &[]);
    }

    /// Inserts a FORWARD rule at the site's router that drops UDP packets
    /// matching the iptables `u32` expression `expr` (and `more` matches).
    fn drop_u32(&self, site: usize, expr: &str, more: &[&str]) {
        let r = &self.sites[site].router;
        let mut args = vec![
            "iptables", "-I", "FORWARD", "1", "-p", "udp", "-m", "u32", "--u32", expr,
        ];
        args.extend_from_slice(more);
        args.extend_from_slice(&["-j", "DROP"]);
        self.exec(r, &args);
    }

    /// Packets the site's router dropped by [`Lab::drop_first_handshake`]'s and
    /// [`Lab::drop_dtls_application_data`]'s rules.
    pub fn handshakes_dropped(&self, site: usize) -> u64 {
        self.forward_rules(site)
            .lines()
            .filter(|l| l.contains("u32") && l.contains("DROP"))
            .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }

    /// The site's router's FORWARD rules with exact packet and byte counters
    /// (`iptables -L FORWARD -v -x -n`).
    fn forward_rules(&self, site: usize) -> String {
        let r = &self.sites[site].router;
        let out = Command::new("ip")
            .args([
                "netns", "exec", r, "iptables", "-L", "FORWARD", "-v", "-x", "-n",
            ])
            .output()
            .expect("iptables -L");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts counting the bytes the site's router forwards to the WAN (IP
    /// headers included); read with [`Lab::uplink_bytes`].
    pub fn count_uplink(&self, site: usize) {
        let r = &self.sites[site].router;
        self.exec(r, &["iptables", "-I", "FORWARD", "1", "-o", "wan0"]);
    }

    /// Bytes forwarded to the WAN since [`Lab::count_uplink`].
    pub fn uplink_bytes(&self, site: usize) -> u64 {
        let text = self.forward_rules(site);
        // The counting rule: no target (so the protocol, `all` or `0` by the
        // iptables version, is the third field), out-interface wan0.
        text.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| {
                f.len() >= 6 && (f[2] == "all" || f[2] == "0") && f[3] == "--" && f[5] == "wan0"
            })
            .and_then(|f| f[1].parse().ok())
            .unwrap_or_else(|| panic!("no uplink counter in:\n{text}"))
    }

    /// A scratch path for this lab (deleted with it).
    pub fn path(&self, name: &str) -> PathBuf {
        self.scratch.path().join(name)
    }

    /// A command that runs `program` inside namespace `ns`.
    pub fn command(&self, ns: &str, program: &std::path::Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(program);
        cmd
    }

    /// Starts `cmd` and keeps it, to be killed on drop; returns its index.
    fn keep(&mut self, what: &str, child: Child) -> usize {
        self.children.push((what.to_owned(), child));
        self.children.len() - 1
    }

    /// Writes a test CA (`turn-ca.pem`, for the peers' `--turn-ca`) and coturn's
    /// certificate for [`WAN_SERVER_IP`] signed by it (`turn-cert.pem`,
    /// `turn-key.pem`); returns the CA's path.
    fn write_turn_certificates(&self) -> PathBuf {
        super::write_test_certificates(self.scratch.path(), "turn", &[WAN_SERVER_IP])
    }

    /// The test CA that signed coturn's TLS certificate (after [`start_coturn`](Self::start_coturn)).
    pub fn turn_ca(&self) -> PathBuf {
        self.path("turn-ca.pem")
    }

    /// Starts coturn in the WAN namespace (STUN and TURN on 3478 over UDP and TCP,
    /// TURN over TLS on 5349 with a certificate from [`turn_ca`](Self::turn_ca),
    /// TURN REST credentials with [`TURN_SECRET`]) and waits until its servers are
    /// up.
    pub fn start_coturn(&mut self) {
        self.write_turn_certificates();
        let db = self.path("turndb");
        let pid = self.path("turnserver.pid");
        let mut cmd = self.command(&self.wan, std::path::Path::new("turnserver"));
        cmd.args([
            "-n",
            "--listening-ip",
            WAN_SERVER_IP,
            "--listening-ip",
            WAN_SERVER_IP2,
            "--relay-ip",
            WAN_SERVER_IP,
            "--listening-port",
            "3478",
            "--tls-listening-port",
            "5349",
            "--use-auth-secret",
            "--static-auth-secret",
            TURN_SECRET,
            "--realm",
            "parley.test",
            "--no-cli",
            "--no-dtls",
            // As coturn's own example configuration advises: no relaying into
            // private networks. (Sends there fail here anyway, and a failed relay
            // send makes coturn close a TCP client's session.)
            "--denied-peer-ip",
            "10.0.0.0-10.255.255.255",
            "--no-software-attribute",
            "--log-file",
            "stdout",
            "--simple-log",
        ])
        .arg("--userdb")
        .arg(&db)
        .arg("--pidfile")
        .arg(&pid)
        .arg("--cert")
        .arg(self.path("turn-cert.pem"))
        .arg("--pkey")
        .arg(self.path("turn-key.pem"))
        .stdout(Stdio::piped())
        .stderr(self.log("coturn.err"));
        let mut child = cmd.spawn().expect("spawn turnserver");
        let stdout = child.stdout.take().unwrap();
        let idx = self.keep("coturn", child);
        let mut lines = BufReader::new(stdout).lines();
        // coturn logs this once its listeners and relay threads are up.
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("Total General servers"));
        assert!(ready, "coturn exited before it was ready");
        // Keep draining its log into coturn.log so it never blocks on a full pipe.
        let mut log = std::fs::File::create(self.path("coturn.log")).unwrap();
        std::thread::spawn(move || {
            use std::io::Write as _;
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
            }
        });
        let _ = idx;
    }

    /// Starts the real `parley-signal` in the WAN namespace, with coturn's STUN and
    /// TURN URLs and secret when `with_ice`, and waits until it listens. Returns the
    /// child's index (for [`stop`](Self::stop)) and the client URL.
    pub fn start_signal(&mut self, with_ice: bool) -> (usize, String) {
        if with_ice {
            let stun = format!("stun:{WAN_SERVER_IP}:3478");
            let turn = format!("turn:{WAN_SERVER_IP}:3478");
            self.start_signal_with(&[&stun], &[&turn])
        } else {
            self.start_signal_with(&[], &[])
        }
    }

    /// Starts the real `parley-signal` in the WAN namespace handing out these STUN
    /// and TURN URLs (TURN with credentials for [`TURN_SECRET`]); as
    /// [`start_signal`](Self::start_signal).
    pub fn start_signal_with(&mut self, stun: &[&str], turn: &[&str]) -> (usize, String) {
        let mut args = Vec::new();
        for url in stun {
            args.extend(["--stun-url", url]);
        }
        for url in turn {
            args.extend(["--turn-url", url]);
        }
        if !turn.is_empty() {
            args.extend(["--turn-secret", TURN_SECRET]);
        }
        self.start_signal_args(&args)
    }

    /// Starts the real `parley-signal` in the WAN namespace, listening on
    /// [`WAN_SERVER_IP`]:[`SIGNAL_PORT`] with `args` besides, and waits until it
    /// listens. Returns the child's index and the client URL.
    pub fn start_signal_args(&mut self, args: &[&str]) -> (usize, String) {
        let listen = format!("{WAN_SERVER_IP}:{SIGNAL_PORT}");
        let mut cmd = self.command(&self.wan, &super::bin("parley-signal"));
        cmd.args(["--listen", &listen]).args(args);
        let child = super::spawn_signal(cmd, &self.path("parley-signal.log"));
        let idx = self.keep("parley-signal", child);
        (idx, format!("ws://{listen}/ws"))
    }

    /// Starts `parley-cli <args>` for `peer`'s profile and server inside the host
    /// namespace of site `site` (no `--bind`: the peer gathers its LAN address).
    pub fn spawn_peer(&self, site: usize, peer: &super::Peer, args: &[&str]) -> Child {
        let mut cmd = self.command(&self.sites[site].host, &super::bin("parley-cli"));
        // The CLI's default filter, plus why a signaling connection dropped (a
        // failing test prints the peers' stderr).
        // `PARLEY_TEST_LOG` replaces it when debugging.
        let filter = std::env::var("PARLEY_TEST_LOG").unwrap_or_else(|_| {
            "error,parley_engine=warn,parley_cli=warn,parley_engine::signaling=info,parley_engine::call=info".to_owned()
        });
        cmd.env("RUST_LOG", filter);
        cmd.arg("--profile")
            .arg(peer.path("profile"))
            .arg("--server")
            .arg(&peer.server)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn parley-cli")
    }

    /// A file for a child's log in the lab's scratch folder.
    fn log(&self, name: &str) -> Stdio {
        Stdio::from(std::fs::File::create(self.path(name)).unwrap())
    }

    /// The log of a child the lab started (`coturn.log`, `parley-signal.log`), for
    /// a failing test to show.
    pub fn read_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// Kills a child started by this lab and waits for it.
    pub fn stop(&mut self, idx: usize) {
        let (_, child) = &mut self.children[idx];
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Whatever still runs in the namespaces (the children of a test process
        // that ran inside one, such as Janus) goes with them.
        for ns in &self.namespaces {
            let pids = Command::new("ip").args(["netns", "pids", ns]).output();
            for pid in pids.iter().flat_map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .into_owned()
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            }) {
                let _ = Command::new("kill").args(["-9", &pid]).status();
            }
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Set (to anything) in a test process that [`run_inside`] started inside a
/// namespace.
pub const INSIDE_ENV: &str = "PARLEY_TEST_INSIDE_NETNS";

/// Whether this test process is the one [`run_inside`] started.
pub fn inside() -> bool {
    std::env::var_os(INSIDE_ENV).is_some()
}

/// Runs the test `name` of this test binary again, alone, inside namespace `ns`
/// with `env` added (and [`INSIDE_ENV`] set, so the test knows), and waits for
/// it at most `within`. For a test whose own code (not only the processes it
/// starts) must sit on a namespace's network. Panics with its output when it
/// fails or overruns.
pub fn run_inside(
    ns: &str,
    name: &str,
    env: &[(&str, String)],
    within: std::time::Duration,
) -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(INSIDE_ENV, "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("re-run the test inside the namespace");
    let (out, _) = super::wait(child, within, name);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{name} inside {ns} failed:\n{text}"
    );
    text
}
