//! Chat and files outside a call: app-level clients over a real signaling server
//! on 127.0.0.1 and real WebRTC data sessions (no call, nothing rings).
//!
//! Asserts:
//! - A's chat message reaches B with no call: B never sees an incoming call and
//!   neither side a call state; B's reply reaches A; both histories hold both;
//! - a file A offers without a call waits for B's answer, then arrives in B's
//!   download folder with the same bytes;
//! - a call can start while the data session is up (the session does not make
//!   anyone busy), and chat goes on after it ends;
//! - someone B does not have as a contact cannot open a session with B: their
//!   message is not delivered and they are told B could not be reached;
//! - a file offered by a contact who then goes offline ends as failed at the
//!   receiver instead of staying offered, and a message to the contact who went
//!   offline fails at once with "offline".

use std::time::Duration;

use parley_engine::client::{CallPhase, Client, ClientEvent};
use parley_engine::storage::Direction as ChatDirection;
use parley_engine::transfer::{TransferCommand, TransferEvent, TransferOutcome};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

mod common;
use common::{call_and_accept, config, id_of, transfer_event, until};

/// Waits for the chat message `text` in `direction`; panics on any call event
/// meanwhile (a data session must not look like a call).
async fn chat(rx: &mut mpsc::Receiver<ClientEvent>, text: &str, direction: ChatDirection) {
    until(rx, &format!("chat {text:?}"), |e| match e {
        ClientEvent::Chat {
            message,
            direction: d,
            ..
        } if message.text == text && *d == direction => Some(()),
        ClientEvent::IncomingCall(i) | ClientEvent::Call(i) => {
            panic!("a data session showed up as a call: {i:?}")
        }
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_and_files_reach_a_contact_without_a_call() {
    let (da, db, dc) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let server = parley_signal::start(parley_signal::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let url = format!("ws://{}/ws", server.local_addr());
    let mut cb = config(db.path(), Some(url.clone()));
    cb.ask_before_receiving = true;
    let (b, mut bev) = Client::start(cb).await.unwrap();
    let (a, mut aev) = Client::start(config(da.path(), Some(url.clone())))
        .await
        .unwrap();
    let (ida, idb) = (id_of(&a), id_of(&b));
    a.profile().add_contact(&idb, Some("Bob")).unwrap();
    b.profile().add_contact(&ida, Some("Alice")).unwrap();
    a.refresh_contacts().await;
    b.refresh_contacts().await;
    until(&mut aev, "bob online", |e| match e {
        ClientEvent::Presence { id, online: true } if *id == idb => Some(()),
        _ => None,
    })
    .await;

    // Chat both ways, no call.
    a.send_chat(idb.clone(), "hello without a call".into())
        .await
        .unwrap();
    chat(&mut bev, "hello without a call", ChatDirection::Received).await;
    chat(&mut aev, "hello without a call", ChatDirection::Sent).await;
    b.send_chat(ida.clone(), "got it".into()).await.unwrap();
    chat(&mut aev, "got it", ChatDirection::Received).await;
    for (c, peer) in [(&a, &idb), (&b, &ida)] {
        let texts: Vec<String> = c
            .profile()
            .chat_history(peer, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.message.text)
            .collect();
        assert_eq!(texts, ["hello without a call", "got it"], "history");
    }

    // A file, answered by B, intact.
    let bytes: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i * 31 % 253) as u8)
        .collect();
    let src = da.path().join("notes.bin");
    std::fs::write(&src, &bytes).unwrap();
    a.send_files(idb.clone(), vec![src]).await.unwrap();
    let offer = transfer_event(&mut bev, "the offer at B", |e| match e {
        TransferEvent::Incoming(p) => Some(p.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        (offer.name.as_str(), offer.bytes_total),
        ("notes.bin", 3 << 20)
    );
    b.transfer(TransferCommand::Accept {
        transfer_id: offer.transfer_id,
    })
    .await
    .unwrap();
    let path = transfer_event(&mut bev, "the file at B", |e| match e {
        TransferEvent::Completed { path, .. } => Some(path.clone()),
        TransferEvent::Failed { reason, .. } => panic!("transfer failed: {reason}"),
        _ => None,
    })
    .await;
    assert_eq!(path, db.path().join("downloads").join("notes.bin"));
    let got = std::fs::read(&path).unwrap();
    assert_eq!(Sha256::digest(&got), Sha256::digest(&bytes), "same bytes");

    // A call next to the session, then chat after it.
    call_and_accept((&a, &mut aev), (&b, &mut bev)).await;
    a.hangup().await;
    for (rx, who) in [(&mut aev, "A"), (&mut bev, "B")] {
        until(rx, &format!("the call's end at {who}"), |e| match e {
            ClientEvent::Call(i) if i.state == CallPhase::Ended => Some(()),
            _ => None,
        })
        .await;
    }
    b.send_chat(ida.clone(), "after the call".into())
        .await
        .unwrap();
    chat(&mut aev, "after the call", ChatDirection::Received).await;

    // A stranger: not delivered, and told so.
    let (c, mut cev) = Client::start(config(dc.path(), Some(url))).await.unwrap();
    c.send_chat(idb.clone(), "let me in".into()).await.unwrap();
    let why = until(&mut cev, "the stranger's error", |e| match e {
        ClientEvent::Error { code, message } => Some((*code, message.clone())),
        _ => None,
    })
    .await;
    assert_eq!(why.0, "peer_unreachable", "{why:?}");
    assert!(why.1.contains("not a contact"), "{why:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(ev) = bev.try_recv() {
        if let ClientEvent::Chat { message, .. } = ev {
            assert_ne!(
                message.text, "let me in",
                "a stranger's message was delivered"
            );
        }
    }
    c.shutdown().await;

    // Alice offers a file and goes offline before Bob answers: Bob's offer ends
    // as failed (not "offered" forever), and a message to her fails at once.
    let pending = da.path().join("pending.bin");
    std::fs::write(&pending, b"never answered").unwrap();
    a.send_files(idb.clone(), vec![pending]).await.unwrap();
    let offer = transfer_event(&mut bev, "the second offer at B", |e| match e {
        TransferEvent::Incoming(p) if p.name == "pending.bin" => Some(p.clone()),
        _ => None,
    })
    .await;
    a.shutdown().await;
    // Both arrive, in either order: the offer's end and Alice's presence.
    let (mut outcome, mut offline) = (None, false);
    while outcome.is_none() || !offline {
        until(
            &mut bev,
            "the offer's end and alice offline at B",
            |e| match e {
                ClientEvent::Presence { id, online: false } if *id == ida => {
                    offline = true;
                    Some(())
                }
                ClientEvent::Transfer {
                    event:
                        TransferEvent::Failed {
                            transfer_id,
                            outcome: o,
                            ..
                        },
                    ..
                } if *transfer_id == offer.transfer_id => {
                    outcome = Some(*o);
                    Some(())
                }
                ClientEvent::Transfer {
                    event: TransferEvent::Completed { .. },
                    ..
                } => panic!("the unanswered offer completed"),
                _ => None,
            },
        )
        .await;
    }
    assert_eq!(outcome, Some(TransferOutcome::Failed));
    let err = b
        .send_chat(ida.clone(), "are you there?".into())
        .await
        .expect_err("Alice is offline");
    assert!(err.to_string().contains("offline"), "{err}");
    b.shutdown().await;
    server.shutdown().await;
}
