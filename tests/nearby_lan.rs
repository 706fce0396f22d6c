//! Nearby (issue 16): `parley-cli` peers with no server configured (`--server
//! auto`) find each other over mDNS / DNS-SD on one LAN and call through the
//! callee's embedded signaling server, on host candidates with no STUN server.
//!
//! The LAN is the lab's bridge: Alice, Bob and Carol are hosts on it (sites 0–2),
//! and so is Erin (in the bridge's own namespace); Dave is on another subnet
//! behind a router (site 3), which does not forward multicast.
//!
//! Asserts:
//! - `parley-cli nearby --timeout 3` at Alice lists Carol (announcing, not a
//!   contact: marked `stranger`), and neither Erin (announcing switched off) nor
//!   Dave (another subnet); the same at Dave lists nobody of the LAN;
//! - Alice and Bob, contacts of each other, hold a call with no server
//!   configured: Alice finds Bob within 3 s, the call connects host↔host, Bob's
//!   recording of the clip matches it (PSNR ≥ 30 dB over ≥ 80 % of the frames
//!   sent) and a file arrives with the same SHA-256.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::nat_call::call_between;
use common::netns::{available, Lab, Nat};
use common::{bin, wait, Peer};

const NAME: &str = "nearby_peers_find_each_other_and_call_on_the_lan";

#[test]
fn nearby_peers_find_each_other_and_call_on_the_lan() {
    if !available(NAME) {
        return;
    }
    let lab = Lab::build(&[Nat::Open, Nat::Open, Nat::Open, Nat::Cone]);
    let [alice, bob, carol, dave, erin] = [(); 5].map(|_| Peer::for_url("auto"));

    // Others on the network, each waiting for a call.
    let carol_run = lab.spawn_peer(2, &carol, &["answer", "--timeout", "30"]);
    let dave_run = lab.spawn_peer(3, &dave, &["answer", "--timeout", "30"]);
    let erin_run = in_namespace(
        &lab,
        &lab.wan,
        &erin,
        &["answer", "--timeout", "30", "--no-announce"],
    );

    // What Alice (on the LAN) and Dave (behind the router) see.
    let listing = |site: usize, who: &Peer| {
        let mut cmd = lab.command(&lab.sites[site].host, &bin("parley-cli"));
        cmd.arg("--profile")
            .arg(who.path("profile"))
            .args(["nearby", "--timeout", "3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("parley-cli nearby")
    };
    let (at_alice, at_dave) = (listing(0, &alice), listing(3, &dave));
    let at_alice = listed(at_alice, "Alice's nearby list");
    let at_dave = listed(at_dave, "Dave's nearby list");
    println!("Alice sees: {at_alice:?}\nDave sees: {at_dave:?}");
    let line_of = |id: &str| at_alice.iter().find(|l| l.contains(id)).cloned();
    let carol_line = line_of(&carol.id).expect("Alice does not see Carol within 3 s");
    assert!(
        carol_line.split_whitespace().any(|w| w == "stranger"),
        "Carol is not a contact of Alice's but is listed as {carol_line:?}"
    );
    assert_eq!(
        line_of(&erin.id),
        None,
        "Erin switched announcing off but is listed"
    );
    assert_eq!(line_of(&dave.id), None, "Dave is on another subnet");
    for id in [&carol.id, &erin.id, &alice.id] {
        assert!(
            !at_dave.iter().any(|l| l.contains(id.as_str())),
            "Dave, behind a router, sees {id} of the LAN"
        );
    }
    for (what, child) in [("Carol", carol_run), ("Dave", dave_run), ("Erin", erin_run)] {
        stop(child, what);
    }

    // Alice and Bob add each other, then call with nothing configured.
    contact_add(&alice, &bob.id, "bob");
    contact_add(&bob, &alice.id, "alice");
    let out = call_between(&lab, &alice, &bob, 8, &[], &[]);
    let found = out
        .caller_log
        .lines()
        .find(|l| l.contains("nearby found"))
        .unwrap_or_else(|| panic!("no `nearby found` line:\n{}", out.caller_log));
    let ms: u64 = found
        .split_whitespace()
        .rev()
        .nth(1)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no time in {found:?}"));
    println!("{found}");
    assert!(ms <= 3_000, "Alice found Bob after {ms} ms");
    for (side, s) in [("caller", &out.caller), ("callee", &out.callee)] {
        let pair = (
            s["local_candidate"].as_str().unwrap_or("none"),
            s["remote_candidate"].as_str().unwrap_or("none"),
        );
        println!("{side}: {} -> {}", pair.0, pair.1);
        assert_eq!(pair, ("host", "host"), "{side}'s pair on the LAN");
    }
}

/// `parley-cli --profile … --server auto ARGS` for `who` in namespace `ns`.
fn in_namespace(lab: &Lab, ns: &str, who: &Peer, args: &[&str]) -> Child {
    lab.command(ns, &bin("parley-cli"))
        .arg("--profile")
        .arg(who.path("profile"))
        .args(["--server", "auto"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn parley-cli")
}

/// The `nearby …` lines a `parley-cli nearby` printed (it must exit 0).
fn listed(child: Child, what: &str) -> Vec<String> {
    let (out, _) = wait(child, Duration::from_secs(20), what);
    let stdout = common::success(&out, what);
    stdout
        .lines()
        .filter(|l| l.starts_with("nearby "))
        .map(str::to_owned)
        .collect()
}

/// Ends a waiting peer (it never got a call), showing its output if it failed
/// early.
fn stop(mut child: Child, what: &str) {
    if let Some(status) = child.try_wait().unwrap() {
        let out = child.wait_with_output().unwrap();
        panic!(
            "{what} exited early ({status}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `parley-cli contact add ID NAME` in `who`'s profile.
fn contact_add(who: &Peer, id: &str, name: &str) {
    let out = Command::new(bin("parley-cli"))
        .arg("--profile")
        .arg(who.path("profile"))
        .args(["contact", "add", id, "--name", name])
        .output()
        .unwrap();
    common::success(&out, "contact add");
}
