//! [`FileSends`] against a real [`ReceiveSession`] over an in-memory channel:
//! sends run several at once, a queued file can be cancelled before its offer,
//! and every file arrives.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::data::{Internal, Report, Reporter};
use super::file_sends::{inbound_channel, Cancelled, FileSends, MAX_CONCURRENT_SENDS};
use super::FileToSend;
use crate::channel::{memory_pair, MessageSink};
use crate::transfer::{
    serve_file_channel, ReceiveSession, TransferCommand, TransferDirection, TransferEvent,
    TransferOutcome,
};

/// Waits for the next event `f` picks, skipping the others.
async fn next<T>(
    events: &mut mpsc::Receiver<TransferEvent>,
    mut f: impl FnMut(&TransferEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let ev = events.recv().await.expect("events open");
            if let Some(t) = f(&ev) {
                return t;
            }
        }
    })
    .await
    .expect("event in time")
}

/// Alice's [`FileSends`] sending files to Bob over two in-memory channels,
/// each side running `serve_file_channel` as a call does; Bob receives into
/// a folder and asks his user about each offer.
struct Pair {
    /// Alice's sends (running).
    sends: FileSends,
    bob_events: mpsc::Receiver<TransferEvent>,
    /// Bob's user: answers to offers.
    bob_commands: mpsc::Sender<TransferCommand>,
    alice_events: mpsc::Receiver<TransferEvent>,
    /// What Alice's sends report to the call.
    reports: mpsc::Receiver<Report>,
}

impl Pair {
    /// Starts Alice sending `files` to Bob, who receives into `dst`.
    fn start(files: Vec<FileToSend>, dst: &Path) -> Pair {
        let (ab_sink, mut ab_rx) = memory_pair(64);
        let (ba_sink, mut ba_rx) = memory_pair(64);
        let (bob_tx, bob_events) = mpsc::channel(1024);
        let (bob_commands, mut bob_cmd_rx) = mpsc::channel(64);
        let mut bob = ReceiveSession::new(Some(dst.to_path_buf()), bob_tx);
        bob.set_ask(true);
        let (unused_tx, _unused_rx) = inbound_channel();
        tokio::spawn(async move {
            let _keep = _unused_rx;
            let _ = serve_file_channel(&mut ab_rx, &ba_sink, &mut bob, &unused_tx, &mut bob_cmd_rx)
                .await;
        });
        let (alice_tx, alice_events) = mpsc::channel(1024);
        let (to_sender, answers) = inbound_channel();
        let (_alice_cmd, mut alice_cmd_rx) = mpsc::channel(1);
        let mut alice_session = ReceiveSession::new(None, alice_tx.clone());
        let sink: Arc<dyn MessageSink> = Arc::new(ab_sink);
        let alice_sink = Arc::clone(&sink);
        tokio::spawn(async move {
            let _keep = _alice_cmd;
            let _ = serve_file_channel(
                &mut ba_rx,
                &*alice_sink,
                &mut alice_session,
                &to_sender,
                &mut alice_cmd_rx,
            )
            .await;
        });
        let sends = FileSends::default();
        let router = sends.clone();
        tokio::spawn(async move { router.route(answers).await });
        let (report_tx, reports) = mpsc::channel::<Report>(64);
        let (more_tx, more) = mpsc::unbounded_channel();
        let runner = sends.clone();
        tokio::spawn(async move {
            let _keep = more_tx;
            runner
                .run(files, more, sink, alice_tx, Reporter::new(report_tx))
                .await
        });
        Pair {
            sends,
            bob_events,
            bob_commands,
            alice_events,
            reports,
        }
    }
}

