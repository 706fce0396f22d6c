//! A dropped folder offered as many offers (a batch): the receiving user is
//! asked once, and the answer holds for the folder's offers waiting now and
//! those still to come.

use super::*;

/// A batch of `files` offers named `name`, with a new id.
fn batch(name: &str, files: u64) -> Batch {
    Batch {
        id: transfer_id_to_hex(&rand::random()),
        name: name.into(),
        files,
        size: 3 * files,
    }
}

/// The offer of `rel` (3 bytes, or an empty folder when it ends with `/`) in
/// `batch`; returns its transfer id and the receiver's answer.
async fn offer(s: &mut ReceiveSession, rel: &str, batch: &Batch) -> (String, Vec<TransferFrame>) {
    let tid = transfer_id_to_hex(&rand::random());
    let folder = rel.ends_with('/');
    let frame = TransferFrame::Offer {
        transfer_id: tid.clone(),
        name: rel.into(),
        size: if folder { 0 } else { 3 },
        version: FILE_PROTOCOL_VERSION,
        batch: Some(batch.clone()),
    };
    (tid, s.on_text(frame).await)
}

/// The `Incoming` events waiting, in order.
fn asked(events: &mut mpsc::Receiver<TransferEvent>) -> Vec<TransferProgress> {
    let mut out = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let TransferEvent::Incoming(p) = event {
            out.push(p);
        }
    }
    out
}

fn accepted(frames: &[TransferFrame]) -> usize {
    frames
        .iter()
        .filter(|f| matches!(f, TransferFrame::Accept { offset: 0, .. }))
        .count()
}

#[tokio::test]
async fn a_folder_is_asked_about_once_and_the_answer_holds_for_all_of_it() {
    let dst = tempfile::tempdir().unwrap();
    let (tx, mut events) = mpsc::channel(1024);
    let mut s = ReceiveSession::new(Some(dst.path().to_path_buf()), tx);
    s.set_ask(true);

    // Three offers of one folder wait; each names the folder (sanitised).
    let mut trip = batch("../tr\u{7}ip", 5);
    for rel in ["trip/a.txt", "trip/deep/b.txt", "trip/empty/"] {
        assert!(offer(&mut s, rel, &trip).await.1.is_empty(), "{rel} waits");
    }
    let waiting = asked(&mut events);
    assert_eq!(waiting.len(), 3);
    for p in &waiting {
        let b = p.batch.as_ref().expect("its folder");
        assert_eq!((b.id.as_str(), b.name.as_str()), (trip.id.as_str(), "trip"));
        assert_eq!((b.files, b.size), (5, 15));
    }
    assert!(
        !dst.path().join("trip").exists(),
        "nothing made before the answer"
    );

    // One yes, by the folder's id: the files are accepted, the empty folder made.
    let frames = s
        .command(TransferCommand::Accept {
            transfer_id: trip.id.clone(),
        })
        .await;
    assert_eq!(accepted(&frames), 2, "{frames:?}");
    assert_eq!(
        frames
            .iter()
            .filter(|f| matches!(f, TransferFrame::Complete { .. }))
            .count(),
        1
    );
    assert!(dst.path().join("trip/empty").is_dir());

    // A later offer of the same folder, in a later session too: no question.
    let (_, frames) = offer(&mut s, "trip/c.txt", &trip).await;
    assert_eq!(accepted(&frames), 1, "{frames:?}");
    let (tx, mut events2) = mpsc::channel(1024);
    let mut next = ReceiveSession::new(Some(dst.path().to_path_buf()), tx);
    next.set_ask(true);
    trip.name = "trip".into();
    let (_, frames) = offer(&mut next, "trip/d.txt", &trip).await;
    assert_eq!(accepted(&frames), 1, "{frames:?}");
    assert!(asked(&mut events).is_empty() && asked(&mut events2).is_empty());

    // Another folder, declined once: its offers now and later are declined.
    let other = batch("other", 3);
    offer(&mut s, "other/x.txt", &other).await;
    offer(&mut s, "other/y/", &other).await;
    assert_eq!(asked(&mut events).len(), 2);
    let frames = s
        .command(TransferCommand::Decline {
            transfer_id: other.id.clone(),
        })
        .await;
    let declined = |frames: &[TransferFrame]| {
        frames
            .iter()
            .filter(|f| matches!(f, TransferFrame::Decline { reason, .. } if reason == DECLINED_BY_USER))
            .count()
    };
    assert_eq!(declined(&frames), 2, "{frames:?}");
    let (_, frames) = offer(&mut s, "other/z.txt", &other).await;
    assert_eq!(declined(&frames), 1, "{frames:?}");
    assert!(asked(&mut events).is_empty());
    assert!(!dst.path().join("other").exists(), "nothing of it written");
}

