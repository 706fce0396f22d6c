//! [`serve_file_channel`] when the channel fails under it.

use super::*;

/// An offer of `size` bytes under the transfer id `id`, as a sender sends it.
fn offer_of(id: [u8; 16], name: &str, size: u64) -> DcMessage {
    text(&TransferFrame::Offer {
        transfer_id: transfer_id_to_hex(&id),
        name: name.into(),
        size,
        version: FILE_PROTOCOL_VERSION,
        batch: None,
    })
}

#[tokio::test]
async fn a_channel_that_fails_under_an_incoming_file_reports_it_failed() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, mut bob_rx) = memory_pair(8);
    let (bob_sink, mut alice_rx) = memory_pair(8);
    let (events_tx, mut events) = mpsc::channel(64);
    let mut bob = ReceiveSession::new(Some(dir.path().to_path_buf()), events_tx);
    let serve = tokio::spawn(async move {
        let (to_sender, _inbound) = mpsc::channel(SENDER_INBOUND_CAPACITY);
        let (_commands_tx, mut commands) = mpsc::channel(1);
        serve_file_channel(&mut bob_rx, &bob_sink, &mut bob, &to_sender, &mut commands).await
    });
    let first: [u8; 16] = rand::random();
    alice
        .send(offer_of(first, "big.bin", 4 * BLOCK_BYTES))
        .await
        .unwrap();
    let accept = tokio::time::timeout(TIMEOUT, alice_rx.recv())
        .await
        .unwrap();
    assert!(
        matches!(&accept, Some(DcMessage::Text(t)) if t.contains("accept")),
        "{accept:?}"
    );
    // The way back breaks: Bob's next answer cannot go out.
    drop(alice_rx);
    alice
        .send(offer_of(rand::random(), "other.bin", 3))
        .await
        .unwrap();
    let served = tokio::time::timeout(TIMEOUT, serve).await.unwrap().unwrap();
    assert!(served.is_err(), "{served:?}");
    // The file that was coming in is reported failed, not left in progress.
    let mut failed = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(TIMEOUT, events.recv()).await {
        if let TransferEvent::Failed {
            transfer_id,
            outcome,
            ..
        } = event
        {
            failed.push((transfer_id, outcome));
        }
    }
    assert!(
        failed.contains(&(transfer_id_to_hex(&first), TransferOutcome::Failed)),
        "{failed:?}"
    );
    // Its part is kept for a resume.
    let part = crate::transfer::lease::PartLease::part_path(dir.path(), "big.bin");
    assert!(part.exists(), "{:?}", listing(dir.path()));
}
