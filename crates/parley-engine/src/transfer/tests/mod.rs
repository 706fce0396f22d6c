//! Two in-process peers wired with [`crate::channel::memory_pair`]: Alice sends,
//! Bob receives; each runs [`serve_file_channel`] like a call does.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parley_proto::data::{encode_chunk, transfer_id_to_hex, TransferFrame};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::*;
use crate::channel::{memory_pair, MemorySink};

const TIMEOUT: Duration = Duration::from_secs(30);

fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut data);
    data
}

/// Files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// A sink that waits `delay` before each message: a slow network.
struct SlowSink {
    inner: MemorySink,
    delay: Duration,
}

#[async_trait::async_trait]
impl MessageSink for SlowSink {
    async fn send(&self, msg: DcMessage) -> crate::Result<()> {
        tokio::time::sleep(self.delay).await;
        self.inner.send(msg).await
    }
}

struct Peers {
    /// Alice's side of the file channel (Alice → Bob).
    alice_sink: Arc<dyn MessageSink>,
    /// Answers to Alice's offers.
    alice_inbound: mpsc::Receiver<TransferFrame>,
    alice_events_tx: mpsc::Sender<TransferEvent>,
    alice_events: mpsc::Receiver<TransferEvent>,
    bob_events: mpsc::Receiver<TransferEvent>,
    /// Bob's user: answers to offers, cancels.
    bob_commands: mpsc::Sender<TransferCommand>,
    tasks: Vec<JoinHandle<()>>,
}

impl Peers {
    fn new(bob_dir: Option<PathBuf>) -> Peers {
        Self::with_delay(bob_dir, Duration::ZERO)
    }

    fn with_delay(bob_dir: Option<PathBuf>, delay: Duration) -> Peers {
        Self::build(bob_dir, delay, false)
    }

    /// Bob asks his user before accepting.
    fn asking(bob_dir: PathBuf, delay: Duration) -> Peers {
        Self::build(Some(bob_dir), delay, true)
    }

    fn build(bob_dir: Option<PathBuf>, delay: Duration, ask: bool) -> Peers {
        let (ab_sink, mut ab_rx) = memory_pair(8);
        let (ba_sink, mut ba_rx) = memory_pair(8);
        let alice_sink: Arc<dyn MessageSink> = if delay.is_zero() {
            Arc::new(ab_sink)
        } else {
            Arc::new(SlowSink {
                inner: ab_sink,
                delay,
            })
        };
        let (alice_events_tx, alice_events) = mpsc::channel(1024);
        let (bob_events_tx, bob_events) = mpsc::channel(1024);
        let (alice_to_sender, alice_inbound) = mpsc::channel(SENDER_INBOUND_CAPACITY);
        let (bob_to_sender, _bob_inbound) = mpsc::channel(SENDER_INBOUND_CAPACITY);

        let (bob_commands, mut bob_commands_rx) = mpsc::channel(8);
        let (_alice_commands, mut alice_commands_rx) = mpsc::channel(1);

        let mut tasks = Vec::new();
        let mut bob = ReceiveSession::new(bob_dir, bob_events_tx);
        bob.set_ask(ask);
        tasks.push(tokio::spawn(async move {
            let _keep = _bob_inbound;
            serve_file_channel(
                &mut ab_rx,
                &ba_sink,
                &mut bob,
                &bob_to_sender,
                &mut bob_commands_rx,
            )
            .await
            .unwrap();
        }));
        let mut alice = ReceiveSession::new(None, alice_events_tx.clone());
        let sink = alice_sink.clone();
        tasks.push(tokio::spawn(async move {
            let _ = serve_file_channel(
                &mut ba_rx,
                &*sink,
                &mut alice,
                &alice_to_sender,
                &mut alice_commands_rx,
            )
            .await;
        }));
        Peers {
            alice_sink,
            alice_inbound,
            alice_events_tx,
            alice_events,
            bob_events,
            bob_commands,
            tasks,
        }
    }

