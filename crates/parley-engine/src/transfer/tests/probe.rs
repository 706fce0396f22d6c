//! Offers of a file partly or wholly here already: what is here is hashed by
//! a task of its own, so the file channel goes on with other transfers
//! meanwhile, and the `have` comes from `later`.

use super::*;

/// The `have` a receiver holding `data[..len]` of a file of `data.len()`
/// bytes sends: the prefix's BLAKE3 (docs/protocol.md §8.3).
fn have_hash(data: &[u8], len: usize) -> String {
    let size = data.len() as u64;
    let hasher = parley_proto::file_hash::hash_prefix(data, size, len as u64, || false).unwrap();
    to_hex(&hasher.digest().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_part_is_hashed_while_another_transfer_goes_on() {
    let dst = tempfile::tempdir().unwrap();
    let d = dst.path();
    let big = random_bytes(24 * MIB + 7);
    let sidecar = serde_json::json!({"size": big.len(), "version": 2});
    write_part(d, "big.bin", &big[..16 * MIB + 5], sidecar);
    let mut s = Script::new(d);

    // The offer of the kept file gets no answer yet: its part is being hashed.
    let big_id = s.id;
    let big_tid = s.tid();
    assert_eq!(s.offer("big.bin", big.len() as u64).await, []);
    // The same offer again (a sender repeating itself) starts nothing more.
    assert_eq!(s.offer("big.bin", big.len() as u64).await, []);

    // Another file offered meanwhile is accepted at once and received.
    s.id = rand::random();
    let small = random_bytes(300_000);
    let accept = s.offer("small.bin", small.len() as u64).await;
    assert!(
        matches!(accept[..], [TransferFrame::Accept { offset: 0, .. }]),
        "{accept:?}"
    );
    assert!(s.chunk(0, &small).await.is_empty());
    assert_eq!(s.send_done().await, []);

    // Both answers come back: the small file's `complete` and the big one's
    // `have` of its whole kept blocks (16 MiB), whichever is first.
    let frames = s.later_frames(2).await;
    let small_tid = s.tid();
    assert!(
        frames.iter().any(|f| matches!(f,
            TransferFrame::Complete { transfer_id } if *transfer_id == small_tid)),
        "{frames:?}"
    );
    let want = TransferFrame::Have {
        transfer_id: big_tid.clone(),
        offset: 16 * MIB as u64,
        blake3: have_hash(&big, 16 * MIB),
    };
    assert!(frames.contains(&want), "{frames:?}");
    assert_eq!(std::fs::read(d.join("small.bin")).unwrap(), small);

    // The sender resumes from there; the rest arrives and the file is whole.
    s.id = big_id;
    let size = big.len() as u64;
    let hasher =
        parley_proto::file_hash::hash_prefix(&big[..], size, 16 * MIB as u64, || false).unwrap();
    s.hashers.insert(big_id, hasher);
    let resumed = s
        .session
        .on_text(TransferFrame::Resume {
            transfer_id: big_tid.clone(),
            offset: 16 * MIB as u64,
        })
        .await;
    assert!(
        matches!(resumed[..], [TransferFrame::Accept { offset, .. }] if offset == 16 * MIB as u64),
        "{resumed:?}"
    );
    for (i, piece) in big[16 * MIB..].chunks(MIB).enumerate() {
        assert!(s.chunk(((16 + i) * MIB) as u64, piece).await.is_empty());
    }
    let verdict = s.done().await;
    assert!(
        matches!(verdict[..], [TransferFrame::Complete { .. }]),
        "{verdict:?}"
    );
    assert_eq!(std::fs::read(d.join("big.bin")).unwrap(), big);
}

/// A 4 MiB `movie.mkv` with its first 2 MiB kept in `d`, offered, and
/// cancelled by the sender ("changed my mind") while the kept part is hashed:
/// the session, the file's bytes and the cancelled offer's id.
async fn offered_and_cancelled_while_hashed(d: &Path) -> (Script, Vec<u8>, String) {
    let data = random_bytes(4 * MIB);
    let sidecar = serde_json::json!({"size": data.len(), "version": 2});
    write_part(d, "movie.mkv", &data[..2 * MIB], sidecar);
    let mut s = Script::new(d);
    let tid = s.tid();
    assert_eq!(s.offer("movie.mkv", data.len() as u64).await, []);
    let cancel = TransferFrame::Cancel {
        transfer_id: tid.clone(),
        reason: "changed my mind".into(),
    };
    assert_eq!(s.session.on_text(cancel).await, []);
    (s, data, tid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_cancelled_while_its_part_is_hashed_is_dropped() {
    let dst = tempfile::tempdir().unwrap();
    let d = dst.path();
    let (mut s, data, tid) = offered_and_cancelled_while_hashed(d).await;
    assert!(!s.session.is_receiving(&tid));
    // The UI hears of it as of any offer the sender cancelled.
    let event = s.events.try_recv().expect("an event");
    assert!(
        matches!(&event, TransferEvent::Failed { transfer_id, outcome: TransferOutcome::Cancelled, reason, .. }
            if *transfer_id == tid && reason.contains("changed my mind")),
        "{event:?}"
    );
    // The probe's result comes back to nobody: no answer, and the part is
    // free again, so the same file offered anew gets its `have`.
    let later = tokio::time::timeout(TIMEOUT, s.session.later())
        .await
        .expect("the probe ends");
    assert_eq!(s.session.on_later(later).await, []);
    s.id = rand::random();
    assert_eq!(s.offer("movie.mkv", data.len() as u64).await, []);
    let frames = s.later_frames(1).await;
    assert!(
        matches!(&frames[..], [TransferFrame::Have { offset, .. }] if *offset == 2 * MIB as u64),
        "{frames:?}"
    );
    assert_eq!(
        listing(d),
        [".movie.mkv.parley-part", ".movie.mkv.parley-part.json"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_offered_again_while_its_cancelled_probe_ends_is_probed_after_it() {
    let dst = tempfile::tempdir().unwrap();
    let (mut s, data, _) = offered_and_cancelled_while_hashed(dst.path()).await;
    // Offered again at once, while the stopped probe still holds the part's
    // lease (its result is not handled yet): no `busy` decline, and no
    // answer until the part is free and hashed again.
    s.id = rand::random();
    let again = s.tid();
    assert_eq!(s.offer("movie.mkv", data.len() as u64).await, []);
    assert!(s.session.is_receiving(&again));
    // The stopped probe's result lets go of the lease; the new offer's probe
    // then answers with the kept part's `have`.
    let frames = s.later_frames(1).await;
    assert!(
        matches!(&frames[..], [TransferFrame::Have { transfer_id, offset, .. }]
            if *transfer_id == again && *offset == 2 * MIB as u64),
        "{frames:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receive_folder_changed_after_have_starts_the_file_over_there() {
    let (old, new) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data = random_bytes(4 * MIB);
    let sidecar = serde_json::json!({"size": data.len(), "version": 2});
    write_part(old.path(), "movie.mkv", &data[..2 * MIB], sidecar.clone());
    // The new folder holds a part of the same name and size that is not
    // this file: it must not be taken as the prefix `have` vouched for.
    write_part(new.path(), "movie.mkv", &random_bytes(3 * MIB), sidecar);
    let mut s = Script::new(old.path());
    let tid = s.tid();
    assert_eq!(s.offer("movie.mkv", data.len() as u64).await, []);
    let frames = s.later_frames(1).await;
    assert!(
        matches!(&frames[..], [TransferFrame::Have { offset, .. }] if *offset == 2 * MIB as u64),
        "{frames:?}"
    );
    s.session.set_receive_dir(Some(new.path().to_path_buf()));
    let resume = TransferFrame::Resume {
        transfer_id: tid,
        offset: 2 * MIB as u64,
    };
    let answer = s.session.on_text(resume).await;
    assert!(
        matches!(answer[..], [TransferFrame::Accept { offset: 0, .. }]),
        "{answer:?}"
    );
    for (i, piece) in data.chunks(MIB).enumerate() {
        assert!(s.chunk((i * MIB) as u64, piece).await.is_empty());
    }
    let verdict = s.done().await;
    assert!(
        matches!(verdict[..], [TransferFrame::Complete { .. }]),
        "{verdict:?}"
    );
    assert_eq!(std::fs::read(new.path().join("movie.mkv")).unwrap(), data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_closed_while_a_part_is_hashed_fails_the_offer() {
    let dst = tempfile::tempdir().unwrap();
    let d = dst.path();
    let data = random_bytes(3 * MIB);
    let sidecar = serde_json::json!({"size": data.len(), "version": 2});
    write_part(d, "movie.mkv", &data[..2 * MIB], sidecar);
    let mut s = Script::new(d);
    let tid = s.tid();
    assert_eq!(s.offer("movie.mkv", data.len() as u64).await, []);
    s.session.close().await;
    let event = s.events.try_recv().expect("an event");
    assert!(
        matches!(&event, TransferEvent::Failed { transfer_id, outcome: TransferOutcome::Failed, .. }
            if *transfer_id == tid),
        "{event:?}"
    );
    // What the probe found goes nowhere, and the part stays for a resume.
    let later = tokio::time::timeout(TIMEOUT, s.session.later())
        .await
        .expect("the probe ends");
    assert_eq!(s.session.on_later(later).await, []);
    assert!(!s.session.is_receiving(&tid));
    assert_eq!(
        listing(d),
        [".movie.mkv.parley-part", ".movie.mkv.parley-part.json"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_part_behind_a_different_file_is_hashed_after_resume_0() {
    let dst = tempfile::tempdir().unwrap();
    let d = dst.path();
    let data = random_bytes(4 * MIB);
    // A different file of the same name and size, and a kept part of the
    // offered one.
    let mut other = data.clone();
    other[5] ^= 1;
    std::fs::write(d.join("movie.mkv"), &other).unwrap();
    let sidecar = serde_json::json!({"size": data.len(), "version": 2});
    write_part(d, "movie.mkv", &data[..2 * MIB], sidecar);
    let mut s = Script::new(d);
    let tid = s.tid();
    assert_eq!(s.offer("movie.mkv", data.len() as u64).await, []);
    // First the whole file here is offered to the sender ...
    let want = TransferFrame::Have {
        transfer_id: tid.clone(),
        offset: data.len() as u64,
        blake3: blake3_hex(&other),
    };
    assert_eq!(s.later_frames(1).await, [want]);
    // ... which is not its file (`resume` at 0): the part is hashed by a task
    // of its own too, so nothing is answered at once, and its `have` follows.
    let resumed = s
        .session
        .on_text(TransferFrame::Resume {
            transfer_id: tid.clone(),
            offset: 0,
        })
        .await;
    assert_eq!(resumed, []);
    let want = TransferFrame::Have {
        transfer_id: tid.clone(),
        offset: 2 * MIB as u64,
        blake3: have_hash(&data, 2 * MIB),
    };
    assert_eq!(s.later_frames(1).await, [want]);
}
