//! Renegotiation on a live peer connection, as the call layer's negotiation state
//! machine (`call::link`) drives it: an ICE restart (RFC 8445 §9) and an offer
//! collision settled by rollback (RFC 9429 §5.7; W3C webrtc §10.7, perfect
//! negotiation). Two real peer connections in one process on 127.0.0.1, the SDP
//! handed across directly; each check ends with the data channel delivering both
//! ways.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parley_engine::channel::{DcMessage, MessageSink};
use parley_engine::rtc::{ConnectionState, DataChannel, PeerConnection, RtcConfig, RtcEvent};
use tokio::sync::mpsc;

/// How long a step may take before the test fails, ms.
const STEP_MS: u64 = 10_000;

/// One side: its connection, its end of the data channel, what arrives on it, and
/// how often its connection state has become `connected`.
struct Side {
    pc: PeerConnection,
    dc: DataChannel,
    rx: mpsc::Receiver<DcMessage>,
    connects: Arc<AtomicUsize>,
    candidates: Arc<AtomicUsize>,
}

fn loopback() -> RtcConfig {
    RtcConfig {
        udp_bind: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    }
}

/// Trickles `from`'s local candidates to `to`, counts its connects, and passes
/// the remote data channel, once it opens, to `channel`.
fn pump(
    mut events: mpsc::Receiver<RtcEvent>,
    to: PeerConnection,
    side: (Arc<AtomicUsize>, Arc<AtomicUsize>),
    channel: Option<tokio::sync::oneshot::Sender<(DataChannel, mpsc::Receiver<DcMessage>)>>,
) {
    let mut channel = channel;
    let (connects, candidates) = side;
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match ev {
                RtcEvent::LocalCandidate(c) => {
                    candidates.fetch_add(1, Ordering::SeqCst);
                    // Candidates of a rolled-back or superseded generation may be
                    // refused; the test judges by what is delivered.
                    let _ = to.add_ice_candidate(c).await;
                }
                RtcEvent::DataChannel(dc, rx) => {
                    if let Some(tx) = channel.take() {
                        let _ = tx.send((dc, rx));
                    }
                }
                RtcEvent::State(ConnectionState::Connected) => {
                    connects.fetch_add(1, Ordering::SeqCst);
                }
                _ => {}
            }
        }
    });
}

/// A connected pair: `a` offered and created the channel.
async fn connected() -> (Side, Side, String, String) {
    let (a, a_ev) = PeerConnection::new(&loopback()).await.unwrap();
    let (b, b_ev) = PeerConnection::new(&loopback()).await.unwrap();
    let (a_dc, a_rx) = a.create_data_channel("renegotiation").await.unwrap();
    let offer = a.create_offer(false).await.unwrap();
    let answer = b.answer_offer(&offer).await.unwrap();
    a.apply_answer(&answer).await.unwrap();
    let (a_count, b_count) = (Arc::default(), Arc::default());
    let (a_cands, b_cands) = (Arc::default(), Arc::default());
    let (tx, rx) = tokio::sync::oneshot::channel();
    pump(
        a_ev,
        b.clone(),
        (Arc::clone(&a_count), Arc::clone(&a_cands)),
        None,
    );
    pump(
        b_ev,
        a.clone(),
        (Arc::clone(&b_count), Arc::clone(&b_cands)),
        Some(tx),
    );
    let (b_dc, b_rx) = tokio::time::timeout(Duration::from_millis(STEP_MS), rx)
        .await
        .expect("the data channel opens")
        .unwrap();
    a_dc.wait_open().await.unwrap();
    b_dc.wait_open().await.unwrap();
    let a = Side {
        pc: a,
        dc: a_dc,
        rx: a_rx,
        connects: a_count,
        candidates: a_cands,
    };
    let b = Side {
        pc: b,
        dc: b_dc,
        rx: b_rx,
        connects: b_count,
        candidates: b_cands,
    };
    (a, b, offer, answer)
}

fn ufrag(sdp: &str) -> String {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
        .expect("the description has an ICE ufrag")
        .to_owned()
}

/// Sends `text` from `from` and waits for it at `to`.
async fn delivers(from: &Side, to: &mut Side, text: &str) {
    from.dc.send(DcMessage::Text(text.into())).await.unwrap();
    let got = tokio::time::timeout(Duration::from_millis(STEP_MS), to.rx.recv())
        .await
        .unwrap_or_else(|_| panic!("{text:?} did not arrive"));
    match got {
        Some(DcMessage::Text(t)) => assert_eq!(t, text),
        other => panic!("expected {text:?}, got {other:?}"),
    }
}

