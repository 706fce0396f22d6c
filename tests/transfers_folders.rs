//! Folders that arrive as folders (issue 14): `parley-cli send ID FOLDER` and
//! `parley-cli receive` (the app's engine) in network namespaces, through the
//! real signaling server.
//!
//! Asserts, as the users would see it:
//! 1. a nested folder of 10,000 files (4 KiB each, the sends running several
//!    at once; the time it took is printed, recorded in BENCHMARKS.md; files five folders deep, an empty folder, hostile names
//!    on the sender's disk: `CON`, a control character, a 250-byte name, a
//!    hidden file, Unicode; a symlink to a file outside the folder and one to
//!    a folder outside) arrives as the same tree under the receive folder,
//!    every file with its SHA-256, names sanitised as single files' are, the
//!    empty folder made, the symlinks not followed (nothing of what they point
//!    to arrives), no symlink and nothing outside the receive folder;
//!    Bob's user (`receive --ask yes`) is asked once, for the whole folder
//!    (its name, number of files and folders, and size), not per file;
//! 2. the same folder sent again: every file is reported "already there" on
//!    both sides, Bob is not asked, and Alice's router forwarded no more than
//!    the offers (at most 400 bytes each) and 2 % of the folder's bytes
//!    (answers, signaling and connection setup).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::checks::{random_file, sha256_file};
use common::netns::{available, Lab, Nat};
use common::{success, wait_each, Peer};
use parley_engine::transfer::sanitize_relative_name;

const NAME: &str = "transfers_folders";
/// Small files, each 4 KiB, in [`MANY_FOLDERS`] folders (issue 14: a folder of
/// 10,000 files).
const MANY: usize = 10_000;
/// What one offer of a file already there may cost on the wire, bytes: the
/// `offer` frame and its SCTP and DTLS framing (a tenth of a small file).
const OFFER_BYTES: usize = 400;
/// Folders the small files are spread over.
const MANY_FOLDERS: usize = 10;

/// Builds the folder Alice sends; returns the relative names of the files and
/// empty folders a drop of it offers (`/`-separated, empty folders ending in
/// `/`), and its total size in bytes.
fn build_tree(root: &Path, outside: &Path) -> (Vec<String>, u64) {
    let write = |rel: &str, bytes: usize| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        random_file(&path, bytes);
    };
    let long = format!("{}.txt", "a".repeat(250));
    let files: Vec<(String, usize)> = [
        ("readme.txt".to_owned(), 4096),
        ("big.bin".to_owned(), 8 << 20),
        ("CON".to_owned(), 100),
        ("bell\u{7}.txt".to_owned(), 100),
        (long, 100),
        (".hidden".to_owned(), 100),
        ("日本語 ünï.txt".to_owned(), 100),
        ("deep/a/b/c/d/leaf.bin".to_owned(), 65_536),
    ]
    .into_iter()
    .chain((0..MANY).map(|i| (format!("many/d{}/f{i:05}.bin", i % MANY_FOLDERS), 4096)))
    .collect();
    let mut offered = Vec::new();
    let mut total = 0u64;
    for (rel, bytes) in &files {
        write(rel, *bytes);
        offered.push(format!("trip/{rel}"));
        total += *bytes as u64;
    }
    std::fs::create_dir_all(root.join("empty")).unwrap();
    offered.push("trip/empty/".to_owned());
    // Links out of the folder: not followed, not sent.
    std::fs::write(outside.join("secret.txt"), b"outside the folder").unwrap();
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::write(outside.join("dir/inner.txt"), b"also outside").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("link-out")).unwrap();
    std::os::unix::fs::symlink(outside.join("dir"), root.join("linkdir")).unwrap();
    (offered, total)
}

