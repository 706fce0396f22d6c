//! Offers that wait for the receiving user: accept, decline, cancel by either side
//! before and after the answer.

use super::*;

/// Waits for Bob's `Incoming` event and returns it.
async fn incoming(events: &mut mpsc::Receiver<TransferEvent>) -> TransferProgress {
    loop {
        let event = tokio::time::timeout(TIMEOUT, events.recv())
            .await
            .expect("no offer reached Bob")
            .expect("Bob's events closed");
        match event {
            TransferEvent::Incoming(p) => return p,
            TransferEvent::Completed { .. } | TransferEvent::Failed { .. } => {
                panic!("unexpected {event:?} before the offer")
            }
            _ => {}
        }
    }
}

/// Sends `path` from Alice while `user` plays Bob's user; returns both results.
async fn send_while<T>(
    peers: &mut Peers,
    path: &Path,
    cancel: watch::Receiver<bool>,
    user: impl AsyncFnOnce(&mut mpsc::Receiver<TransferEvent>, &mpsc::Sender<TransferCommand>) -> T,
) -> (Result<SendOutcome, TransferError>, T) {
    let Peers {
        alice_sink,
        alice_inbound,
        alice_events_tx,
        bob_events,
        bob_commands,
        ..
    } = peers;
    let send = send_file(
        path,
        alice_sink.clone(),
        alice_inbound,
        alice_events_tx,
        cancel,
    );
    let (sent, t) = tokio::join!(
        tokio::time::timeout(TIMEOUT, send),
        user(bob_events, bob_commands)
    );
    (sent.expect("transfer timed out"), t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_waits_for_the_user_then_arrives_intact() {
    let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data = random_bytes(300_000);
    let path = write_file(src.path(), "../report.pdf", &data);
    let mut peers = Peers::asking(dst.path().to_path_buf(), Duration::ZERO);
    let (_c, cancel) = watch::channel(false);
    let dir = dst.path().to_path_buf();
    let (sent, offer) = send_while(&mut peers, &path, cancel, async |events, commands| {
        let offer = incoming(events).await;
        // Nothing is written before the user says yes, and nothing moves.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
        commands
            .send(TransferCommand::Accept {
                transfer_id: offer.transfer_id.clone(),
            })
            .await
            .unwrap();
        offer
    })
    .await;
    assert_eq!(offer.name, "report.pdf");
    assert_eq!(
        (offer.bytes_done, offer.bytes_total),
        (0, data.len() as u64)
    );
    let sent = sent.unwrap();
    assert_eq!(sent.transfer_id, offer.transfer_id);
    assert!(matches!(
        peers.bob_outcome().await,
        TransferEvent::Completed { .. }
    ));
    assert_eq!(std::fs::read(dst.path().join("report.pdf")).unwrap(), data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_offer_reaches_the_sender_and_writes_nothing() {
    let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let path = write_file(src.path(), "a.txt", b"unwanted");
    let mut peers = Peers::asking(dst.path().to_path_buf(), Duration::ZERO);
    let (_c, cancel) = watch::channel(false);
    let (sent, ()) = send_while(&mut peers, &path, cancel, async |events, commands| {
        let offer = incoming(events).await;
        let transfer_id = offer.transfer_id;
        commands
            .send(TransferCommand::Decline { transfer_id })
            .await
            .unwrap();
    })
    .await;
    match sent {
        Err(TransferError::Declined { reason }) => assert_eq!(reason, DECLINED_BY_USER),
        other => panic!("unexpected {other:?}"),
    }
    match peers.bob_outcome().await {
        TransferEvent::Failed {
            reason, outcome, ..
        } => assert_eq!(
            (reason.as_str(), outcome),
            ("declined", TransferOutcome::Declined)
        ),
        other => panic!("unexpected {other:?}"),
    }
    assert!(listing(dst.path()).is_empty());

    // The session is free again: the next offer is asked and accepted.
    let path = write_file(src.path(), "b.txt", b"wanted");
    let (_c, cancel) = watch::channel(false);
    let (sent, ()) = send_while(&mut peers, &path, cancel, async |events, commands| {
        let transfer_id = incoming(events).await.transfer_id;
        commands
            .send(TransferCommand::Accept { transfer_id })
            .await
            .unwrap();
    })
    .await;
    sent.unwrap();
    assert_eq!(std::fs::read(dst.path().join("b.txt")).unwrap(), b"wanted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_can_withdraw_an_unanswered_offer() {
    let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let path = write_file(src.path(), "a.txt", b"never mind");
    let mut peers = Peers::asking(dst.path().to_path_buf(), Duration::ZERO);
    let (cancel_tx, cancel) = watch::channel(false);
    let (sent, (transfer_id, failed)) =
        send_while(&mut peers, &path, cancel, async |events, _commands| {
            let transfer_id = incoming(events).await.transfer_id;
            cancel_tx.send(true).unwrap();
            let failed = loop {
                match events.recv().await.expect("events") {
                    TransferEvent::Failed {
                        reason, outcome, ..
                    } => {
                        assert_eq!(outcome, TransferOutcome::Cancelled, "{reason}");
                        break reason;
                    }
                    _ => continue,
                }
            };
            (transfer_id, failed)
        })
        .await;
    assert!(
        matches!(sent, Err(TransferError::Cancelled { .. })),
        "{sent:?}"
    );
    assert!(failed.contains("cancelled by the sender"), "{failed}");
    // A late answer from the user does nothing.
    peers
        .bob_commands
        .send(TransferCommand::Accept { transfer_id })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(listing(dst.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiving_user_can_cancel_mid_transfer() {
    let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let path = write_file(src.path(), "big.bin", &random_bytes(4 * 1024 * 1024));
    let mut peers = Peers::asking(dst.path().to_path_buf(), Duration::from_millis(2));
    let (_c, cancel) = watch::channel(false);
    let (sent, moved) = send_while(&mut peers, &path, cancel, async |events, commands| {
        let transfer_id = incoming(events).await.transfer_id;
        let accept = TransferCommand::Accept {
            transfer_id: transfer_id.clone(),
        };
        commands.send(accept).await.unwrap();
        let moved = loop {
            match events.recv().await.expect("events") {
                TransferEvent::Progress(p) if p.bytes_done > 0 => break p.bytes_done,
                TransferEvent::Completed { .. } => panic!("finished before the cancel"),
                _ => continue,
            }
        };
        commands
            .send(TransferCommand::Cancel { transfer_id })
            .await
            .unwrap();
        moved
    })
    .await;
    assert!(moved < 4 * 1024 * 1024);
    match sent {
        Err(TransferError::Cancelled { reason }) => {
            assert!(reason.contains("receiver"), "{reason}")
        }
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
    assert!(listing(dst.path()).is_empty(), "{:?}", listing(dst.path()));
}