/// Both ways.
async fn both_ways(a: &mut Side, b: &mut Side, tag: &str) {
    delivers(a, b, &format!("{tag}: a to b")).await;
    delivers(b, a, &format!("{tag}: b to a")).await;
}

/// Waits until `side` has reported more than `before` local candidates: a
/// restart gathers a new generation on new sockets (`rtc::PeerConnection` asks
/// webrtc-rs to rebind), and it is trickled like the first.
async fn gathers_again(side: &Side, before: usize) {
    tokio::time::timeout(Duration::from_millis(STEP_MS), async {
        while side.candidates.load(Ordering::SeqCst) <= before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("new candidates are gathered after the restart");
}

/// Waits until `side`'s connection has become `connected` again (an ICE restart
/// takes it through `connecting`), more than `before` times in all.
async fn reconnects(side: &Side, before: usize) {
    tokio::time::timeout(Duration::from_millis(STEP_MS), async {
        while side.connects.load(Ordering::SeqCst) <= before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the connection comes back after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ice_restart_brings_new_credentials_and_keeps_the_channel() {
    let (mut a, mut b, first_offer, first_answer) = connected().await;
    both_ways(&mut a, &mut b, "before").await;
    let (a_before, b_before) = (
        a.connects.load(Ordering::SeqCst),
        b.connects.load(Ordering::SeqCst),
    );
    let (a_cands, b_cands) = (
        a.candidates.load(Ordering::SeqCst),
        b.candidates.load(Ordering::SeqCst),
    );

    let offer = a.pc.create_offer(true).await.unwrap();
    assert_ne!(
        ufrag(&offer),
        ufrag(&first_offer),
        "a restart offer has a new ufrag"
    );
    let answer = b.pc.answer_offer(&offer).await.unwrap();
    assert_ne!(
        ufrag(&answer),
        ufrag(&first_answer),
        "and so has its answer"
    );
    a.pc.apply_answer(&answer).await.unwrap();

    gathers_again(&a, a_cands).await;
    gathers_again(&b, b_cands).await;
    reconnects(&a, a_before).await;
    reconnects(&b, b_before).await;
    both_ways(&mut a, &mut b, "after the restart").await;

    // A plain renegotiation afterwards keeps the restarted credentials.
    let again = a.pc.create_offer(false).await.unwrap();
    assert_eq!(ufrag(&again), ufrag(&offer));
    let answer = b.pc.answer_offer(&again).await.unwrap();
    a.pc.apply_answer(&answer).await.unwrap();
    both_ways(&mut a, &mut b, "after renegotiating").await;
}

/// Glare: both sides offer at once. The polite side (`b`) rolls its offer back and
/// answers the other, which restarts ICE when `a_restarts` (the impolite side is
/// the one that restarts, `call::link`); then `b` offers again, and that is
/// answered too.
async fn glare(a_restarts: bool) {
    let (mut a, mut b, first_offer, _) = connected().await;
    assert!(
        b.pc.rollback().await.is_err(),
        "there is no offer to roll back while stable"
    );
    let (a_before, b_before) = (
        a.connects.load(Ordering::SeqCst),
        b.connects.load(Ordering::SeqCst),
    );

    let a_offer = a.pc.create_offer(a_restarts).await.unwrap();
    assert_eq!(ufrag(&a_offer) != ufrag(&first_offer), a_restarts);
    let _b_offer = b.pc.create_offer(false).await.unwrap();
    // The impolite side ignores the colliding offer; the polite side yields.
    b.pc.rollback().await.unwrap();
    let answer = b.pc.answer_offer(&a_offer).await.unwrap();
    a.pc.apply_answer(&answer).await.unwrap();
    if a_restarts {
        reconnects(&a, a_before).await;
        reconnects(&b, b_before).await;
    }
    both_ways(&mut a, &mut b, "after the collision").await;

    // The polite side's own offer goes out again once stable.
    let b_offer_again = b.pc.create_offer(false).await.unwrap();
    let answer = a.pc.answer_offer(&b_offer_again).await.unwrap();
    b.pc.apply_answer(&answer).await.unwrap();
    both_ways(&mut a, &mut b, "after the polite side's offer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_polite_side_rolls_back_a_colliding_offer() {
    glare(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_polite_side_yields_to_an_ice_restart() {
    glare(true).await;
}
