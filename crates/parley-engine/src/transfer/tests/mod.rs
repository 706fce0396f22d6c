//! Two in-process peers wired with [`crate::channel::memory_pair`]: Alice sends,
//! Bob receives; each runs [`serve_file_channel`] like a call does.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parley_proto::data::{encode_chunk, transfer_id_to_hex, TransferFrame, FILE_PROTOCOL_VERSION};
use parley_proto::file_hash::{to_hex, FileHasher, BLOCK_BYTES};
use rand::RngCore as _;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::*;
use crate::channel::{memory_pair, MemorySink};

const TIMEOUT: Duration = Duration::from_secs(30);

fn blake3_hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

const MIB: usize = BLOCK_BYTES as usize;

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
    assert_eq!(outcome.blake3, blake3_hex(&data));
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
    assert_eq!(received, data);
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
    /// Hashes what [`Script::chunk`] sends of each offer, in order.
    hashers: std::collections::HashMap<[u8; 16], FileHasher>,
}

impl Script {
    fn new(dir: &Path) -> Script {
        let (tx, events) = mpsc::channel(1024);
        Script {
            session: ReceiveSession::new(Some(dir.to_path_buf()), tx),
            events,
            id: rand::random(),
            hashers: Default::default(),
        }
    }

    fn tid(&self) -> String {
        transfer_id_to_hex(&self.id)
    }

    async fn offer(&mut self, name: &str, size: u64) -> Vec<TransferFrame> {
        self.hashers.insert(self.id, FileHasher::new(size));
        self.session
            .on_text(TransferFrame::Offer {
                transfer_id: self.tid(),
                name: name.into(),
                size,
                version: FILE_PROTOCOL_VERSION,
                batch: None,
            })
            .await
    }

    /// A chunk with the hash of the block that ends in it, as a sender
    /// hashing in order would send it (none for a chunk out of order).
    async fn chunk(&mut self, offset: u64, payload: &[u8]) -> Vec<TransferFrame> {
        let block = match self.hashers.get_mut(&self.id) {
            Some(h) if h.position() == offset => h.update(payload).ok().flatten(),
            _ => None,
        };
        self.chunk_hashed(offset, payload, block).await
    }

    async fn chunk_hashed(
        &mut self,
        offset: u64,
        payload: &[u8],
        block: Option<[u8; 32]>,
    ) -> Vec<TransferFrame> {
        let frame = Bytes::from(encode_chunk(&self.id, offset, block.as_ref(), payload));
        self.session.on_chunk(&frame).await
    }

    /// The hash of what was sent of the current offer, hex (zeros if not
    /// all of it was).
    fn sent_hash(&self) -> String {
        match self.hashers.get(&self.id) {
            Some(h) if h.position() == h.size() => to_hex(&h.digest().expect("whole")),
            _ => "00".repeat(32),
        }
    }

    /// Sends `done` with the hash of what was sent; returns the answer,
    /// waiting for the file to be finished.
    async fn done(&mut self) -> Vec<TransferFrame> {
        self.done_with(self.sent_hash()).await
    }

    /// Sends `done` with `blake3`; returns the answer, waiting for it.
    async fn done_with(&mut self, blake3: String) -> Vec<TransferFrame> {
        let now = self.done_frame(blake3).await;
        if !now.is_empty() {
            return now;
        }
        self.later_frames(1).await
    }

    /// Sends `done` with the hash of what was sent; returns what is answered
    /// at once (the verdict comes from `later`).
    async fn send_done(&mut self) -> Vec<TransferFrame> {
        self.done_frame(self.sent_hash()).await
    }

    async fn done_frame(&mut self, blake3: String) -> Vec<TransferFrame> {
        self.session
            .on_text(TransferFrame::Done {
                transfer_id: self.tid(),
                blake3,
            })
            .await
    }

    /// Everything `later` hands back until `n` frames came, in the order they
    /// came.
    async fn later_frames(&mut self, n: usize) -> Vec<TransferFrame> {
        let mut frames = Vec::new();
        while frames.len() < n {
            let later = tokio::time::timeout(TIMEOUT, self.session.later())
                .await
                .expect("nothing came back");
            frames.extend(self.session.on_later(later).await);
        }
        frames
    }

