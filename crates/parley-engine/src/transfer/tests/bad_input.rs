//! Bad input from the sending peer or the disk: hostile names, a peer that
//! lies about sizes or hashes, malformed offers, an older protocol, a full
//! disk. Each gets a clear answer, and nothing of it is left behind.

use super::*;

impl Script {
    /// Offers `data` as a new file `name` and sends it in two chunks cut at
    /// `cut`, the first carrying `hash` as a block hash; returns the answers
    /// to the chunks, or to `done` if the chunks got none.
    async fn two_chunks(
        &mut self,
        name: &str,
        data: &[u8],
        cut: usize,
        hash: [u8; 32],
    ) -> Vec<TransferFrame> {
        self.id = rand::random();
        self.offer(name, data.len() as u64).await;
        let mut answers = self.chunk_hashed(0, &data[..cut], Some(hash)).await;
        answers.extend(self.chunk_hashed(cut as u64, &data[cut..], None).await);
        if answers.is_empty() {
            answers = self.done().await;
        }
        answers
    }
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
    s.offer("big.bin", 10).await;
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

    // A wrong hash in `done`.
    s.id = rand::random();
    s.offer("hash.bin", data.len() as u64).await;
    assert!(s.chunk(0, &data[..60_000]).await.is_empty());
    assert!(s.chunk(60_000, &data[60_000..]).await.is_empty());
    let answer = s.done_with(blake3_hex(b"something else")).await;
    assert!(is_failed(&answer, "BLAKE3 mismatch"), "{answer:?}");
    assert!(listing(dir.path()).is_empty());
    // A malformed one.
    s.id = rand::random();
    s.offer("hash.bin", 3).await;
    assert!(s.chunk(0, b"abc").await.is_empty());
    assert!(is_failed(&s.done_with("xyz".into()).await, "64 hex"));
    assert!(listing(dir.path()).is_empty());

    // A block that does not match the hash sent with it: the transfer stops
    // by the next chunk (or at `done`), and nothing is kept.
    let big = random_bytes(MIB + 5_000);
    let answers = s.two_chunks("block.bin", &big, MIB, [7; 32]).await;
    assert!(
        is_failed(&answers, "does not match its BLAKE3 hash"),
        "{answers:?}"
    );
    assert!(listing(dir.path()).is_empty());
    // A block hash missing where a block ends: the same.
    s.id = rand::random();
    s.offer("block.bin", 10).await;
    let mut answers = s.chunk_hashed(0, b"0123456789", None).await;
    if answers.is_empty() {
        answers = s.done().await;
    }
    assert!(
        is_failed(&answers, "does not match its BLAKE3 hash"),
        "{answers:?}"
    );
    assert!(listing(dir.path()).is_empty());
    // A chunk that runs past its block's end (with that block's right hash),
    // and a hash on a chunk no block ends in: framing a sender must not use
    // (docs/protocol.md §8.3), refused the same way, nothing kept.
    let cv = FileHasher::new(big.len() as u64)
        .update(&big[..MIB])
        .unwrap()
        .expect("a block ends");
    for cut in [MIB + 100, 1000] {
        let answers = s.two_chunks("framing.bin", &big, cut, cv).await;
        assert!(
            is_failed(&answers, "does not match its BLAKE3 hash"),
            "{cut}: {answers:?}"
        );
        assert!(listing(dir.path()).is_empty());
    }

    // A gap in the offsets.
    s.id = rand::random();
    s.offer("gap.bin", data.len() as u64).await;
    assert!(s.chunk(0, &data[..1000]).await.is_empty());
    assert!(is_failed(
        &s.chunk(2000, &data[2000..3000]).await,
        "bad offset"
    ));
    assert!(listing(dir.path()).is_empty());

    // `done` too early.
    s.id = rand::random();
    s.offer("short.bin", data.len() as u64).await;
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
    let answer = s.offer("huge.bin", 1 << 63).await;
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
        &s.offer("huge.bin", 1 << 63).await[..],
        [TransferFrame::Decline { .. }]
    ));
}

#[test]
fn malformed_offers_are_declined_with_a_reason() {
    let cases = [
        (
            r#"{"type":"offer","transfer_id":"zz","name":"a","size":1,"version":2}"#,
            "zz",
        ),
        (
            r#"{"type":"offer","transfer_id":"0123456789abcdef0123456789abcdef","name":"a","size":-1,"version":2}"#,
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
async fn file_protocol_1_is_refused_clearly_both_ways() {
    // A sender of version 1 (a SHA-256, no version) is declined, and told why.
    let dir = tempfile::tempdir().unwrap();
    let mut s = Script::new(dir.path());
    let v1 = format!(
        r#"{{"type":"offer","transfer_id":"{}","name":"a.txt","size":3,"sha256":"{}"}}"#,
        s.tid(),
        "00".repeat(32)
    );
    let answer = s.session.on_text(TransferFrame::parse(&v1).unwrap()).await;
    match &answer[..] {
        [TransferFrame::Decline { reason, .. }] => {
            assert!(
                reason.starts_with("unsupported file protocol 1"),
                "{reason}"
            );
            assert!(reason.contains("update Parley"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(listing(dir.path()).is_empty());

    // A receiver of version 1 declines our offer as malformed (no `sha256`):
    // the sender says the receiver must update.
    let src = tempfile::tempdir().unwrap();
    let path = write_file(src.path(), "a.txt", b"abc");
    let (alice, mut bob) = memory_pair(64);
    let (to_alice, mut inbound) = mpsc::channel(8);
    tokio::spawn(async move {
        // Bob: a version 1 parser, which needs `sha256`.
        while let Some(DcMessage::Text(text)) = bob.recv().await {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            if value["sha256"].is_null() {
                let id = value["transfer_id"].as_str().unwrap().to_owned();
                let _ = to_alice
                    .send(TransferFrame::Decline {
                        transfer_id: id,
                        reason: "malformed offer: missing field `sha256`".into(),
                    })
                    .await;
            }
        }
    });
    let (events, _rx) = mpsc::channel(64);
    let (_keep, cancel) = watch::channel(false);
    match send_file(&path, Arc::new(alice), &mut inbound, &events, cancel).await {
        Err(TransferError::Declined { reason }) => {
            assert!(reason.contains("too old"), "{reason}");
            assert!(reason.contains("file protocol 1"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
}