#[tokio::test]
async fn files_are_offered_several_at_once_and_a_queued_one_can_be_cancelled() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let count = MAX_CONCURRENT_SENDS + 4;
    let files: Vec<FileToSend> = (0..count)
        .map(|i| {
            let path: PathBuf = src.path().join(format!("f{i:02}.txt"));
            std::fs::write(&path, format!("file {i}").repeat(100)).unwrap();
            FileToSend {
                path,
                name: None,
                to: None,
                transfer_id: Some(format!("{i:032x}")),
                batch: None,
            }
        })
        .collect();
    let last = files.last().unwrap().transfer_id.clone().unwrap();

    // Bob asks his user: offers wait, so the ones in flight can be counted.
    let Pair {
        sends,
        mut bob_events,
        bob_commands: bob_cmd_tx,
        mut alice_events,
        mut reports,
    } = Pair::start(files, dst.path());

    // Exactly MAX_CONCURRENT_SENDS offers reach Bob before anyone answers.
    let mut offered = Vec::new();
    while offered.len() < MAX_CONCURRENT_SENDS {
        let id = next(&mut bob_events, |ev| match ev {
            TransferEvent::Incoming(p) => Some(p.transfer_id.clone()),
            _ => None,
        })
        .await;
        offered.push(id);
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), async {
            next(&mut bob_events, |ev| {
                matches!(ev, TransferEvent::Incoming(_)).then_some(())
            })
            .await
        })
        .await
        .is_err(),
        "more than {MAX_CONCURRENT_SENDS} offers at once"
    );

    // The last file is still queued: cancelling it ends it without an offer.
    assert!(sends.is_ours(&last));
    match &sends.cancel(&last) {
        Cancelled::Queued(events) => match &events[..] {
            [TransferEvent::Failed {
                transfer_id,
                outcome: TransferOutcome::Cancelled,
                ..
            }] => assert_eq!(*transfer_id, last),
            other => panic!("cancelling a queued file: {other:?}"),
        },
        other => panic!("cancelling a queued file: {other:?}"),
    }
    assert!(
        matches!(sends.cancel(&last), Cancelled::Running),
        "reported once"
    );
    for id in &offered {
        let accept = TransferCommand::Accept {
            transfer_id: id.clone(),
        };
        bob_cmd_tx.send(accept).await.unwrap();
    }
    let mut completed = 0;
    let mut cancelled: Vec<String> = Vec::new();
    let all = tokio::time::timeout(Duration::from_secs(30), async {
        while completed < count - 1 {
            tokio::select! {
                ev = alice_events.recv() => match ev.expect("events open") {
                    TransferEvent::Completed { .. } => completed += 1,
                    TransferEvent::Failed { transfer_id, outcome, .. } => {
                        assert_eq!(outcome, TransferOutcome::Cancelled);
                        cancelled.push(transfer_id);
                    }
                    _ => {}
                },
                // Bob answers the offers that come after the first ones.
                ev = bob_events.recv() => {
                    if let Some(TransferEvent::Incoming(p)) = ev {
                        let accept = TransferCommand::Accept { transfer_id: p.transfer_id };
                        bob_cmd_tx.send(accept).await.unwrap();
                    }
                }
            }
        }
    })
    .await;
    assert!(
        all.is_ok(),
        "{completed} completed, {cancelled:?} cancelled"
    );
    assert!(cancelled.is_empty(), "{cancelled:?}");
    assert_eq!(completed, count - 1);
    for i in 0..count - 1 {
        let got = std::fs::read_to_string(dst.path().join(format!("f{i:02}.txt"))).unwrap();
        assert_eq!(got, format!("file {i}").repeat(100));
    }
    assert!(!dst.path().join(format!("f{:02}.txt", count - 1)).exists());
    // The call hears that the initial files are done, once.
    let done = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Internal::FileSendsDone = reports.recv().await.expect("reports").msg {
                return;
            }
        }
    })
    .await;
    assert!(done.is_ok(), "FileSendsDone reported");
}

