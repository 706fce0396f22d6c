//! Transfers that survive a killed process (issue 14): two `parley-cli`
//! processes in network namespaces, through the real signaling server, sending
//! with `parley-cli send` (the app's engine, its queue in the profile) and
//! receiving with `parley-cli receive`.
//!
//! Asserts, as the users would see it:
//! 1. the receiver is killed with SIGKILL at about half of a 1 GiB file and
//!    started again: the sender, still running, offers the file again by
//!    itself, the receiver resumes from its kept part, and the file arrives
//!    with the sender's SHA-256; Alice's router forwarded less than 1.1 × the
//!    file's size in all (media-free session, signaling and packet overhead
//!    included);
//! 2. the same with the sender killed and started again with no file named
//!    (`parley-cli send ID`: it finishes what its profile had queued);
//! 3. the network changes at about half: Alice's host moves to another
//!    network (a new link and address; the old link is gone), with both
//!    processes left running: the file arrives whole, again below 1.1 × its
//!    size, and Alice's process reconnected on its own.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use common::checks::{random_file, sha256_file};
use common::netns::{available, Lab, Nat};
use common::{success, wait, Peer};

const NAME: &str = "transfers_resume";
/// The file Alice sends, bytes.
const FILE_BYTES: u64 = 1 << 30;
/// Hidden partial file of `big.bin` in Bob's folder (docs/protocol.md §8.3).
const PART: &str = ".big.bin.parley-part";
/// Longest a process of the test may run, s.
const PROCESS_SECS: &str = "300";

/// `parley-cli contact add` in `peer`'s profile.
/// Waits until `path` holds at least `bytes` (the receiver writes as data
/// arrives); panics after `within`, or if `child` (the transfer) ended first.
fn wait_for_size(path: &Path, bytes: u64, within: Duration, child: &mut Child) {
    let start = Instant::now();
    while start.elapsed() < within {
        if std::fs::metadata(path).is_ok_and(|m| m.len() >= bytes) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the transfer ended ({status}) before {bytes} bytes arrived");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "{} never held {bytes} bytes within {within:?}",
        path.display()
    );
}

/// Longest wait for one step of the test.
const LONG: Duration = Duration::from_secs(300);

/// Waits for `parley-cli send` (`who`) to end, and checks that it says the
/// file was sent.
fn says_sent(alice: Child, who: &str) {
    let (out, _) = wait(alice, LONG, who);
    let said = success(&out, who);
    assert!(
        said.contains(&format!("sent {FILE_BYTES} big.bin")),
        "{who} says it was sent:\n{said}"
    );
}

/// Waits for `parley-cli receive` (`who`) to end, checks that it says the
/// file arrived, and returns its output.
fn says_received(bob: Child, who: &str) -> Output {
    let (out, _) = wait(bob, LONG, who);
    let said = success(&out, who);
    assert!(
        said.contains(&format!("received {FILE_BYTES} ")),
        "{who} says it arrived:\n{said}"
    );
    out
}

/// SIGKILLs `child` (no chance to say goodbye) and reaps it.
fn kill(mut child: Child) {
    child.kill().unwrap();
    let _ = child.wait();
}

struct Setup {
    lab: Lab,
    alice: Peer,
    bob: Peer,
    big: PathBuf,
    sha: String,
}

impl Setup {
    fn new() -> Setup {
        let mut lab = Lab::build(&[Nat::Cone, Nat::Open]);
        let (_, url) = lab.start_signal(false);
        let (alice, bob) = (Peer::for_url(&url), Peer::for_url(&url));
        alice.add_contact(&bob.id);
        bob.add_contact(&alice.id);
        let big = alice.path("big.bin");
        random_file(&big, FILE_BYTES as usize);
        let sha = sha256_file(&big);
        lab.count_uplink(0);
        Setup {
            lab,
            alice,
            bob,
            big,
            sha,
        }
    }

    fn inbox(&self, name: &str) -> PathBuf {
        self.bob.path(name)
    }

