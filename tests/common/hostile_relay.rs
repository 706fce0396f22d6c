//! A man in the middle for the signaling connection, for tests only: a WebSocket
//! proxy on 127.0.0.1 between the clients and the real server that can alter the
//! offers and answers the server relays to them (what a hostile or compromised
//! signaling server could do).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::{Signer as _, SigningKey};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// `(type, sender id, a=fingerprint lines)` of one relayed description.
pub type Seen = (String, String, Vec<String>);

/// What the relay does to relayed descriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// Nothing: a faithful proxy.
    None,
    /// Replaces the DTLS fingerprint in offers and answers with its own.
    Fingerprint,
    /// Replaces the DTLS fingerprint in answers only (the offer goes through).
    AnswerFingerprint,
    /// Replaces the fingerprint and signs the result with its own key instead of
    /// the sender's.
    ForeignSignature,
    /// Keeps every signed line and slips its own fingerprint in before the real
    /// one on a line starting with `\r`, which webrtc-rs's SDP parser reads as a
    /// fingerprint and a plain line scan does not.
    HiddenFingerprint,
    /// Replaces every offer after the first with the first one (SDP and `sig`),
    /// as if replaying an old signed offer into a new call.
    ReplayFirstOffer,
}

/// The proxy; stops when dropped.
pub struct HostileRelay {
    rt: Option<tokio::runtime::Runtime>,
    /// `ws://127.0.0.1:PORT/ws`, for the clients.
    pub url: String,
    /// Offers and answers relayed to clients, altered or not.
    pub descriptions: Arc<AtomicUsize>,
    /// Offers and answers it altered.
    pub altered: Arc<AtomicUsize>,
    /// `(type, sender id, a=fingerprint lines)` of every offer and answer, as the
    /// server relayed it (before any alteration).
    pub seen: Arc<Mutex<Vec<Seen>>>,
    tamper: Arc<Mutex<Tamper>>,
}

impl HostileRelay {
    /// Changes what the relay does to the descriptions it relays from now on.
    pub fn set_tamper(&self, tamper: Tamper) {
        *self.tamper.lock().unwrap() = tamper;
    }

    /// Starts a relay in front of the server at `upstream` that applies `tamper`.
    pub fn start(upstream: &str, tamper: Tamper) -> HostileRelay {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the relay");
        let url = format!("ws://{}/ws", listener.local_addr().unwrap());
        let descriptions = Arc::new(AtomicUsize::new(0));
        let altered = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let tamper = Arc::new(Mutex::new(tamper));
        let state = Arc::new(State {
            seen: Arc::clone(&seen),
            tamper: Arc::clone(&tamper),
            descriptions: Arc::clone(&descriptions),
            altered: Arc::clone(&altered),
            first_offer: Mutex::new(None),
            key: SigningKey::from_bytes(&[9u8; 32]),
        });
        let upstream = upstream.to_owned();
        rt.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (state, upstream) = (Arc::clone(&state), upstream.clone());
                tokio::spawn(async move {
                    let Ok(client) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let Ok((server, _)) = tokio_tungstenite::connect_async(&upstream).await else {
                        return;
                    };
                    let (mut c_tx, mut c_rx) = client.split();
                    let (mut s_tx, mut s_rx) = server.split();
                    let up = async {
                        while let Some(Ok(m)) = c_rx.next().await {
                            if s_tx.send(m).await.is_err() {
                                break;
                            }
                        }
                        let _ = s_tx.close().await;
                    };
                    let down = async {
                        while let Some(Ok(m)) = s_rx.next().await {
                            let m = match m {
                                Message::Text(t) => Message::Text(state.alter(&t).into()),
                                other => other,
                            };
                            if c_tx.send(m).await.is_err() {
                                break;
                            }
                        }
                        let _ = c_tx.close().await;
                    };
                    tokio::select! { _ = up => {}, _ = down => {} }
                });
            }
        });
        HostileRelay {
            rt: Some(rt),
            url,
            descriptions,
            altered,
            seen,
            tamper,
        }
    }

    /// Offers and answers it altered so far.
    pub fn altered(&self) -> usize {
        self.altered.load(Ordering::SeqCst)
    }

    /// Offers and answers it relayed so far.
    pub fn descriptions(&self) -> usize {
        self.descriptions.load(Ordering::SeqCst)
    }
}

impl Drop for HostileRelay {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

struct State {
    seen: Arc<Mutex<Vec<Seen>>>,
    tamper: Arc<Mutex<Tamper>>,
    descriptions: Arc<AtomicUsize>,
    altered: Arc<AtomicUsize>,
    first_offer: Mutex<Option<(Value, Value)>>,
    key: SigningKey,
}

/// A fingerprint no Parley peer has.
const FAKE_FINGERPRINT: &str = "sha-256 66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:\
66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66";

impl State {
    fn alter(&self, text: &str) -> String {
        let Ok(mut msg) = serde_json::from_str::<Value>(text) else {
            return text.to_owned();
        };
        let kind = msg["type"].as_str().unwrap_or_default().to_owned();
        if kind != "offer" && kind != "answer" {
            return text.to_owned();
        }
        self.descriptions.fetch_add(1, Ordering::SeqCst);
        let sdp = msg["sdp"].as_str().unwrap_or_default().to_owned();
        let fingerprints = sdp
            .lines()
            .filter(|l| l.starts_with("a=fingerprint:"))
            .map(|l| l.trim_end().to_owned())
            .collect();
        let from = msg["from"].as_str().unwrap_or_default().to_owned();
        self.seen
            .lock()
            .unwrap()
            .push((kind.clone(), from, fingerprints));
        let tamper = *self.tamper.lock().unwrap();
        let changed = match tamper {
            Tamper::None => false,
            Tamper::Fingerprint => rewrite_fingerprints(&mut msg, &sdp),
            Tamper::AnswerFingerprint => kind == "answer" && rewrite_fingerprints(&mut msg, &sdp),
            Tamper::ForeignSignature => {
                rewrite_fingerprints(&mut msg, &sdp);
                let altered = msg["sdp"].as_str().unwrap_or_default().to_owned();
                let sig = self.key.sign(altered.as_bytes()).to_bytes();
                msg["sig"] = Value::String(parley_proto::identity::encode_b64url(&sig));
                true
            }
            Tamper::HiddenFingerprint => {
                let hidden = sdp.replace(
                    "a=fingerprint:",
                    &format!("\ra=fingerprint:{FAKE_FINGERPRINT}\r\na=fingerprint:"),
                );
                msg["sdp"] = Value::String(hidden);
                true
            }
            Tamper::ReplayFirstOffer if kind == "offer" => {
                let mut first = self.first_offer.lock().unwrap();
                match &*first {
                    None => {
                        *first = Some((msg["sdp"].clone(), msg["sig"].clone()));
                        false
                    }
                    Some((old_sdp, old_sig)) => {
                        msg["sdp"] = old_sdp.clone();
                        msg["sig"] = old_sig.clone();
                        true
                    }
                }
            }
            Tamper::ReplayFirstOffer => false,
        };
        if changed {
            self.altered.fetch_add(1, Ordering::SeqCst);
        }
        msg.to_string()
    }
}

fn rewrite_fingerprints(msg: &mut Value, sdp: &str) -> bool {
    let altered: String = sdp
        .split_inclusive('\n')
        .map(|line| {
            if line.starts_with("a=fingerprint:") {
                format!("a=fingerprint:{FAKE_FINGERPRINT}\r\n")
            } else {
                line.to_owned()
            }
        })
        .collect();
    let changed = altered != sdp;
    msg["sdp"] = Value::String(altered);
    changed
}