    /// A whole honest transfer; returns the final answer.
    async fn transfer(&mut self, name: &str, data: &[u8]) -> TransferFrame {
        self.id = rand::random();
        let accept = self.offer(name, data.len() as u64).await;
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
async fn transfers_interleave_up_to_the_limit_and_one_name_is_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Script::new(dir.path());
    s.offer("one.bin", 10).await;
    let first = s.id;
    // A second file meanwhile is accepted, and their chunks interleave.
    s.id = rand::random();
    let answer = s.offer("two.bin", 4).await;
    assert!(
        matches!(&answer[..], [TransferFrame::Accept { offset: 0, .. }]),
        "{answer:?}"
    );
    let second = s.id;
    // The same name again while `one.bin` is being written: busy.
    s.id = rand::random();
    let answer = s.offer("one.bin", 3).await;
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
        let answer = s.offer(&format!("f{n}.bin"), 1).await;
        assert!(
            matches!(&answer[..], [TransferFrame::Accept { .. }]),
            "{n}: {answer:?}"
        );
        held.push(s.id);
    }
    s.id = rand::random();
    let answer = s.offer("extra.bin", 1).await;
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
    let answer = s.offer("extra.bin", 1).await;
    assert!(
        matches!(&answer[..], [TransferFrame::Accept { .. }]),
        "{answer:?}"
    );
}

#[tokio::test]
async fn the_receiver_can_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Script::new(dir.path());
    s.offer("one.bin", 10).await;
    assert!(s.chunk(0, b"01234").await.is_empty());
    let answer = s.session.cancel_active("no thanks").await;
    assert!(matches!(&answer[..], [TransferFrame::Cancel { reason, .. }] if reason == "no thanks"));
    assert!(listing(dir.path()).is_empty());
    assert!(s.session.cancel_active("again").await.is_empty());
    assert!(s.chunk(5, b"56789").await.is_empty());
    assert!(is_failed(&s.done().await, "unknown transfer"));
}