#[tokio::test]
async fn a_no_to_a_folder_stops_the_rest_of_it() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let count = MAX_CONCURRENT_SENDS + 4;
    let batch = crate::transfer::Batch {
        id: "cd".repeat(16),
        name: "pics".into(),
        files: count as u64,
        size: 0,
    };
    let files: Vec<FileToSend> = (0..count)
        .map(|i| {
            let path: PathBuf = src.path().join(format!("f{i:02}.txt"));
            std::fs::write(&path, b"").unwrap();
            FileToSend {
                path,
                name: Some(format!("pics/f{i:02}.txt")),
                to: None,
                transfer_id: None,
                batch: Some(batch.clone()),
            }
        })
        .collect();
    // Bob asks his user, who says no to the folder.
    let Pair {
        mut bob_events,
        bob_commands: bob_cmd_tx,
        mut alice_events,
        reports: _reports,
        ..
    } = Pair::start(files, dst.path());
    next(&mut bob_events, |ev| {
        matches!(ev, TransferEvent::Incoming(_)).then_some(())
    })
    .await;
    let no = TransferCommand::Decline {
        transfer_id: batch.id.clone(),
    };
    bob_cmd_tx.send(no).await.unwrap();
    // Every file ends declined at Alice, the queued ones without an offer.
    let mut declined = 0;
    while declined < count {
        next(&mut alice_events, |ev| match ev {
            TransferEvent::Failed {
                outcome: TransferOutcome::Declined,
                batch: Some(b),
                ..
            } if b.id == batch.id => Some(()),
            TransferEvent::Completed { .. } => panic!("a file of a declined folder arrived"),
            _ => None,
        })
        .await;
        declined += 1;
    }
    let offered = std::iter::from_fn(|| bob_events.try_recv().ok())
        .filter(|ev| matches!(ev, TransferEvent::Incoming(_)))
        .count();
    assert!(
        offered < MAX_CONCURRENT_SENDS,
        "{offered} more offers after the no"
    );
    assert!(
        std::fs::read_dir(dst.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn files_still_waiting_for_the_channel_are_cancelled_by_id_or_by_folder() {
    use super::file_sends::take_cancelled;
    let batch = crate::transfer::Batch {
        id: "b".repeat(32),
        name: "trip".into(),
        files: 2,
        size: 11,
    };
    let file = |name: &str, id: &str, batch: Option<&crate::transfer::Batch>| FileToSend {
        path: PathBuf::from(format!("/tmp/{name}")),
        name: Some(name.into()),
        to: None,
        transfer_id: Some(id.repeat(32)),
        batch: batch.cloned(),
    };
    let mut waiting = vec![
        file("trip/one.txt", "1", Some(&batch)),
        file("alone.txt", "2", None),
        file("trip/two.txt", "3", Some(&batch)),
    ];
    let ended = take_cancelled(&mut waiting, &batch.id);
    let names: Vec<_> = ended
        .iter()
        .map(|(_, e)| match e {
            TransferEvent::Failed {
                name,
                outcome: TransferOutcome::Cancelled,
                direction: TransferDirection::Sending,
                batch: Some(b),
                ..
            } if b.id == batch.id => name.as_str(),
            other => panic!("not a folder file's cancel: {other:?}"),
        })
        .collect();
    assert_eq!(names, ["trip/one.txt", "trip/two.txt"]);
    assert_eq!(waiting.len(), 1, "the file on its own stays");
    assert!(take_cancelled(&mut waiting, &"9".repeat(32)).is_empty());
    let ended = take_cancelled(&mut waiting, &"2".repeat(32));
    assert_eq!(ended.len(), 1);
    assert!(waiting.is_empty());
}

#[tokio::test]
async fn a_cancel_that_overtakes_its_files_still_cancels_them() {
    // The call hands a link its waiting files while a cancel of their folder
    // is already on its way: the cancel reaches the sends first.
    let src = tempfile::tempdir().unwrap();
    let batch = crate::transfer::Batch {
        id: "b".repeat(32),
        name: "trip".into(),
        files: 2,
        size: 10,
    };
    let files: Vec<FileToSend> = ["trip/one.txt", "trip/two.txt", "alone.txt"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let path = src.path().join(format!("{i}"));
            std::fs::write(&path, b"12345").unwrap();
            FileToSend {
                path,
                name: Some(name.to_string()),
                to: None,
                transfer_id: Some(format!("{i:032x}")),
                batch: name.starts_with("trip/").then(|| batch.clone()),
            }
        })
        .collect();
    let sends = FileSends::default();
    assert!(matches!(sends.cancel(&batch.id), Cancelled::NotOurs));
    let (sink, _peer_rx) = memory_pair(64);
    let (events_tx, mut events) = mpsc::channel(64);
    let (report_tx, _reports) = mpsc::channel::<Report>(64);
    let (_more_tx, more) = mpsc::unbounded_channel();
    let runner = sends.clone();
    tokio::spawn(async move {
        let sink: Arc<dyn MessageSink> = Arc::new(sink);
        runner
            .run(files, more, sink, events_tx, Reporter::new(report_tx))
            .await
    });
    let mut cancelled = Vec::new();
    let offered = loop {
        match next(&mut events, |ev| Some(ev.clone())).await {
            TransferEvent::Failed {
                name,
                outcome: TransferOutcome::Cancelled,
                ..
            } => cancelled.push(name),
            TransferEvent::Offered(p) => break p.name,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(
        offered, "alone.txt",
        "only the file outside the folder goes"
    );
    assert_eq!(cancelled, ["trip/one.txt", "trip/two.txt"]);
}
