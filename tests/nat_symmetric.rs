//! Two peers, each behind a symmetric NAT (iptables MASQUERADE --random-fully: a
//! new public port per destination, so hole punching cannot work), call through the
//! signaling server on the "internet" namespace. The server hands out coturn's
//! TURN URL with short-lived TURN REST credentials; the peers have no ICE servers
//! of their own.
//!
//! Asserts, with both peers restricted to relay candidates (`--relay-only`, W3C
//! `iceTransportPolicy: "relay"`):
//! - the call connects through coturn: the selected pair is relay↔relay, over UDP
//!   (proves the server-issued credentials work with coturn's `use-auth-secret`);
//! - the callee's recording of the clip matches it: mean PSNR ≥ 30 dB over ≥ 80 %
//!   of the frames sent;
//! - a 64 MiB file arrives through the relay with the same SHA-256;
//! - both processes exit 0.
//!
//! The same call with every candidate type allowed must find the relay by itself.
//! It does once coturn refuses to relay into private networks
//! (`--denied-peer-ip`, as coturn's example configuration advises): without that,
//! the relay's failed sends to the peers' private host candidates made every pair
//! fail, relayed ones included.

mod common;

use common::nat_call::call_with_clip_and_file;
use common::netns::{available, Lab, Nat};

fn assert_relayed(out: &common::nat_call::CallOutcome) {
    for (side, s) in [("caller", &out.caller), ("callee", &out.callee)] {
        let local = s["local_candidate"].as_str().unwrap_or("none");
        let remote = s["remote_candidate"].as_str().unwrap_or("none");
        println!("{side}: {local} -> {remote}");
        assert!(
            local == "relay" || remote == "relay",
            "{side}'s pair {local} -> {remote} has no relay candidate behind symmetric NATs"
        );
        if local == "relay" {
            assert_eq!(s["relay_transport"], "udp", "{side}'s relay transport");
        }
    }
}

#[test]
fn symmetric_nats_connect_through_turn_with_server_credentials() {
    if !available("nat_symmetric") {
        return;
    }
    let mut lab = Lab::build(&[Nat::Symmetric, Nat::Symmetric]);
    lab.start_coturn();
    let (_, url) = lab.start_signal(true);
    let relay = ["--relay-only"];
    let out = call_with_clip_and_file(&lab, &url, 64, &relay, &relay);
    assert_relayed(&out);
}

#[test]
fn symmetric_nats_find_the_relay_by_themselves() {
    if !available("nat_symmetric") {
        return;
    }
    let mut lab = Lab::build(&[Nat::Symmetric, Nat::Symmetric]);
    lab.start_coturn();
    let (_, url) = lab.start_signal(true);
    let out = call_with_clip_and_file(&lab, &url, 64, &[], &[]);
    assert_relayed(&out);
}