fn write_part(dir: &Path, name: &str, bytes: &[u8], sidecar: serde_json::Value) {
    std::fs::write(dir.join(format!(".{name}.parley-part")), bytes).unwrap();
    std::fs::write(
        dir.join(format!(".{name}.parley-part.json")),
        sidecar.to_string(),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_from_a_partial_file_it_checked_with_the_sender() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let d = dst.path();
    let data = random_bytes(3 * MIB + 5);
    let path = write_file(src.path(), "movie.mkv", &data);
    let sidecar = serde_json::json!({"size": data.len(), "version": 2});
    // 1.43 MB kept: the whole first block resumes, the rest is sent again.
    write_part(d, "movie.mkv", &data[..1_500_000], sidecar.clone());

    let mut peers = Peers::new(Some(d.to_path_buf()));
    let outcome = peers.send(&path).await.unwrap();
    assert_eq!(outcome.resumed_from, MIB as u64);
    assert_eq!(outcome.blake3, blake3_hex(&data));
    assert_eq!(std::fs::read(d.join("movie.mkv")).unwrap(), data);
    assert_eq!(listing(d), ["movie.mkv"]);

    // Offered again: the receiver holds it already (`have` of the whole file,
    // the hashes match), answers `complete`, and nothing is sent or written.
    let outcome = peers.send(&path).await.unwrap();
    assert_eq!(outcome.resumed_from, data.len() as u64, "nothing sent");
    assert_eq!(outcome.blake3, blake3_hex(&data));
    assert_eq!(listing(d), ["movie.mkv"]);
    std::fs::rename(d.join("movie.mkv"), d.join("kept.mkv")).unwrap();

    // A part kept by file protocol 1 (a SHA-256 in its sidecar) is not reused.
    let v1 = serde_json::json!({"sha256": "00".repeat(32), "size": data.len()});
    write_part(d, "movie.mkv", &data[..2 * MIB], v1);
    let outcome = peers.send(&path).await.unwrap();
    assert_eq!(outcome.resumed_from, 0);
    assert_eq!(std::fs::read(d.join("movie.mkv")).unwrap(), data);
    std::fs::remove_file(d.join("movie.mkv")).unwrap();

    // A corrupted prefix is not trusted: its hash differs from the sender's
    // first bytes, so the transfer starts over, and the file arrives whole.
    let mut bad = data[..2 * MIB].to_vec();
    bad[10] ^= 0xff;
    write_part(d, "movie.mkv", &bad, sidecar.clone());
    let outcome = peers.send(&path).await.unwrap();
    assert_eq!(outcome.resumed_from, 0);
    assert_eq!(std::fs::read(d.join("movie.mkv")).unwrap(), data);

    // A different file of the same name and size is not taken for it: the
    // new one is saved beside it.
    let mut other = data.clone();
    other[3 * MIB] ^= 1;
    std::fs::write(d.join("movie.mkv"), &other).unwrap();
    let outcome = peers.send(&path).await.unwrap();
    assert_eq!(outcome.resumed_from, 0);
    assert_eq!(std::fs::read(d.join("movie (1).mkv")).unwrap(), data);
    assert_eq!(std::fs::read(d.join("movie.mkv")).unwrap(), other);
    assert_eq!(listing(d), ["kept.mkv", "movie (1).mkv", "movie.mkv"]);

    // The same with a kept part of the sent file beside the different one:
    // once the whole file turns out not to be it, the part is hashed (in a
    // task of its own, as for an offer) and the transfer goes on from it.
    std::fs::remove_file(d.join("movie (1).mkv")).unwrap();
    write_part(d, "movie.mkv", &data[..2 * MIB], sidecar);
    let outcome = peers.send(&path).await.unwrap();
    assert_eq!(outcome.resumed_from, 2 * MIB as u64);
    assert_eq!(std::fs::read(d.join("movie (1).mkv")).unwrap(), data);
    assert_eq!(std::fs::read(d.join("movie.mkv")).unwrap(), other);
    assert_eq!(listing(d), ["kept.mkv", "movie (1).mkv", "movie.mkv"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_channel_keeps_the_partial_file_for_resume() {
    let dst = tempfile::tempdir().unwrap();
    let (tx, mut events) = mpsc::channel(64);
    let mut session = ReceiveSession::new(Some(dst.path().to_path_buf()), tx);
    let data = random_bytes(3 * MIB);
    let id = [3u8; 16];
    let tid = transfer_id_to_hex(&id);
    let offer = TransferFrame::Offer {
        transfer_id: tid.clone(),
        name: "x.bin".into(),
        size: data.len() as u64,
        version: FILE_PROTOCOL_VERSION,
        batch: None,
    };
    session.on_text(offer.clone()).await;
    let mut hasher = FileHasher::new(data.len() as u64);
    let kept = MIB + 70_000;
    for (at, piece) in [(0, &data[..MIB]), (MIB, &data[MIB..kept])] {
        let block = hasher.update(piece).unwrap();
        let frame = encode_chunk(&id, at as u64, block.as_ref(), piece);
        assert!(session.on_chunk(&Bytes::from(frame)).await.is_empty());
    }
    session.close().await;
    // The part keeps the whole block, checked against its hash; the 70,000
    // bytes of the next block never were (its hash comes with its end).
    let part = dst.path().join(".x.bin.parley-part");
    assert_eq!(std::fs::metadata(&part).unwrap().len(), MIB as u64);
    while events.try_recv().is_ok() {}
    // The same offer again (new call): the receiver says what it holds, in
    // whole blocks (once a task of its own hashed them), and resumes there
    // once the sender vouches for it.
    assert_eq!(session.on_text(offer).await, []);
    let later = tokio::time::timeout(TIMEOUT, session.later())
        .await
        .unwrap();
    let answer = session.on_later(later).await;
    let want = TransferFrame::Have {
        transfer_id: tid.clone(),
        offset: MIB as u64,
        blake3: blake3_hex(&data[..MIB]),
    };
    assert_eq!(answer, [want]);
    let answer = session
        .on_text(TransferFrame::Resume {
            transfer_id: tid.clone(),
            offset: MIB as u64,
        })
        .await;
    assert!(
        matches!(answer[..], [TransferFrame::Accept { offset, .. }] if offset == MIB as u64),
        "{answer:?}"
    );
    assert_eq!(std::fs::metadata(&part).unwrap().len(), MIB as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_both_sides() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let path = write_file(src.path(), "slow.bin", &random_bytes(8 * MIB));
    let mut peers = Peers::with_delay(Some(dst.path().to_path_buf()), Duration::from_millis(2));
    let (cancel_tx, cancel) = watch::channel(false);
    let mut alice_events = std::mem::replace(&mut peers.alice_events, mpsc::channel(1).1);
    tokio::spawn(async move {
        // Cancel mid-stream, once more than a block is out.
        while let Some(event) = alice_events.recv().await {
            if matches!(event, TransferEvent::Progress(p) if p.bytes_done >= 3 * BLOCK_BYTES / 2) {
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

    // Offered again, it resumes from there (its whole blocks) and arrives whole.
    let outcome = peers.send(&path).await.unwrap();
    assert_eq!(outcome.resumed_from, partial / BLOCK_BYTES * BLOCK_BYTES);
    assert!(
        outcome.resumed_from >= BLOCK_BYTES,
        "{partial} bytes were kept"
    );
    assert_eq!(listing(dst.path()), ["slow.bin"]);
    assert_eq!(
        blake3_hex(&std::fs::read(dst.path().join("slow.bin")).unwrap()),
        outcome.blake3
    );
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
mod bad_input;
mod batch;
mod probe;
mod serve;
mod starved;
