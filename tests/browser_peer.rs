//! Parley and a WebRTC peer that is not Parley: headless Chromium (Debian's
//! `chromium` through `chromedriver`, tests/common/browser.rs), whose signaling
//! this test speaks for it from docs/protocol.md alone (sign-in, invite/accept,
//! offers and answers signed as in §6.3, candidates).
//!
//! Asserts:
//! - `parley-cli call` to the browser: Parley's offer carries a valid signature a
//!   third party can check and `a=msid-semantic`; the browser decodes Parley's
//!   H.264 video (the clip's 320x180) and Opus audio; Parley decodes the
//!   browser's video and audio; `--stats` names the remote candidate, although
//!   the browser sends its candidates inside its answer, not trickled (§4);
//! - a browser offer with VP8 as its only video codec is refused by
//!   `parley-cli answer` with a reason: the browser's side gets `hangup` with
//!   reason `unsupported codecs`, and Parley exits non-zero naming VP8 and H.264.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/desktop.rs"]
mod desktop;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::time::Duration;

use browser::Browser;
use common::*;
use ed25519_dalek::SigningKey;
use futures_util::{SinkExt as _, StreamExt as _};
use parley_proto::binding::{DescriptionBinding, DescriptionType};
use parley_proto::identity::decode_b64url;
use parley_proto::{sign_challenge, CallKind, ClientMessage, ErrorCode, PeerId, ServerMessage};
use serde_json::{json, Value};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

/// How long one signaling step may take.
const STEP: Duration = Duration::from_secs(20);

/// The browser's signaling connection, spoken by the test.
struct Signal {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    key: SigningKey,
    id: PeerId,
}

impl Signal {
    async fn connect(url: &str, key: SigningKey) -> Signal {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let id = PeerId::from_public_key(&key.verifying_key());
        let mut s = Signal { ws, key, id };
        s.send(ClientMessage::Hello {
            protocol: parley_proto::PROTOCOL_VERSION,
            public_key: s.id.to_string(),
        })
        .await;
        let ServerMessage::Challenge { nonce, .. } = s.recv().await else {
            panic!("no challenge")
        };
        let signature = sign_challenge(&s.key, &decode_b64url(&nonce).unwrap());
        s.send(ClientMessage::Auth {
            signature,
            owner: None,
        })
        .await;
        assert!(matches!(s.recv().await, ServerMessage::Welcome { .. }));
        s
    }

    async fn send(&mut self, msg: ClientMessage) {
        self.ws.send(Message::text(msg.to_json())).await.unwrap();
    }