    async fn send(&mut self, path: &Path) -> Result<SendOutcome, TransferError> {
        let (_cancel_tx, cancel) = watch::channel(false);
        self.send_with(path, cancel).await
    }

    async fn send_with(
        &mut self,
        path: &Path,
        cancel: watch::Receiver<bool>,
    ) -> Result<SendOutcome, TransferError> {
        tokio::time::timeout(
            TIMEOUT,
            send_file(
                path,
                self.alice_sink.clone(),
                &mut self.alice_inbound,
                &self.alice_events_tx,
                cancel,
            ),
        )
        .await
        .expect("transfer timed out")
    }

    /// Waits for Bob's next `Completed` or `Failed` event.
    async fn bob_outcome(&mut self) -> TransferEvent {
        loop {
            let event = tokio::time::timeout(TIMEOUT, self.bob_events.recv())
                .await
                .expect("no event from Bob")
                .expect("Bob's events closed");
            if matches!(
                event,
                TransferEvent::Completed { .. } | TransferEvent::Failed { .. }
            ) {
                return event;
            }
        }
    }
}

impl Drop for Peers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_mib_file_arrives_intact() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let data = random_bytes(5 * 1024 * 1024 + 123);
    let path = write_file(src.path(), "video.bin", &data);
    let mut peers = Peers::new(Some(dst.path().to_path_buf()));

    let outcome = peers.send(&path).await.unwrap();
    assert_eq!(outcome.sha256, sha_hex(&data));
    assert_eq!(outcome.bytes, data.len() as u64);
    assert_eq!(outcome.resumed_from, 0);
    match peers.bob_outcome().await {
        TransferEvent::Completed {
            path, bytes, name, ..
        } => {
            assert_eq!(path, dst.path().join("video.bin"));
            assert_eq!(name, "video.bin");
            assert_eq!(bytes, data.len() as u64);
        }
        other => panic!("unexpected {other:?}"),
    }
    let received = std::fs::read(dst.path().join("video.bin")).unwrap();
    assert_eq!(sha_hex(&received), sha_hex(&data));
    assert_eq!(listing(dst.path()), ["video.bin"]);

    let mut saw_offered = false;
    let mut saw_completed = false;
    while let Ok(event) = peers.alice_events.try_recv() {
        match event {
            TransferEvent::Offered(p) => saw_offered = p.bytes_total == data.len() as u64,
            TransferEvent::Completed { .. } => saw_completed = true,
            _ => {}
        }
    }
    assert!(saw_offered && saw_completed);
}

