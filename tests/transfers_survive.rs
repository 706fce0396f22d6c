//! Transfers that meet a full disk (issue 14), between two `parley-cli`
//! processes in network namespaces, through the real signaling server. Bob's
//! receive folder is a tmpfs of 64 MiB holding one file of his own; Alice's
//! uplink is capped (tc tbf) so a transfer is still running when the test acts.
//!
//! Asserts, as the users would see it:
//! 1. a 100 MiB file offered into 64 MiB is declined before anything is
//!    written: both sides say "not enough space: 104.9 MB needed, … free", and
//!    the folder holds only Bob's own file, unchanged;
//! 2. with the folder grown to 160 MiB the offer is taken; when the disk then
//!    fills up mid-transfer (the test writes a filler file until nothing is
//!    left) both sides say "not enough space", and the received part is kept;
//! 3. once the filler is removed, the same file sent again resumes from the
//!    kept part and arrives with the same SHA-256, Bob's own file still
//!    unchanged; Alice's router forwarded less than 1.15 × the missing bytes
//!    (+ 2 MiB) for it, media, signaling and packet overhead included (sent
//!    from zero it would be about 1.09 × the whole file).

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::checks::{random_file, sha256_file};
use common::netns::{available, skip, Lab, Nat};
use common::{answer_args, call_args, media, stats, success, wait, Peer};

