//! One camera, two links: real peer connections in one process on 127.0.0.1.
//! Alice's [`LocalMedia`] sends one test-pattern camera to Bob and, from a later
//! moment, to Carol, each over its own peer connection; their decoders show the
//! pattern. Checks that one encoder feeds both, that a member who joins late
//! sees a picture within 1 s (it is sent a keyframe), that a frame is counted
//! once however many links it goes to, and that a member who leaves stops
//! receiving while the other goes on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use parley_proto::PeerId;
use tokio::sync::{mpsc, watch};

use crate::call::data::Reporter;
use crate::call::local_media::{LinkTracks, LocalMedia};
use crate::call::media::{self, Counters, VideoRole, VideoSink};
use crate::call::start::add_tracks;
use crate::call::CallOptions;
use crate::media::{psnr_y, I420Frame, MediaError, TestPatternSource, VideoSource};
use crate::rtc::{ConnectionState, MediaKind, PeerConnection, RemoteTrack, RtcConfig, RtcEvent};

const W: u32 = 320;
const H: u32 = 180;
/// How long a step may take before the test fails.
const STEP: Duration = Duration::from_secs(10);

/// The test pattern, counting the frames it produced.
struct Counted {
    pattern: TestPatternSource,
    produced: Arc<AtomicU64>,
}

impl VideoSource for Counted {
    fn width(&self) -> u32 {
        W
    }
    fn height(&self) -> u32 {
        H
    }
    fn fps(&self) -> f64 {
        30.0
    }
    fn next_frame(&mut self) -> Result<I420Frame, MediaError> {
        let f = self.pattern.next_frame()?;
        self.produced.fetch_add(1, Ordering::SeqCst);
        Ok(f)
    }
}

/// What one member's decoder showed: how many frames, and the last one.
#[derive(Clone, Default)]
struct Seen {
    frames: Arc<AtomicU64>,
    last: Arc<Mutex<Option<I420Frame>>>,
}

