//! A peer on a network that lets no UDP out (only TCP, as on many company
//! networks) calls a peer behind a cone NAT. Its only way out is TURN over TCP or
//! TLS, which webrtc-rs 0.21.1 lacks and our `rtc` wrapper adds (a local shim that
//! webrtc-rs sees as a UDP TURN server).
//!
//! The signaling server hands out one TURN URL with TURN REST credentials: first
//! `turn:198.51.100.1:3478?transport=tcp`, then `turns:198.51.100.1:5349` (coturn
//! with a certificate from a test CA the peers are given with `--turn-ca`).
//!
//! Asserts, for each: the blocked peer's selected pair starts at a relay candidate
//! reached over that transport (its stats say `relay`, `tcp` / `tls`); the callee's
//! recording matches the clip (PSNR ≥ 30 dB over ≥ 80 % of the frames); a 32 MiB
//! file arrives with the same SHA-256; both processes exit 0.

mod common;

use common::nat_call::call_with_clip_and_file;
use common::netns::{available, Lab, Nat, WAN_SERVER_IP};

#[test]
fn a_peer_without_udp_connects_through_turn_over_tcp_and_over_tls() {
    if !available("nat_udp_blocked") {
        return;
    }
    let mut lab = Lab::build(&[Nat::Cone, Nat::Cone]);
    lab.block_udp(0);
    lab.start_coturn();
    let ca = lab.turn_ca();
    let ca_args = ["--turn-ca", ca.to_str().unwrap()];
    for (url, transport) in [
        (format!("turn:{WAN_SERVER_IP}:3478?transport=tcp"), "tcp"),
        (format!("turns:{WAN_SERVER_IP}:5349"), "tls"),
    ] {
        let (signal, server) = lab.start_signal_with(&[], &[&url]);
        let out = call_with_clip_and_file(&lab, &server, 32, &ca_args, &ca_args);
        let s = &out.caller;
        println!(
            "{transport}: caller {} -> {} over {}",
            s["local_candidate"], s["remote_candidate"], s["relay_transport"]
        );
        assert_eq!(
            s["local_candidate"], "relay",
            "the UDP-blocked caller's pair must start at its relay candidate ({url})"
        );
        assert_eq!(s["relay_transport"], transport, "relay transport for {url}");
        lab.stop(signal);
    }
}