#[tokio::test]
async fn cancelling_a_folder_stops_its_files_and_declines_the_rest() {
    let dst = tempfile::tempdir().unwrap();
    let (tx, _events) = mpsc::channel(1024);
    let mut s = ReceiveSession::new(Some(dst.path().to_path_buf()), tx);
    s.set_ask(true);
    let b = batch("pics", 3);
    let (first, _) = offer(&mut s, "pics/1.jpg", &b).await;
    let frames = s
        .command(TransferCommand::Accept {
            transfer_id: b.id.clone(),
        })
        .await;
    assert_eq!(accepted(&frames), 1);
    assert!(s.is_receiving(&first));
    let frames = s
        .command(TransferCommand::Cancel {
            transfer_id: b.id.clone(),
        })
        .await;
    assert!(
        matches!(&frames[..], [TransferFrame::Cancel { transfer_id, .. }] if *transfer_id == first),
        "{frames:?}"
    );
    assert!(!s.is_receiving(&first));
    let (_, frames) = offer(&mut s, "pics/2.jpg", &b).await;
    assert!(
        matches!(frames[..], [TransferFrame::Decline { .. }]),
        "{frames:?}"
    );
}

#[tokio::test]
async fn a_bad_batch_id_is_ignored_and_the_file_asked_about_on_its_own() {
    let dst = tempfile::tempdir().unwrap();
    let (tx, mut events) = mpsc::channel(1024);
    let mut s = ReceiveSession::new(Some(dst.path().to_path_buf()), tx);
    s.set_ask(true);
    let mut b = batch("x", 1);
    b.id = "not hex".into();
    offer(&mut s, "x/a.txt", &b).await;
    let waiting = asked(&mut events);
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].batch, None);
}

#[tokio::test]
async fn a_yes_covers_only_the_folder_the_user_saw() {
    let dst = tempfile::tempdir().unwrap();
    let (tx, mut events) = mpsc::channel(1024);
    let mut s = ReceiveSession::new(Some(dst.path().to_path_buf()), tx);
    s.set_ask(true);
    // The user sees "small, 2 files, 6 bytes" and says yes.
    let small = batch("small", 2);
    offer(&mut s, "small/a.txt", &small).await;
    assert_eq!(asked(&mut events).len(), 1);
    let frames = s
        .command(TransferCommand::Accept {
            transfer_id: small.id.clone(),
        })
        .await;
    assert_eq!(accepted(&frames), 1);
    // The second file fits; the same one offered again is not counted twice.
    let (b, frames) = offer(&mut s, "small/b.txt", &small).await;
    assert_eq!(accepted(&frames), 1, "{frames:?}");
    s.command(TransferCommand::Cancel { transfer_id: b }).await;
    // A third file, one outside the folder, or the same id claiming a bigger
    // folder: asked about again, not taken on the old yes.
    let (_, frames) = offer(&mut s, "small/c.txt", &small).await;
    assert!(frames.is_empty(), "{frames:?}");
    let (_, frames) = offer(&mut s, "elsewhere/x.txt", &small).await;
    assert!(frames.is_empty(), "{frames:?}");
    let mut bigger = small.clone();
    bigger.files = 1000;
    bigger.size = 1 << 40;
    let (_, frames) = offer(&mut s, "small/d.txt", &bigger).await;
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(asked(&mut events).len(), 3);
    // Saying yes again does not stretch the folder: they are declined.
    let frames = s
        .command(TransferCommand::Accept {
            transfer_id: small.id.clone(),
        })
        .await;
    assert_eq!(accepted(&frames), 0, "{frames:?}");
    assert_eq!(frames.len(), 3, "{frames:?}");
}

#[tokio::test]
async fn a_file_offered_again_counts_once_unless_it_changed() {
    let dst = tempfile::tempdir().unwrap();
    let (tx, mut events) = mpsc::channel(1024);
    let mut s = ReceiveSession::new(Some(dst.path().to_path_buf()), tx);
    s.set_ask(true);
    let folder = batch("pics", 2);
    offer(&mut s, "pics/a.txt", &folder).await;
    s.command(TransferCommand::Accept {
        transfer_id: folder.id.clone(),
    })
    .await;
    asked(&mut events);
    let again = |size: u64| TransferFrame::Offer {
        transfer_id: "ab".repeat(16),
        name: "pics/b.txt".into(),
        size,
        version: FILE_PROTOCOL_VERSION,
        batch: Some(folder.clone()),
    };
    // Taken, cancelled by the sender, offered again the same: still taken.
    let frames = s.on_text(again(3)).await;
    assert_eq!(accepted(&frames), 1, "{frames:?}");
    let cancel = TransferFrame::Cancel {
        transfer_id: "ab".repeat(16),
        reason: "reconnecting".into(),
    };
    s.on_text(cancel.clone()).await;
    let frames = s.on_text(again(3)).await;
    assert_eq!(accepted(&frames), 1, "{frames:?}");
    s.on_text(cancel).await;
    // The same id grown to 5 MB: beyond the folder the user saw, asked again.
    let frames = s.on_text(again(5_000_000)).await;
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(asked(&mut events).len(), 1);
}