impl VideoSink for Seen {
    fn frame(&mut self, frame: &I420Frame) -> crate::Result<()> {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(frame.clone());
        self.frames.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Seen {
    fn count(&self) -> u64 {
        self.frames.load(Ordering::SeqCst)
    }

    /// Waits until more than `n` frames were decoded.
    async fn more_than(&self, n: u64, who: &str) {
        tokio::time::timeout(STEP, async {
            while self.count() <= n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{who} decoded {} frames, not more than {n}", self.count()));
    }

    /// PSNR of the last decoded frame against the pattern frame whose index it
    /// shows in its counter box.
    fn last_psnr(&self) -> f64 {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let frame = last.as_ref().expect("a frame was decoded");
        let pattern = TestPatternSource::new(W, H, 30.0).unwrap();
        psnr_y(
            &pattern.render(TestPatternSource::shown_index(frame)),
            frame,
        )
    }
}

fn loopback() -> RtcConfig {
    RtcConfig {
        udp_bind: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    }
}

/// Hands `from`'s candidates to `to`; reports `connected` on `up` and the
/// remote camera track on `camera`.
fn pump(
    mut events: mpsc::Receiver<RtcEvent>,
    to: PeerConnection,
    up: Option<watch::Sender<bool>>,
    camera: Option<mpsc::Sender<RemoteTrack>>,
) {
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match ev {
                RtcEvent::LocalCandidate(c) => {
                    let _ = to.add_ice_candidate(c).await;
                }
                RtcEvent::State(ConnectionState::Connected) => {
                    if let Some(up) = &up {
                        let _ = up.send(true);
                    }
                }
                RtcEvent::Track(t) if t.kind() == MediaKind::Video => {
                    if let Some(tx) = &camera {
                        if t.id().await == "camera" {
                            let _ = tx.send(t).await;
                        }
                    }
                }
                _ => {}
            }
        }
    });
}

/// One link from Alice to a member, connected: Alice's end, the tracks she
/// sends on, the member's end and where its remote camera track arrives.
struct Link {
    alice: PeerConnection,
    tracks: LinkTracks,
    member: PeerConnection,
    camera: mpsc::Receiver<RemoteTrack>,
}

async fn link() -> Link {
    let (alice, alice_ev) = PeerConnection::new(&loopback()).await.unwrap();
    let (member, member_ev) = PeerConnection::new(&loopback()).await.unwrap();
    let tracks = add_tracks(&alice).await.unwrap();
    add_tracks(&member).await.unwrap();
    let offer = alice.create_offer(false).await.unwrap();
    let answer = member.answer_offer(&offer).await.unwrap();
    alice.apply_answer(&answer).await.unwrap();
    let (up, mut is_up) = watch::channel(false);
    let (camera_tx, camera) = mpsc::channel(1);
    pump(alice_ev, member.clone(), Some(up), None);
    pump(member_ev, alice.clone(), None, Some(camera_tx));
    tokio::time::timeout(STEP, is_up.wait_for(|up| *up))
        .await
        .expect("the link connects")
        .unwrap();
    Link {
        alice,
        tracks,
        member,
        camera,
    }
}

/// Decodes the member's camera track into `seen` until `stop`.
async fn receive(link: &mut Link, seen: &Seen, stop: watch::Receiver<bool>) {
    let track = tokio::time::timeout(STEP, link.camera.recv())
        .await
        .expect("the camera track arrives")
        .unwrap();
    let counters = Arc::new(Counters::default());
    let sinks: Vec<Box<dyn VideoSink>> = vec![Box::new(seen.clone())];
    media::spawn_video_receiver(VideoRole::Camera, track, sinks, counters, None, stop);
}

fn member(n: u8) -> PeerId {
    PeerId::from_public_key(&ed25519_dalek::SigningKey::from_bytes(&[n; 32]).verifying_key())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_camera_feeds_every_link_and_a_late_member_gets_a_keyframe() {
    let (stop, stop_rx) = watch::channel(false);
    let (report_tx, _reports) = mpsc::channel(16);
    let counters = Arc::new(Counters::default());
    let mut media = LocalMedia::new(
        Arc::clone(&counters),
        None,
        stop_rx.clone(),
        Reporter::new(report_tx),
    );
    let produced = Arc::new(AtomicU64::new(0));
    let mut opts = CallOptions {
        video_source: Some(Box::new(Counted {
            pattern: TestPatternSource::new(W, H, 30.0).unwrap(),
            produced: Arc::clone(&produced),
        })),
        ..Default::default()
    };
    let (bob, carol) = (member(2), member(3));
    let (mut to_bob, mut to_carol) = (link().await, link().await);
    let (bob_seen, carol_seen) = (Seen::default(), Seen::default());

    // Bob's link connects first: the camera starts and he sees it.
    media.attach(bob.clone(), to_bob.tracks.clone(), &mut opts);
    receive(&mut to_bob, &bob_seen, stop_rx.clone()).await;
    bob_seen.more_than(15, "Bob").await;

    // Carol joins the running camera: a picture within 1 s.
    let joined = Instant::now();
    media.attach(carol.clone(), to_carol.tracks.clone(), &mut opts);
    receive(&mut to_carol, &carol_seen, stop_rx.clone()).await;
    carol_seen.more_than(0, "Carol").await;
    let first_picture = joined.elapsed();
    println!(
        "Carol's first picture {} ms after she joined",
        first_picture.as_millis()
    );
    assert!(
        first_picture < Duration::from_secs(1),
        "Carol waited {first_picture:?} for a picture"
    );
    let bob_then = bob_seen.count();
    carol_seen.more_than(30, "Carol").await;
    bob_seen.more_than(bob_then + 20, "Bob, beside Carol").await;
    for (who, seen) in [("Bob", &bob_seen), ("Carol", &carol_seen)] {
        let psnr = seen.last_psnr();
        println!("{who}: {} frames, last one {psnr:.1} dB", seen.count());
        assert!(
            psnr >= 30.0,
            "{who}'s picture is not the pattern: {psnr:.1} dB"
        );
    }
    // One encoder: every frame counted once, not once per link.
    let (sent, made) = (
        counters.frames_sent.load(Ordering::SeqCst),
        produced.load(Ordering::SeqCst),
    );
    assert!(
        sent <= made,
        "{sent} frames counted as sent, {made} captured"
    );
    assert!(sent + 10 >= made, "{sent} frames sent of {made} captured");

    // Bob leaves: his picture stops, Carol's goes on.
    media.detach(&bob);
    let carol_then = carol_seen.count();
    carol_seen.more_than(carol_then, "Carol").await;
    let bob_left = bob_seen.count();
    carol_seen
        .more_than(carol_seen.count() + 15, "Carol after Bob left")
        .await;
    let late = bob_seen.count() - bob_left;
    assert!(late <= 3, "Bob still decoded {late} frames after he left");

    let _ = stop.send(true);
    for pc in [
        &to_bob.alice,
        &to_bob.member,
        &to_carol.alice,
        &to_carol.member,
    ] {
        pc.close().await;
    }
}