const NAME: &str = "transfers_survive";
/// The file Alice sends, MiB.
const FILE_MIB: u64 = 100;
/// Alice's uplink, Mbit/s: about 10 MB/s, so the transfer takes about 10 s.
const UPLINK_MBIT: u32 = 80;
/// How much has arrived when the test fills the disk, bytes.
const FILL_AT: u64 = 40 << 20;
/// Hidden partial file of `big.bin` in Bob's folder (docs/protocol.md §8.3).
const PART: &str = ".big.bin.parley-part";

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, mib: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let size = format!("size={mib}m");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &size, "parley-test"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    /// Grows (or shrinks) the file system, keeping its files.
    fn resize(&self, mib: u64) {
        let opts = format!("remount,size={mib}m");
        let status = Command::new("mount")
            .args(["-o", &opts])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "mount -o {opts} failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes zeros into `path` until the disk is full; returns the bytes written.
fn fill_disk(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 1 << 20];
    let mut written = 0u64;
    loop {
        match file.write(&block) {
            Ok(0) => return written,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => return written, // ENOSPC
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
}

/// Waits until `path` holds at least `bytes`.
fn wait_for_size(path: &Path, bytes: u64, within: Duration) {
    let start = Instant::now();
    while start.elapsed() < within {
        if std::fs::metadata(path).is_ok_and(|m| m.len() >= bytes) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "{} never held {bytes} bytes within {within:?}",
        path.display()
    );
}

#[test]
fn a_full_disk_is_named_keeps_what_arrived_and_the_transfer_resumes() {
    if !available(NAME) {
        return;
    }
    let (alice_dir, bob_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let inbox = bob_dir.path().join("inbox");
    let Some(disk) = Tmpfs::mount(&inbox, 64) else {
        skip(NAME, "cannot mount a tmpfs (not root?)");
        return;
    };
    let mut lab = Lab::build(&[Nat::Cone, Nat::Open]);
    let (_, url) = lab.start_signal(false);
    lab.cap_uplink(0, UPLINK_MBIT);
    let (alice, bob) = (Peer::for_url(&url), Peer::for_url(&url));
    let clip = media("chrome-320x180-15fps.y4m");
    let big = alice_dir.path().join("big.bin");
    random_file(&big, (FILE_MIB << 20) as usize);
    let own = inbox.join("notes.txt");
    random_file(&own, 4096);
    let own_sha = sha256_file(&own);
    let rec = bob_dir.path().join("received.y4m");

    // One call from Alice to Bob sending `big`; both outputs.
    let attempt = |what: &str| -> (Output, Output) {
        let mut answer = answer_args("60", &rec);
        answer.extend_from_slice(&["--receive-dir", inbox.to_str().unwrap()]);
        let answer = lab.spawn_peer(1, &bob, &answer);
        let mut call = call_args(&bob.id, "2", &clip);
        call.extend_from_slice(&["--send-file", big.to_str().unwrap()]);
        let call = lab.spawn_peer(0, &alice, &call);
        let (call_out, _) = wait(call, Duration::from_secs(120), &format!("{what}: Alice"));
        let (answer_out, _) = wait(answer, Duration::from_secs(30), &format!("{what}: Bob"));
        (call_out, answer_out)
    };

    // 1. Too big for the disk: declined before anything is written.
    let (call_out, answer_out) = attempt("too big");
    let (a, b) = (stderr(&call_out), stderr(&answer_out));
    assert!(
        !call_out.status.success(),
        "Alice's transfer cannot succeed:\n{a}"
    );
    let said = "not enough space: 104.9 MB needed, ";
    assert!(a.contains(said), "Alice is told why:\n{a}");
    assert!(b.contains(said), "Bob is told why:\n{b}");
    assert_eq!(listing(&inbox), ["notes.txt"], "nothing written");
    let told = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("transfer of ") && l.contains("not enough space"))
            .unwrap_or_default()
            .to_owned()
    };
    println!("too big: Alice: {}; Bob: {}", told(&a), told(&b));

    // 2. Room for it, but the disk fills up mid-transfer.
    disk.resize(160);
    let filler = bob_dir.path().join("inbox/filler.bin");
    let (call_out, answer_out) = std::thread::scope(|scope| {
        let run = scope.spawn(|| attempt("disk fills"));
        wait_for_size(&inbox.join(PART), FILL_AT, Duration::from_secs(60));
        let filled = fill_disk(&filler);
        println!("disk fills: filler of {} MiB written", filled >> 20);
        run.join().unwrap()
    });
    let (a, b) = (stderr(&call_out), stderr(&answer_out));
    assert!(
        !call_out.status.success(),
        "Alice's transfer cannot succeed:\n{a}"
    );
    assert!(a.contains("not enough space: "), "Alice is told why:\n{a}");
    assert!(b.contains("not enough space: "), "Bob is told why:\n{b}");
    let kept = std::fs::metadata(inbox.join(PART)).unwrap().len();
    assert!(kept >= FILL_AT, "the received part is kept: {kept} bytes");
    assert!(
        inbox.join(".big.bin.parley-part.json").exists(),
        "and its sidecar"
    );
    assert_eq!(sha256_file(&own), own_sha, "Bob's own file untouched");
    println!(
        "disk fills: Alice: {}; Bob: {} (kept {:.1} MiB)",
        told(&a),
        told(&b),
        kept as f64 / (1 << 20) as f64
    );

    // 3. Space again: the same file resumes and arrives whole.
    std::fs::remove_file(&filler).unwrap();
    lab.count_uplink(0);
    let (call_out, answer_out) = attempt("resume");
    let caller = stats(&success(&call_out, "resume: Alice"));
    success(&answer_out, "resume: Bob");
    let got = inbox.join("big.bin");
    assert_eq!(sha256_file(&got), sha256_file(&big), "same SHA-256");
    assert_eq!(listing(&inbox), ["big.bin", "notes.txt"]);
    assert_eq!(sha256_file(&own), own_sha, "Bob's own file untouched");
    let sent = lab.uplink_bytes(0);
    let missing = (FILE_MIB << 20) - kept;
    let ratio = sent as f64 / missing as f64;
    println!(
        "resume: arrived whole; Alice's router forwarded {:.1} MiB for the {:.1} MiB missing ({ratio:.2} ×); stats {caller}",
        sent as f64 / (1 << 20) as f64,
        missing as f64 / (1 << 20) as f64,
    );
    assert!(
        (sent as f64) < 1.15 * missing as f64 + (2 << 20) as f64,
        "the transfer did not resume from the kept part: {ratio:.2} × the missing bytes"
    );
    drop(disk);
}