#[tokio::test]
async fn declines_when_not_accepting_files() {
    let src = tempfile::tempdir().unwrap();
    let path = write_file(src.path(), "a.txt", b"hello");
    let mut peers = Peers::new(None);
    match peers.send(&path).await {
        Err(TransferError::Declined { reason }) => assert!(reason.contains("not accepting")),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn sequential_transfers_and_duplicate_names() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    std::fs::write(dst.path().join("a.txt"), b"existing").unwrap();
    let mut peers = Peers::new(Some(dst.path().to_path_buf()));

    let mut expected = Vec::new();
    for (i, len) in [0usize, 1, 70_000, 200_000].into_iter().enumerate() {
        let data = random_bytes(len);
        let path = write_file(src.path(), "a.txt", &data);
        let outcome = peers.send(&path).await.unwrap();
        assert_eq!(outcome.bytes, len as u64);
        expected.push((format!("a ({}).txt", i + 1), data));
    }
    assert_eq!(
        std::fs::read(dst.path().join("a.txt")).unwrap(),
        b"existing"
    );
    for (name, data) in &expected {
        assert_eq!(
            &std::fs::read(dst.path().join(name)).unwrap(),
            data,
            "{name}"
        );
    }
    assert_eq!(listing(dst.path()).len(), 5);
}

/// Bob's session driven directly by a scripted (possibly hostile) peer.
struct Script {
    session: ReceiveSession,
    events: mpsc::Receiver<TransferEvent>,
    id: [u8; 16],
}

impl Script {
    fn new(dir: &Path) -> Script {
        let (tx, events) = mpsc::channel(1024);
        Script {
            session: ReceiveSession::new(Some(dir.to_path_buf()), tx),
            events,
            id: rand::random(),
        }
    }

    fn tid(&self) -> String {
        transfer_id_to_hex(&self.id)
    }

    async fn offer(&mut self, name: &str, size: u64, sha256: &str) -> Vec<TransferFrame> {
        self.session
            .on_text(TransferFrame::Offer {
                transfer_id: self.tid(),
                name: name.into(),
                size,
                sha256: sha256.into(),
                batch: None,
            })
            .await
    }

    async fn chunk(&mut self, offset: u64, payload: &[u8]) -> Vec<TransferFrame> {
        let frame = Bytes::from(encode_chunk(&self.id, offset, payload));
        self.session.on_chunk(&frame).await
    }

    /// Sends `done`; returns the answer, waiting for the file to be finished.
    async fn done(&mut self) -> Vec<TransferFrame> {
        let now = self
            .session
            .on_text(TransferFrame::Done {
                transfer_id: self.tid(),
            })
            .await;
        if !now.is_empty() {
            return now;
        }
        vec![self.session.finished().await]
    }

    /// A whole honest transfer; returns the final answer.
    async fn transfer(&mut self, name: &str, data: &[u8]) -> TransferFrame {
        self.id = rand::random();
        let accept = self.offer(name, data.len() as u64, &sha_hex(data)).await;
        assert!(
            matches!(accept[..], [TransferFrame::Accept { offset: 0, .. }]),
            "{accept:?}"
        );
        assert!(self.chunk(0, data).await.is_empty());
        self.done().await.pop().unwrap()
    }
}

fn is_failed(frames: &[TransferFrame], needle: &str) -> bool {
    matches!(frames, [TransferFrame::Failed { reason, .. }] if reason.contains(needle))
}

#[tokio::test]
async fn hostile_names_stay_in_the_receive_folder() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("recv");
    let mut s = Script::new(&dir);
    for (raw, saved) in [
        ("../../etc/x", "x"),
        ("/etc/passwd", "passwd"),
        ("C:\\Windows\\evil.exe", "evil.exe"),
        ("..", "file"),
        (".bashrc", "bashrc"),
        ("CON.txt", "_CON.txt"),
        ("a/../../b", "b"),
    ] {
        let answer = s.transfer(raw, raw.as_bytes()).await;
        assert!(
            matches!(answer, TransferFrame::Complete { .. }),
            "{raw}: {answer:?}"
        );
        assert_eq!(
            std::fs::read(dir.join(saved)).unwrap(),
            raw.as_bytes(),
            "{raw}"
        );
    }
    assert_eq!(listing(root.path()), ["recv"]);
    assert_eq!(
        listing(&dir),
        ["_CON.txt", "b", "bashrc", "evil.exe", "file", "passwd", "x"]
    );
}

