//! Two peers, each behind its own port-restricted cone NAT (iptables MASQUERADE in
//! a router namespace), call through the signaling server on the "internet"
//! namespace, which hands out coturn's STUN (and TURN) servers.
//!
//! Asserts:
//! - the call connects on a server-reflexive pair, not through the relay (hole
//!   punching works): the selected pair is srflx↔srflx or srflx↔prflx on both sides;
//! - the callee's recording of the clip matches it: mean PSNR ≥ 30 dB over ≥ 80 %
//!   of the frames sent;
//! - a 64 MiB file arrives with the same SHA-256;
//! - both processes exit 0.

mod common;

use common::nat_call::call_with_clip_and_file;
use common::netns::{available, Lab, Nat};

#[test]
fn cone_nats_connect_directly_on_server_reflexive_candidates() {
    if !available("nat_cone") {
        return;
    }
    let mut lab = Lab::build(&[Nat::Cone, Nat::Cone]);
    lab.start_coturn();
    let (_, url) = lab.start_signal(true);
    let out = call_with_clip_and_file(&lab, &url, 64, &[], &[]);
    for (side, s) in [("caller", &out.caller), ("callee", &out.callee)] {
        let local = s["local_candidate"].as_str().unwrap_or("none");
        let remote = s["remote_candidate"].as_str().unwrap_or("none");
        println!("{side}: {local} -> {remote}");
        assert!(
            local != "relay" && remote != "relay",
            "{side} used the relay ({local} -> {remote}) where hole punching should work"
        );
        assert!(
            local == "srflx" || local == "prflx" || remote == "srflx" || remote == "prflx",
            "{side}'s pair {local} -> {remote} crosses two NATs without a reflexive candidate"
        );
    }
}
