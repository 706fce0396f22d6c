//! `parley-cli doctor` on four networks built from namespaces: an open host (no
//! NAT), a cone NAT, a symmetric NAT and a cone NAT that lets no UDP out. The
//! signaling server hands out coturn's STUN URL and its TURN URLs over UDP, TCP
//! and TLS; coturn listens on two addresses, so it answers RFC 5780 behaviour
//! tests.
//!
//! Asserts each report says what the network is: the public address, the NAT's
//! mapping (open / endpoint-independent / address-dependent / UDP blocked), which
//! TURN transports allocate, and which paths calls can take; and that the doctor
//! exits non-zero on the UDP-blocked network once the server offers no TURN over
//! TCP or TLS.

mod common;

use std::time::Duration;

use common::netns::{available, Lab, Nat, WAN_SERVER_IP};
use common::{wait, Peer};
use serde_json::Value;

/// Starts the doctor on `site` and returns a handle to wait on.
fn start(lab: &Lab, site: usize, url: &str, ca: &str) -> std::process::Child {
    let peer = Peer::for_url(url);
    lab.spawn_peer(site, &peer, &["doctor", "--json", "--turn-ca", ca])
}

/// Waits for the doctor; returns whether it exited 0, and its report.
fn finish(child: std::process::Child, what: &str) -> (bool, Value) {
    let (out, _) = wait(child, Duration::from_secs(60), what);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_else(|| {
        panic!(
            "{what}: no report; stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let report: Value = serde_json::from_str(line).expect("a JSON report");
    println!("{what}: {report}");
    (out.status.success(), report)
}

fn relay_ok(report: &Value, transport: &str) -> bool {
    report["relays"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["transport"] == transport)
        .unwrap_or_else(|| panic!("no {transport} relay check in {report}"))["ok"]
        == true
}

fn paths(report: &Value) -> Vec<&str> {
    report["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect()
}

fn public_ip(report: &Value) -> &str {
    let public = report["stun"]["public"].as_str().expect("a public address");
    public.rsplit_once(':').unwrap().0
}

#[test]
fn the_doctor_tells_open_cone_symmetric_and_udp_blocked_networks_apart() {
    if !available("doctor_networks") {
        return;
    }
    let mut lab = Lab::build(&[Nat::Open, Nat::Cone, Nat::Symmetric, Nat::Cone]);
    lab.block_udp(3);
    lab.start_coturn();
    let ca = lab.turn_ca();
    let ca = ca.to_str().unwrap();
    let stun = format!("stun:{WAN_SERVER_IP}:3478");
    let udp = format!("turn:{WAN_SERVER_IP}:3478");
    let tcp = format!("turn:{WAN_SERVER_IP}:3478?transport=tcp");
    let tls = format!("turns:{WAN_SERVER_IP}:5349");
    let (signal, url) = lab.start_signal_with(&[&stun], &[&udp, &tcp, &tls]);

    let children: Vec<_> = (0..4).map(|site| start(&lab, site, &url, ca)).collect();
    let mut reports = children
        .into_iter()
        .zip(["open", "cone", "symmetric", "udp blocked"])
        .map(|(child, what)| finish(child, what));

    let (ok, open) = reports.next().unwrap();
    assert!(ok, "the open host can call");
    assert_eq!(open["server"]["ok"], true);
    assert_eq!(open["ice_source"], "server");
    assert_eq!(open["nat"], "open");
    assert_eq!(public_ip(&open), lab.sites[0].public_ip);
    assert!(["udp", "tcp", "tls"].iter().all(|t| relay_ok(&open, t)));
    assert_eq!(
        paths(&open),
        ["direct", "relay_udp", "relay_tcp", "relay_tls"]
    );

    let (ok, cone) = reports.next().unwrap();
    assert!(ok);
    assert_eq!(cone["nat"], "endpoint_independent");
    assert_eq!(public_ip(&cone), lab.sites[1].public_ip);
    assert_eq!(paths(&cone)[0], "direct");

    let (ok, symmetric) = reports.next().unwrap();
    assert!(ok);
    assert_eq!(symmetric["nat"], "address_dependent");
    assert_eq!(public_ip(&symmetric), lab.sites[2].public_ip);
    assert_eq!(paths(&symmetric)[..2], ["direct_limited", "relay_udp"]);
    let advice = symmetric["advice"].to_string();
    assert!(advice.contains("symmetric NAT"), "{advice}");

    let (ok, blocked) = reports.next().unwrap();
    assert!(ok, "TURN over TCP and TLS still work without UDP");
    assert_eq!(blocked["nat"], "udp_blocked");
    assert!(!relay_ok(&blocked, "udp"));
    assert!(relay_ok(&blocked, "tcp") && relay_ok(&blocked, "tls"));
    assert_eq!(paths(&blocked), ["relay_tcp", "relay_tls"]);

    // The same network when the server offers TURN over UDP only: no path at all.
    lab.stop(signal);
    let (_, url) = lab.start_signal_with(&[&stun], &[&udp]);
    let (ok, stuck) = finish(start(&lab, 3, &url, ca), "udp blocked, TURN over UDP only");
    assert!(!ok, "the doctor must exit non-zero when no path works");
    assert!(paths(&stuck).is_empty());
    let advice = stuck["advice"].to_string();
    assert!(advice.contains("lets no UDP out"), "{advice}");
}