#[tokio::test]
async fn lying_peers_get_failed_and_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(100_000);
    let mut s = Script::new(dir.path());

    // Chunks beyond the offered size.
    s.offer("big.bin", 10, &sha_hex(&data[..10])).await;
    let answer = s.chunk(0, &data).await;
    assert!(is_failed(&answer, "size mismatch"), "{answer:?}");
    assert!(matches!(
        s.events.recv().await,
        Some(TransferEvent::Offered(_))
    ));
    assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
    // The rest of its chunks are ignored, a late `done` is answered `failed`.
    assert!(s.chunk(100_000, &data[..10]).await.is_empty());
    assert!(is_failed(&s.done().await, "unknown transfer"));

    // A wrong hash.
    s.id = rand::random();
    s.offer("hash.bin", data.len() as u64, &sha_hex(b"something else"))
        .await;
    assert!(s.chunk(0, &data[..60_000]).await.is_empty());
    assert!(s.chunk(60_000, &data[60_000..]).await.is_empty());
    assert!(is_failed(&s.done().await, "SHA-256 mismatch"));
    assert!(listing(dir.path()).is_empty());

    // A gap in the offsets.
    s.id = rand::random();
    s.offer("gap.bin", data.len() as u64, &sha_hex(&data)).await;
    assert!(s.chunk(0, &data[..1000]).await.is_empty());
    assert!(is_failed(
        &s.chunk(2000, &data[2000..3000]).await,
        "bad offset"
    ));
    assert!(listing(dir.path()).is_empty());

    // `done` too early.
    s.id = rand::random();
    s.offer("short.bin", data.len() as u64, &sha_hex(&data))
        .await;
    assert!(s.chunk(0, &data[..1000]).await.is_empty());
    assert!(is_failed(&s.done().await, "size mismatch"));
    assert!(listing(dir.path()).is_empty());

    // Garbage and frames for unknown transfers: ignored, never a panic.
    assert!(s
        .session
        .on_chunk(&Bytes::from_static(b"short"))
        .await
        .is_empty());
    let unknown = transfer_id_to_hex(&[9; 16]);
    assert!(s
        .session
        .on_text(TransferFrame::Cancel {
            transfer_id: unknown.clone(),
            reason: "x".into()
        })
        .await
        .is_empty());
    assert!(s
        .session
        .on_text(TransferFrame::Accept {
            transfer_id: unknown,
            offset: 0
        })
        .await
        .is_empty());

    // Still works for an honest peer afterwards.
    assert!(matches!(
        s.transfer("ok.bin", &data).await,
        TransferFrame::Complete { .. }
    ));
    assert_eq!(listing(dir.path()), ["ok.bin"]);
}

#[tokio::test]
async fn transfers_interleave_up_to_the_limit_and_one_name_is_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Script::new(dir.path());
    s.offer("one.bin", 10, &sha_hex(b"0123456789")).await;
    let first = s.id;
    // A second file meanwhile is accepted, and their chunks interleave.
    s.id = rand::random();
    let answer = s.offer("two.bin", 4, &sha_hex(b"abcd")).await;
    assert!(
        matches!(&answer[..], [TransferFrame::Accept { offset: 0, .. }]),
        "{answer:?}"
    );
    let second = s.id;
    // The same name again while `one.bin` is being written: busy.
    s.id = rand::random();
    let answer = s.offer("one.bin", 3, &sha_hex(b"xyz")).await;
    assert!(
        matches!(&answer[..], [TransferFrame::Decline { reason, .. }] if reason.starts_with("busy")),
        "{answer:?}"
    );
    s.id = first;
    assert!(s.chunk(0, b"01234").await.is_empty());
    s.id = second;
    assert!(s.chunk(0, b"ab").await.is_empty());
    s.id = first;
    assert!(s.chunk(5, b"56789").await.is_empty());
    s.id = second;
    assert!(s.chunk(2, b"cd").await.is_empty());
    assert!(matches!(
        s.done().await[..],
        [TransferFrame::Complete { .. }]
    ));
    s.id = first;
    assert!(matches!(
        s.done().await[..],
        [TransferFrame::Complete { .. }]
    ));
    assert_eq!(
        std::fs::read(dir.path().join("one.bin")).unwrap(),
        b"0123456789"
    );
    assert_eq!(std::fs::read(dir.path().join("two.bin")).unwrap(), b"abcd");

    // Beyond MAX_CONCURRENT_RECEIVES at once: busy, until one ends.
    let mut held = Vec::new();
    for n in 0..MAX_CONCURRENT_RECEIVES {
        s.id = rand::random();
        let answer = s.offer(&format!("f{n}.bin"), 1, &sha_hex(b"x")).await;
        assert!(
            matches!(&answer[..], [TransferFrame::Accept { .. }]),
            "{n}: {answer:?}"
        );
        held.push(s.id);
    }
    s.id = rand::random();
    let answer = s.offer("extra.bin", 1, &sha_hex(b"x")).await;
    assert!(
        matches!(&answer[..], [TransferFrame::Decline { reason, .. }] if reason.starts_with("busy")),
        "{answer:?}"
    );
    s.id = held[0];
    assert!(s.chunk(0, b"x").await.is_empty());
    assert!(matches!(
        s.done().await[..],
        [TransferFrame::Complete { .. }]
    ));
    s.id = rand::random();
    let answer = s.offer("extra.bin", 1, &sha_hex(b"x")).await;
    assert!(
        matches!(&answer[..], [TransferFrame::Accept { .. }]),
        "{answer:?}"
    );
}