    fn receive(&self, inbox: &Path) -> Child {
        let args = [
            "receive",
            "--receive-dir",
            inbox.to_str().unwrap(),
            "--count",
            "1",
            "--timeout",
            PROCESS_SECS,
        ];
        self.lab.spawn_peer(1, &self.bob, &args)
    }

    fn send(&self, file: Option<&Path>) -> Child {
        let mut args = vec!["send", &self.bob.id, "--timeout", PROCESS_SECS];
        if let Some(file) = file {
            args.push(file.to_str().unwrap());
        }
        self.lab.spawn_peer(0, &self.alice, &args)
    }

    /// Checks what arrived, and returns the bytes Alice's router forwarded
    /// since `before`, as a multiple of the file's size.
    fn arrived(&self, inbox: &Path, before: u64, what: &str) -> f64 {
        let got = inbox.join("big.bin");
        assert_eq!(sha256_file(&got), self.sha, "{what}: same SHA-256");
        assert!(!inbox.join(PART).exists(), "{what}: no part left");
        let sent = self.lab.uplink_bytes(0) - before;
        let ratio = sent as f64 / FILE_BYTES as f64;
        println!(
            "{what}: arrived whole; Alice's router forwarded {:.1} MiB for the {} MiB file ({ratio:.3} ×)",
            sent as f64 / (1 << 20) as f64,
            FILE_BYTES >> 20
        );
        assert!(
            ratio < 1.1,
            "{what}: {ratio:.3} × the file's bytes were sent"
        );
        ratio
    }
}

#[test]
fn a_transfer_survives_a_killed_side_and_a_network_change() {
    if !available(NAME) {
        return;
    }
    let mut s = Setup::new();

    // 1. Bob's receiver is killed at half, then started again.
    let inbox = s.inbox("inbox-1");
    let before = s.lab.uplink_bytes(0);
    let mut bob = s.receive(&inbox);
    let alice = s.send(Some(&s.big));
    wait_for_size(&inbox.join(PART), FILE_BYTES / 2, LONG, &mut bob);
    kill(bob);
    let kept = std::fs::metadata(inbox.join(PART)).unwrap().len();
    println!("receiver killed with {} MiB received", kept >> 20);
    let bob = s.receive(&inbox);
    let bob_out = says_received(bob, "Bob, restarted");
    let bob_err = String::from_utf8_lossy(&bob_out.stderr);
    let resumed_at: u64 = bob_err
        .lines()
        .find_map(|l| l.strip_prefix("receiving big.bin from byte "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("Bob says where it resumed:\n{bob_err}"));
    assert!(
        resumed_at >= FILE_BYTES / 2 && resumed_at <= kept,
        "resumed from the kept part ({kept} bytes), not from {resumed_at}"
    );
    says_sent(alice, "Alice");
    s.arrived(&inbox, before, "receiver killed");

    // 2. Alice's sender is killed at half; started again with no file named,
    // it finishes what its profile queued.
    let inbox = s.inbox("inbox-2");
    let before = s.lab.uplink_bytes(0);
    let bob = s.receive(&inbox);
    let mut alice = s.send(Some(&s.big));
    wait_for_size(&inbox.join(PART), FILE_BYTES / 2, LONG, &mut alice);
    kill(alice);
    println!(
        "sender killed with {} MiB received",
        std::fs::metadata(inbox.join(PART)).unwrap().len() >> 20
    );
    let alice = s.send(None);
    says_sent(alice, "Alice, restarted");
    says_received(bob, "Bob");
    s.arrived(&inbox, before, "sender killed");

    // 3. Alice's host changes networks at half; nobody restarts anything.
    let inbox = s.inbox("inbox-3");
    let before = s.lab.uplink_bytes(0);
    let bob = s.receive(&inbox);
    let mut alice = s.send(Some(&s.big));
    wait_for_size(&inbox.join(PART), FILE_BYTES / 2, LONG, &mut alice);
    let new_ip = s.lab.roam(0);
    println!(
        "Alice moved to {new_ip} with {} MiB received",
        std::fs::metadata(inbox.join(PART)).unwrap().len() >> 20
    );
    says_sent(alice, "Alice, moved");
    says_received(bob, "Bob");
    s.arrived(&inbox, before, "network changed");
}
