//! Nearby (issue 16): `parley-cli` peers with no server configured (`--server
//! auto`) find each other over mDNS / DNS-SD on one LAN and call through the
//! callee's embedded signaling server, on host candidates with no STUN server.
//!
//! The LAN is the lab's bridge: Alice, Bob (or before him Frank) and Carol are
//! hosts on it (sites 0–2), and so is Erin (in the bridge's own namespace); Dave
//! is on another subnet behind a router (site 3), which does not forward
//! multicast.
//!
//! Asserts:
//! - `parley-cli nearby --watch` at Alice sees Carol appear within 3 s and,
//!   once Carol gives up waiting and exits, vanish within 3 s (goodbye packets);
//! - its list at the end has Erin (announcing, not a contact: marked
//!   `stranger`), and neither Frank (announcing switched off) nor Dave (another
//!   subnet); `parley-cli nearby --timeout 3` at Dave lists nobody of the LAN;
//! - Alice and Bob, contacts of each other, hold a call with no server
//!   configured: Alice finds Bob within 3 s, the call connects host↔host, Bob's
//!   recording of the clip matches it (PSNR ≥ 30 dB over ≥ 80 % of the frames
//!   sent) and a file arrives with the same SHA-256.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    let [alice, bob, carol, dave, erin, frank] = [(); 6].map(|_| Peer::for_url("auto"));

    // Others on the network, each waiting for a call; Carol gives up after 6 s,
    // Frank does not announce himself.
    let carol_run = lab.spawn_peer(2, &carol, &["answer", "--timeout", "6"]);
    let dave_run = lab.spawn_peer(3, &dave, &["answer", "--timeout", "30"]);
    let erin_run = in_namespace(&lab, &lab.wan, &erin, &["answer", "--timeout", "30"]);
    let frank_args = ["answer", "--timeout", "30", "--no-announce"];
    let frank_run = lab.spawn_peer(1, &frank, &frank_args);

    // What Alice (on the LAN) and Dave (behind the router) see.
    let listing = |site: usize, who: &Peer, args: &[&str]| {
        let mut cmd = lab.command(&lab.sites[site].host, &bin("parley-cli"));
        cmd.arg("--profile")
            .arg(who.path("profile"))
            .arg("nearby")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("parley-cli nearby")
    };
    // Alice watches for 10 s (Carol appears, then leaves when she gives up);
    // Dave lists what he finds in 3 s.
    let watching = Instant::now();
    let at_alice = listing(0, &alice, &["--timeout", "10", "--watch"]);
    let at_dave = listing(3, &dave, &["--timeout", "3"]);
    let (carol_out, carol_left) = wait(carol_run, Duration::from_secs(20), "Carol");
    println!(
        "Carol gave up after its 6 s: {}",
        String::from_utf8_lossy(&carol_out.stderr).trim_end()
    );
    let alice_out = printed(at_alice, "Alice's nearby watch");
    let at_dave = listed(&printed(at_dave, "Dave's nearby list"));
    println!("Alice printed: {alice_out:?}\nDave sees: {at_dave:?}");
    let change = |what: &str, id: &str| -> Option<u64> {
        alice_out.iter().find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 3 && w[0] == what && w[1] == id)
                .then(|| w[2].parse().ok())
                .flatten()
        })
    };
    let appeared = change("appeared", &carol.id).expect("Alice never saw Carol");
    assert!(appeared <= 3_000, "Carol appeared after {appeared} ms");
    let vanished = change("vanished", &carol.id).expect("Carol never vanished");
    // Alice's clock starts a little after `watching`: this reads a little short.
    let after_leaving = vanished as i64 - carol_left.duration_since(watching).as_millis() as i64;
    println!(
        "Alice saw Carol appear after {appeared} ms, vanish {after_leaving} ms after she left"
    );
    assert!(
        after_leaving <= 3_000,
        "Carol vanished {after_leaving} ms after she left"
    );
    // The list at the end: Erin, not a contact; Frank and Dave never were.
    let at_alice = listed(&alice_out);
    let line_of = |id: &str| at_alice.iter().find(|l| l.contains(id)).cloned();
    let erin_line = line_of(&erin.id).expect("Alice does not list Erin");
    assert!(
        erin_line.split_whitespace().any(|w| w == "stranger"),
        "Erin is not a contact of Alice's but is listed as {erin_line:?}"
    );
    assert_eq!(
        line_of(&frank.id),
        None,
        "Frank switched announcing off but is listed"
    );
    assert_eq!(line_of(&dave.id), None, "Dave is on another subnet");
    for id in [&carol.id, &erin.id, &frank.id, &alice.id] {
        assert!(
            !at_dave.iter().any(|l| l.contains(id.as_str())),
            "Dave, behind a router, sees {id} of the LAN"
        );
    }
    for (what, child) in [("Dave", dave_run), ("Erin", erin_run), ("Frank", frank_run)] {
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
    // The pair is direct on the LAN: each side sends from its host
    // candidate to the other's host address. The remote end may show as
    // peer-reflexive when its connectivity check arrived before its
    // signaled host candidate (RFC 8445 §7.3.1.3), which is the same
    // address learned earlier, not a path through a NAT.
    for (side, s, other) in [
        ("caller", &out.caller, &out.callee),
        ("callee", &out.callee, &out.caller),
    ] {
        let local = s["local_candidate"].as_str().unwrap_or("none");
        let remote = s["remote_candidate"].as_str().unwrap_or("none");
        println!(
            "{side}: {local} -> {remote} ({} -> {})",
            s["local_address"], s["remote_address"]
        );
        assert_eq!(local, "host", "{side} sends from its host candidate");
        assert!(
            remote == "host" || remote == "prflx",
            "{side}'s remote candidate is {remote}, not on the LAN"
        );
        assert_eq!(
            s["remote_address"], other["local_address"],
            "{side} reaches the other side's own address"
        );
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

/// The lines a `parley-cli nearby` printed on stdout (it must exit 0).
fn printed(child: Child, what: &str) -> Vec<String> {
    let (out, _) = wait(child, Duration::from_secs(30), what);
    let stdout = common::success(&out, what);
    stdout.lines().map(str::to_owned).collect()
}

/// The final list in `lines`: `nearby <id> <contact|stranger> <url> <name>`.
fn listed(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("nearby "))
        .cloned()
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