/// Every entry below `dir`: relative path → SHA-256 for files, `dir` for
/// folders; panics on a symlink.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            assert!(!meta.file_type().is_symlink(), "a symlink arrived: {rel}");
            if meta.is_dir() {
                out.insert(format!("{rel}/"), "dir".into());
                walk(base, &p, out);
            } else {
                out.insert(rel, sha256_file(&p));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn a_folder_arrives_as_the_same_tree_and_is_not_sent_twice() {
    if !available(NAME) {
        return;
    }
    let mut lab = Lab::build(&[Nat::Cone, Nat::Open]);
    let (_, url) = lab.start_signal(false);
    let (alice, bob) = (Peer::for_url(&url), Peer::for_url(&url));
    alice.add_contact(&bob.id);
    bob.add_contact(&alice.id);
    let root = alice.path("trip");
    let outside = alice.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let (offered, total) = build_tree(&root, &outside);
    let inbox = bob.path("inbox");
    lab.count_uplink(0);

    // What Bob should hold: each offered name as the receiver sanitises it,
    // with the sender's bytes.
    let mut expected = BTreeMap::new();
    for rel in &offered {
        let name = sanitize_relative_name(rel).unwrap();
        let shown = name.display();
        if name.file.is_some() {
            let src: PathBuf = root.join(rel.strip_prefix("trip/").unwrap());
            expected.insert(shown, sha256_file(&src));
        } else {
            expected.insert(shown, "dir".into());
        }
        // Every folder on the way.
        let mut parts: Vec<&str> = name.folders.iter().map(String::as_str).collect();
        while !parts.is_empty() {
            expected.insert(format!("{}/", parts.join("/")), "dir".into());
            parts.pop();
        }
    }

    let count = offered.len().to_string();
    let run = |what: &str| -> (String, String) {
        let args = [
            "receive",
            "--receive-dir",
            inbox.to_str().unwrap(),
            "--count",
            &count,
            "--ask",
            "yes",
            "--timeout",
            "240",
        ];
        let receiver = lab.spawn_peer(1, &bob, &args);
        let args = ["send", &bob.id, root.to_str().unwrap(), "--timeout", "240"];
        let sender = lab.spawn_peer(0, &alice, &args);
        // Both outputs read as they come: Bob prints a line per file, more
        // than a pipe holds while Alice is waited for.
        let (alice, bob) = (format!("{what}: Alice"), format!("{what}: Bob"));
        let mut outs = wait_each(vec![
            (alice.as_str(), sender, Duration::from_secs(260)),
            (bob.as_str(), receiver, Duration::from_secs(30)),
        ]);
        let (got, _) = outs.pop().unwrap();
        let (sent, _) = outs.pop().unwrap();
        (success(&sent, &alice), success(&got, &bob))
    };

    // 1. The tree arrives.
    let started = std::time::Instant::now();
    let (said_a, said_b) = run("first");
    let secs = started.elapsed().as_secs_f64();
    let sent_first = lab.uplink_bytes(0);
    let got = tree(&inbox);
    let missing: Vec<_> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, unexpected {extra:?}"
    );
    assert_eq!(got, expected, "every file with its SHA-256");
    assert!(got.contains_key("trip/deep/a/b/c/d/leaf.bin"));
    assert!(got.contains_key("trip/_CON") && got.contains_key("trip/bell.txt"));
    assert!(got.contains_key("trip/hidden") && got.contains_key("trip/empty/"));
    let lines = |said: &str, word: &str| said.lines().filter(|l| l.starts_with(word)).count();
    // The empty folder: Alice cannot tell whether Bob had it (nothing to send).
    assert_eq!(
        lines(&said_a, "sent "),
        offered.len() - 1,
        "Alice:\n{said_a}"
    );
    assert!(
        said_a.contains("already there 0 trip/empty/"),
        "Alice:\n{said_a}"
    );
    assert_eq!(lines(&said_b, "received "), offered.len(), "Bob:\n{said_b}");
    // One question, for the whole folder.
    let asked: Vec<&str> = said_b.lines().filter(|l| l.starts_with("asked ")).collect();
    assert_eq!(
        asked,
        [format!("asked folder trip {} {total}", offered.len())],
        "Bob was asked"
    );
    // Nothing landed beside the receive folder.
    let mut beside: Vec<String> = std::fs::read_dir(bob.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    beside.sort();
    assert_eq!(beside, ["inbox", "profile"]);
    println!(
        "first: {} files and folders, {:.1} MiB, in {secs:.1} s ({:.0} files/s); Alice's router forwarded {:.1} MiB",
        offered.len(),
        total as f64 / (1 << 20) as f64,
        offered.len() as f64 / secs,
        sent_first as f64 / (1 << 20) as f64
    );

    // 2. Again: already there, nothing sent.
    let (said_a, said_b) = run("again");
    let sent_again = lab.uplink_bytes(0) - sent_first;
    assert_eq!(
        lines(&said_a, "already there "),
        offered.len(),
        "Alice:\n{said_a}"
    );
    assert_eq!(
        lines(&said_b, "already there "),
        offered.len(),
        "Bob:\n{said_b}"
    );
    assert_eq!(tree(&inbox), expected, "nothing changed at Bob");
    assert_eq!(lines(&said_b, "asked "), 0, "Bob:\n{said_b}");
    println!(
        "again: all already there; Alice's router forwarded {:.1} KiB",
        sent_again as f64 / 1024.0
    );
    // What may go out: each entry's offer (its name, size, SHA-256 and folder
    // in JSON, about 280 bytes, then SCTP and DTLS framing) and the connection's
    // setup; not the files' bytes (4 KiB and more each).
    let allowed = 0.02 * total as f64 + (OFFER_BYTES * offered.len()) as f64;
    assert!(
        (sent_again as f64) < allowed,
        "sent again: {sent_again} bytes of a {total}-byte folder went out (allowed {allowed:.0})"
    );
}