    async fn recv(&mut self) -> ServerMessage {
        loop {
            let next = timeout(STEP, self.ws.next())
                .await
                .expect("timed out waiting for a signaling frame");
            match next {
                Some(Ok(Message::Text(t))) => return ServerMessage::parse(t.as_str()).unwrap(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("signaling connection ended: {other:?}"),
            }
        }
    }

    /// `sdp` signed by the browser's key for `call_id` to `to`.
    fn sign(&self, call_id: &str, to: &PeerId, kind: DescriptionType, sdp: &str) -> String {
        DescriptionBinding::from_sdp(call_id, &self.id, to, kind, sdp)
            .expect("the browser's description binds")
            .sign(&self.key)
    }
}

/// Calls into the page without holding up the runtime's other workers.
fn page(b: &Browser, function: &str, args: Vec<Value>) -> Value {
    tokio::task::block_in_place(|| b.call(function, args))
        .unwrap_or_else(|e| panic!("peer.{function}: {e}\n{}", desktop::tail(&b.log, 20)))
}

fn text(out: &std::process::Output) -> String {
    format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_browser_peer_calls_with_parley_and_is_told_why_vp8_is_refused() {
    let server = Server::start();
    let parley = Peer::new(&server);
    let parley_id = PeerId::parse(&parley.id).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let browser = Browser::start(scratch.path().join("chromedriver.log"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut sig = rt.block_on(Signal::connect(
        &server.url,
        SigningKey::from_bytes(&[0x77; 32]),
    ));
    let browser_id = sig.id.to_string();

    // 1. Parley calls the browser.
    let clip = media("chrome-320x180-15fps.y4m");
    let wav = media("jfk.wav");
    let rec = parley.path("from-browser.y4m");
    let caller = parley.spawn(&[
        "call",
        &browser_id,
        "--wait-online",
        "20",
        "--stats",
        "--duration",
        "5",
        "--video-file",
        clip.to_str().unwrap(),
        "--audio-file",
        wav.to_str().unwrap(),
        "--record-video",
        rec.to_str().unwrap(),
    ]);
    let received = rt.block_on(async {
        let call_id = match sig.recv().await {
            ServerMessage::Invite {
                call_id,
                from,
                kind,
                ..
            } => {
                assert_eq!(from, parley_id);
                assert_eq!(kind, CallKind::Media);
                call_id
            }
            other => panic!("expected the invite, got {other:?}"),
        };
        sig.send(ClientMessage::Accept {
            call_id: call_id.clone(),
        })
        .await;
        let mut early = Vec::new();
        let offer = loop {
            match sig.recv().await {
                ServerMessage::Offer { sdp, sig: s, .. } => break (sdp, s),
                ServerMessage::Candidate {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                    ..
                } => early.push(json!([candidate, sdp_mid, sdp_mline_index])),
                other => panic!("expected the offer, got {other:?}"),
            }
        };
        let (sdp, offer_sig) = offer;
        DescriptionBinding::from_sdp(&call_id, &parley_id, &sig.id, DescriptionType::Offer, &sdp)
            .unwrap()
            .verify(offer_sig.as_deref())
            .expect("Parley's offer is signed as docs/protocol.md §6.3 says");
        assert!(
            sdp.contains("a=msid-semantic"),
            "the offer lacks a=msid-semantic:\n{sdp}"
        );
        let answer = page(&browser, "answer", vec![json!(sdp)]);
        let answer = answer.as_str().expect("an answer SDP").to_owned();
        let answer_sig = sig.sign(&call_id, &parley_id, DescriptionType::Answer, &answer);
        sig.send(ClientMessage::Answer {
            to: None,
            call_id: call_id.clone(),
            sdp: answer,
            sig: Some(answer_sig),
        })
        .await;
        for c in early {
            page(&browser, "candidate", c.as_array().unwrap().clone());
        }
        loop {
            match sig.recv().await {
                ServerMessage::Candidate {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                    ..
                } => {
                    page(
                        &browser,
                        "candidate",
                        vec![json!(candidate), json!(sdp_mid), json!(sdp_mline_index)],
                    );
                }
                ServerMessage::Hangup { .. } => break,
                other => panic!("unexpected during the call: {other:?}"),
            }
        }
        page(&browser, "received", vec![])
    });
    let (out, _) = wait(caller, Duration::from_secs(60), "parley-cli call");
    let stdout = success(&out, "parley-cli call");
    let stats = stats(&stdout);
    eprintln!("the browser received {received}\nParley's stats {stats}");
    let video = &received["video"];
    assert!(
        video["framesDecoded"].as_u64().unwrap_or(0) >= 30 && video["width"] == 320,
        "the browser decoded too little of Parley's video: {received}\n{}",
        text(&out)
    );
    assert!(
        received["audio"]["packets"].as_u64().unwrap_or(0) >= 100,
        "the browser got too little of Parley's audio: {received}"
    );
    assert!(
        stats["frames_received"].as_u64().unwrap_or(0) >= 15
            && stats["audio_packets_received"].as_u64().unwrap_or(0) >= 100,
        "Parley got too little from the browser: {stats}"
    );
    assert!(
        stats["remote_candidate"].is_string(),
        "--stats does not name the browser's candidate: {stats}"
    );

    // 2. The browser offers VP8 only; Parley answers.
    let callee = parley.spawn(&["answer", "--timeout", "30", "--no-video", "--no-audio"]);
    let reason = rt.block_on(async {
        let call_id = "vp8-only".to_owned();
        // Invite until Parley has signed in (`offline` until then).
        let since = std::time::Instant::now();
        loop {
            sig.send(ClientMessage::Invite {
                call_id: call_id.clone(),
                to: parley_id.clone(),
                kind: CallKind::Media,
            })
            .await;
            match sig.recv().await {
                ServerMessage::Error {
                    code: ErrorCode::Offline,
                    ..
                } => {
                    assert!(since.elapsed() < STEP, "parley-cli answer never signed in");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                ServerMessage::Ringing { .. } => {
                    assert!(matches!(sig.recv().await, ServerMessage::Accept { .. }));
                    break;
                }
                ServerMessage::Accept { .. } => break,
                other => panic!("expected the call to be taken, got {other:?}"),
            }
        }
        let offer = page(&browser, "offer", vec![json!(["video/VP8"])]);
        let offer = offer.as_str().expect("an offer SDP").to_owned();
        assert!(offer.contains("VP8") && !offer.contains("H264"), "{offer}");
        let s = sig.sign(&call_id, &parley_id, DescriptionType::Offer, &offer);
        sig.send(ClientMessage::Offer {
            to: None,
            call_id: call_id.clone(),
            sdp: offer,
            sig: Some(s),
        })
        .await;
        loop {
            match sig.recv().await {
                ServerMessage::Hangup { reason, .. } => break reason,
                ServerMessage::Answer { .. } => panic!("Parley answered a VP8-only offer"),
                _ => {}
            }
        }
    });
    assert_eq!(reason.as_deref(), Some("unsupported codecs"));
    let (out, _) = wait(callee, Duration::from_secs(30), "parley-cli answer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("Parley on the VP8-only offer:\n{stderr}");
    assert!(
        !out.status.success() && stderr.contains("VP8") && stderr.contains("H.264"),
        "Parley should refuse a VP8-only offer naming both codecs:\n{}",
        text(&out)
    );
    drop(browser);
}