#[tokio::test]
async fn the_receiver_can_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Script::new(dir.path());
    s.offer("one.bin", 10, &sha_hex(b"0123456789")).await;
    assert!(s.chunk(0, b"01234").await.is_empty());
    let answer = s.session.cancel_active("no thanks").await;
    assert!(matches!(&answer[..], [TransferFrame::Cancel { reason, .. }] if reason == "no thanks"));
    assert!(listing(dir.path()).is_empty());
    assert!(s.session.cancel_active("again").await.is_empty());
    assert!(s.chunk(5, b"56789").await.is_empty());
    assert!(is_failed(&s.done().await, "unknown transfer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_from_a_partial_file() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let data = random_bytes(3 * 1024 * 1024 + 5);
    let path = write_file(src.path(), "movie.mkv", &data);
    let have = 1_500_000usize;
    std::fs::write(dst.path().join(".movie.mkv.parley-part"), &data[..have]).unwrap();
    let sidecar = serde_json::json!({"sha256": sha_hex(&data), "size": data.len()});
    std::fs::write(
        dst.path().join(".movie.mkv.parley-part.json"),
        sidecar.to_string(),
    )
    .unwrap();

    let mut peers = Peers::new(Some(dst.path().to_path_buf()));
    let outcome = peers.send(&path).await.unwrap();
    assert_eq!(outcome.resumed_from, have as u64);
    assert_eq!(std::fs::read(dst.path().join("movie.mkv")).unwrap(), data);
    assert_eq!(listing(dst.path()), ["movie.mkv"]);

    // Offered again: the receiver holds it already, answers `complete` at
    // once, and nothing is sent or written.
    let outcome = peers.send(&path).await.unwrap();
    assert_eq!(outcome.resumed_from, data.len() as u64, "nothing sent");
    assert_eq!(listing(dst.path()), ["movie.mkv"]);
    std::fs::rename(dst.path().join("movie.mkv"), dst.path().join("kept.mkv")).unwrap();

    // A partial file of another version of the file is not reused.
    std::fs::write(dst.path().join(".movie.mkv.parley-part"), b"stale").unwrap();
    std::fs::write(
        dst.path().join(".movie.mkv.parley-part.json"),
        serde_json::json!({"sha256": sha_hex(b"other"), "size": data.len()}).to_string(),
    )
    .unwrap();
    let outcome = peers.send(&path).await.unwrap();
    assert_eq!(outcome.resumed_from, 0);
    assert_eq!(std::fs::read(dst.path().join("movie.mkv")).unwrap(), data);
    std::fs::remove_file(dst.path().join("movie.mkv")).unwrap();

    // A corrupted prefix is caught by the whole-file hash.
    let mut bad = data[..have].to_vec();
    bad[10] ^= 0xff;
    std::fs::write(dst.path().join(".movie.mkv.parley-part"), &bad).unwrap();
    std::fs::write(
        dst.path().join(".movie.mkv.parley-part.json"),
        sidecar.to_string(),
    )
    .unwrap();
    match peers.send(&path).await {
        Err(TransferError::PeerFailed { reason }) => assert!(reason.contains("SHA-256")),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(listing(dst.path()), ["kept.mkv"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_channel_keeps_the_partial_file_for_resume() {
    let dst = tempfile::tempdir().unwrap();
    let (tx, mut events) = mpsc::channel(64);
    let mut session = ReceiveSession::new(Some(dst.path().to_path_buf()), tx);
    let data = random_bytes(200_000);
    let id = [3u8; 16];
    let tid = transfer_id_to_hex(&id);
    let offer = TransferFrame::Offer {
        transfer_id: tid.clone(),
        name: "x.bin".into(),
        size: data.len() as u64,
        sha256: sha_hex(&data),
        batch: None,
    };
    session.on_text(offer.clone()).await;
    session
        .on_chunk(&Bytes::from(encode_chunk(&id, 0, &data[..70_000])))
        .await;
    session.close().await;
    assert_eq!(
        std::fs::metadata(dst.path().join(".x.bin.parley-part"))
            .unwrap()
            .len(),
        70_000
    );
    while events.try_recv().is_ok() {}
    // The same offer again (new call) resumes.
    let answer = session.on_text(offer).await;
    assert!(matches!(
        answer[..],
        [TransferFrame::Accept { offset: 70_000, .. }]
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_both_sides() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let path = write_file(src.path(), "slow.bin", &random_bytes(4 * 1024 * 1024));
    let mut peers = Peers::with_delay(Some(dst.path().to_path_buf()), Duration::from_millis(2));
    let (cancel_tx, cancel) = watch::channel(false);
    let mut alice_events = std::mem::replace(&mut peers.alice_events, mpsc::channel(1).1);
    tokio::spawn(async move {
        // Cancel mid-stream: shortly after the offer went out.
        while let Some(event) = alice_events.recv().await {
            if matches!(event, TransferEvent::Offered(_)) {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = cancel_tx.send(true);
            }
        }
    });
    match peers.send_with(&path, cancel).await {
        Err(TransferError::Cancelled { .. }) => {}
        other => panic!("unexpected {other:?}"),
    }
    match peers.bob_outcome().await {
        TransferEvent::Failed {
            reason, outcome, ..
        } => {
            assert_eq!(outcome, TransferOutcome::Cancelled, "{reason}");
            assert!(reason.contains("cancelled"), "{reason}")
        }
        other => panic!("unexpected {other:?}"),
    }
    // The sender's cancel keeps what arrived, for a later resume.
    let kept = [".slow.bin.parley-part", ".slow.bin.parley-part.json"];
    assert_eq!(listing(dst.path()), kept);

    // Dropping the send future cancels too.
    let (events_tx, mut events) = mpsc::channel(1024);
    let (_keep, cancel) = watch::channel(false);
    tokio::select! {
        r = send_file(&path, peers.alice_sink.clone(), &mut peers.alice_inbound, &events_tx, cancel) => {
            panic!("transfer finished: {r:?}")
        }
        _ = async {
            while let Some(event) = events.recv().await {
                if matches!(event, TransferEvent::Offered(_)) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    return;
                }
            }
        } => {}
    }
    match peers.bob_outcome().await {
        TransferEvent::Failed { reason, .. } => assert!(reason.contains("stopped"), "{reason}"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(listing(dst.path()), kept);
    let partial = std::fs::metadata(dst.path().join(kept[0])).unwrap().len();

    // Offered again, it resumes from there and arrives whole.
    let outcome = peers.send(&path).await.unwrap();
    assert_eq!(outcome.resumed_from, partial);
    assert_eq!(listing(dst.path()), ["slow.bin"]);
    assert_eq!(
        sha_hex(&std::fs::read(dst.path().join("slow.bin")).unwrap()),
        outcome.sha256
    );
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_fails_the_transfer_and_the_channel_goes_on() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    // Writes to /dev/full fail with ENOSPC.
    std::os::unix::fs::symlink("/dev/full", dst.path().join(".full.bin.parley-part")).unwrap();
    let path = write_file(src.path(), "full.bin", &random_bytes(3 * 1024 * 1024));
    let mut peers = Peers::new(Some(dst.path().to_path_buf()));
    match peers.send(&path).await {
        Err(TransferError::PeerFailed { reason }) => {
            assert!(reason.starts_with("not enough space: "), "{reason}")
        }
        other => panic!("unexpected {other:?}"),
    }
    match peers.bob_outcome().await {
        TransferEvent::Failed { reason, .. } => {
            assert!(reason.starts_with("not enough space: "), "{reason}")
        }
        other => panic!("unexpected {other:?}"),
    }
    // What was received is kept for a resume.
    let kept = [".full.bin.parley-part", ".full.bin.parley-part.json"];
    assert_eq!(listing(dst.path()), kept);

    let ok = write_file(src.path(), "ok.bin", b"fine");
    peers.send(&ok).await.unwrap();
    assert_eq!(listing(dst.path()), [&kept[..], &["ok.bin"]].concat());
}

#[tokio::test]
async fn an_offer_larger_than_the_free_space_is_declined_before_anything_is_written() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("recv");
    let mut s = Script::new(&dir);
    let answer = s.offer("huge.bin", 1 << 63, &sha_hex(b"x")).await;
    match &answer[..] {
        [TransferFrame::Decline { reason, .. }] => {
            assert!(
                reason.starts_with("not enough space: 9223.4 PB needed, "),
                "{reason}"
            )
        }
        other => panic!("unexpected {other:?}"),
    }
    match s.events.recv().await {
        Some(TransferEvent::Failed {
            reason, outcome, ..
        }) => {
            assert_eq!(outcome, TransferOutcome::Failed);
            assert!(reason.starts_with("not enough space"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(listing(&dir).is_empty());
    // The user is not asked about it either.
    s.session.set_ask(true);
    s.id = rand::random();
    assert!(matches!(
        &s.offer("huge.bin", 1 << 63, &sha_hex(b"x")).await[..],
        [TransferFrame::Decline { .. }]
    ));
}

#[test]
fn malformed_offers_are_declined_with_a_reason() {
    let cases = [
        (
            r#"{"type":"offer","transfer_id":"zz","name":"a","size":1,"sha256":"00"}"#,
            "zz",
        ),
        (
            r#"{"type":"offer","transfer_id":"0123456789abcdef0123456789abcdef","name":"a","size":-1,"sha256":"00"}"#,
            "0123456789abcdef0123456789abcdef",
        ),
        (r#"{"type":"offer","name":"a"}"#, ""),
    ];
    for (text, id) in cases {
        let err = TransferFrame::parse(text).unwrap_err();
        match decline_malformed(text, &err) {
            Some(TransferFrame::Decline {
                transfer_id,
                reason,
            }) => {
                assert_eq!(transfer_id, id);
                assert!(reason.starts_with("malformed offer: "), "{reason}");
            }
            other => panic!("{text}: unexpected {other:?}"),
        }
    }
    // Other garbage stays unanswered.
    for text in [r#"{"type":"done","transfer_id":"x"}"#, "not json", "[1]"] {
        let err = TransferFrame::parse(text).unwrap_err();
        assert_eq!(decline_malformed(text, &err), None, "{text}");
    }
}

#[tokio::test]
async fn progress_is_throttled() {
    let mut throttle = ProgressThrottle::new();
    let t0 = std::time::Instant::now();
    assert!(throttle.ready(t0));
    assert!(!throttle.ready(t0 + Duration::from_millis(50)));
    assert!(throttle.ready(t0 + PROGRESS_INTERVAL));
    assert!(!throttle.ready(t0 + PROGRESS_INTERVAL + Duration::from_millis(99)));
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn futures_are_send() {
    let (sink, mut rx) = memory_pair(1);
    let sink: Arc<dyn MessageSink> = Arc::new(sink);
    let (tx, mut inbound) = mpsc::channel(1);
    let (events, _) = mpsc::channel(1);
    let (_c, cancel) = watch::channel(false);
    let path = PathBuf::from("x");
    assert_send(&send_file_named(
        &path,
        Some("y"),
        sink.clone(),
        &mut inbound,
        &events,
        cancel,
    ));
    let mut session = ReceiveSession::new(None, events.clone());
    let (_commands_tx, mut commands) = mpsc::channel(1);
    assert_send(&serve_file_channel(
        &mut rx,
        &*sink,
        &mut session,
        &tx,
        &mut commands,
    ));
    assert_send(&crate::chat::ChatChannel::send_chat(&*sink, "hi"));
}

mod ask;
mod batch;
