//! Helpers shared by the two-client tests: a test-pattern media provider, a
//! client configuration bound to 127.0.0.1, waiting for events.

#![allow(dead_code)] // each test file uses a subset

use std::sync::Arc;
use std::time::Duration;

use parley_engine::call::AudioSink;
use parley_engine::client::{CallPhase, Client, ClientConfig, ClientEvent, MediaProvider};
use parley_engine::media::{AudioSource, TestPatternSource, ToneSource, VideoSource};
use parley_engine::rtc::RtcConfig;
use parley_engine::transfer::TransferEvent;
use parley_proto::PeerId;
use tokio::sync::mpsc;

/// Camera: a 320x240 test pattern at 15 frames/s; microphone: a 440 Hz tone.
pub struct Pattern;

impl MediaProvider for Pattern {
    fn video_source(&self) -> parley_engine::Result<Option<Box<dyn VideoSource>>> {
        Ok(Some(Box::new(TestPatternSource::new(320, 240, 15.0)?)))
    }
    fn audio_source(&self) -> parley_engine::Result<Option<Box<dyn AudioSource>>> {
        Ok(Some(Box::new(ToneSource::new(440.0, 0.2))))
    }
    fn audio_sinks(&self) -> Vec<Box<dyn AudioSink>> {
        Vec::new()
    }
}

/// A client on `dir` (profile, downloads), using `server` or its embedded one.
pub fn config(dir: &std::path::Path, server: Option<String>) -> ClientConfig {
    ClientConfig {
        profile: Arc::new(parley_engine::storage::Profile::open(&dir.join("profile")).unwrap()),
        server_url: server,
        embedded_listen: "127.0.0.1:0".parse().unwrap(),
        rtc: RtcConfig {
            udp_bind: vec!["127.0.0.1:0".parse().unwrap()],
            ..Default::default()
        },
        download_dir: dir.join("downloads"),
        media: Arc::new(Pattern),
        remote_video: Default::default(),
        local_video: Default::default(),
        remote_screen: Default::default(),
        echo_test: false,
        ask_before_receiving: false,
    }
}

/// What `f` makes of the first event it accepts; panics after 20 s.
pub async fn until<E, T>(
    rx: &mut mpsc::Receiver<E>,
    what: &str,
    mut f: impl FnMut(&E) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("events ended waiting for {what}"));
        if let Some(t) = f(&ev) {
            return t;
        }
    }
}

/// The client's peer id.
pub fn id_of(c: &Client) -> PeerId {
    c.profile().identity().id()
}

/// A calls B, B accepts when it rings; returns once A is connected.
pub async fn call_and_accept(
    (a, aev): (&Client, &mut mpsc::Receiver<ClientEvent>),
    (b, bev): (&Client, &mut mpsc::Receiver<ClientEvent>),
) {
    a.call(id_of(b)).await.unwrap();
    let incoming = until(bev, "incoming call", |e| match e {
        ClientEvent::IncomingCall(info) => Some(info.clone()),
        _ => None,
    })
    .await;
    b.accept(&incoming.call_id).await.unwrap();
    until(aev, "connected", |e| match e {
        ClientEvent::Call(i) if i.state == CallPhase::Connected => Some(()),
        _ => None,
    })
    .await;
}

/// `a` adds `b` (as "Bob") to its contacts and waits until it sees them online.
pub async fn add_bob(a: &Client, aev: &mut mpsc::Receiver<ClientEvent>, b: &PeerId) {
    a.profile().add_contact(b, Some("Bob")).unwrap();
    a.refresh_contacts().await;
    until(aev, "bob online", |e| match e {
        ClientEvent::Presence { id, online: true } if id == b => Some(()),
        _ => None,
    })
    .await;
}

/// The next transfer event of `who` matching `f`.
pub async fn transfer_event<T>(
    rx: &mut mpsc::Receiver<ClientEvent>,
    what: &str,
    mut f: impl FnMut(&TransferEvent) -> Option<T>,
) -> T {
    until(rx, what, |e| match e {
        ClientEvent::Transfer { event, .. } => f(event),
        _ => None,
    })
    .await
}
