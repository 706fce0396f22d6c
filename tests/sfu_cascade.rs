//! Group calls past one SFU: two Janus instances cascade VideoRoom publishers
//! (remote publishers, Janus 1.1; docs/architecture.md "Scaling past one
//! machine") through `parley_janus::cascade`, with the engine's own publisher and
//! subscriber as members.
//!
//! Alice publishes (the test pattern and the recorded speech) to a room on Janus
//! A, Bob (the recorded clip) to a room on Janus B. Each publisher is made a
//! remote publisher of the other instance's room, and each member subscribes on
//! its own instance to the other, whose media crosses between the two Janus
//! processes as RTP. Like `sfu_interop`, the test re-runs itself in a network
//! namespace (Janus never offers loopback candidates) and starts both Janus
//! processes there.
//!
//! Asserts:
//! - cascading needs the room's secret: `add_remote_publisher` with a wrong one
//!   is refused (433);
//! - B announces the cascaded Alice to Bob's publisher like a local publisher;
//! - Bob's decoded frames of Alice, through A then B, are the pattern frames they
//!   show (PSNR ≥ 30 dB, the shown index rising) and his audio of her correlates
//!   with the speech (≥ 0.6); Alice's frames of Bob, through B then A, match clip
//!   frames (≥ 30 dB);
//! - undoing the cascade (`unpublish_remotely` on A, `remove_remote_publisher` on
//!   B) tells Bob that Alice left.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::media;
use common::netns;
use common::sfu_media::{
    check_clip, check_pattern, check_speech, peer_id, rerun_on_a_host, Received,
};
use parley_engine::call::sfu::{SfuGrant, SfuPublisher, SfuSubscriber};
use parley_engine::media::{TestPatternSource, WavFileSource, Y4mFileSource};
use parley_engine::rtc::RtcConfig;
use parley_janus::cascade::{self, PublishedStream, RoomAdmin};
use parley_janus::client::{Handle, HandleEvent, JanusClient, Session};
use parley_janus::process::{JanusConfig, JanusProcess};
use serde_json::{json, Value};

const NAME: &str = "two_janus_instances_cascade_publishers";
/// The veth address both Janus instances and the members use in the namespace.
const IP_ENV: &str = "PARLEY_SFU_CASCADE_IP";
/// How long Janus may take to announce or drop a (remote) publisher.
const ANNOUNCE_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn two_janus_instances_cascade_publishers() {
    if netns::inside() {
        return inside();
    }
    rerun_on_a_host(NAME, IP_ENV, Duration::from_secs(150));
}

fn inside() {
    let ip: IpAddr = std::env::var(IP_ENV).unwrap().parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run(ip));
}

/// One Janus with one room, as the signaling server sets a room up: a secret, a
/// PIN, private ids required, and two allowed tokens (the member's, and the
/// orchestrator's for reading publishers' streams).
struct Instance {
    janus: JanusProcess,
    client: JanusClient,
    session: Session,
    /// A VideoRoom handle for the room's administration.
    admin: Handle,
    room: u64,
    secret: String,
    pin: String,
    tokens: [String; 2],
}

impl Instance {
    async fn start(ws_port: u16, ip: IpAddr) -> Instance {
        let mut cfg = JanusConfig::new("127.0.0.1".parse().unwrap(), ws_port);
        cfg.ice_ip = Some(ip);
        let janus = JanusProcess::start(cfg).await.expect("Janus starts");
        let client = JanusClient::connect(janus.url()).await.unwrap();
        let session = client.create_session().await.unwrap();
        let admin = session.attach_videoroom().await.unwrap();
        let (room, secret, pin) = (
            parley_janus::random_id(),
            parley_janus::random_key(),
            parley_janus::random_key(),
        );
        let tokens = [parley_janus::random_key(), parley_janus::random_key()];
        let created = admin
            .send(
                json!({"request": "create", "room": room, "secret": secret, "pin": pin,
                       "is_private": true, "publishers": 16, "videocodec": "h264",
                       "h264_profile": "42e01f", "audiocodec": "opus", "require_pvtid": true,
                       "allowed": tokens, "permanent": false,
                       "admin_key": janus.admin_key()}),
                None,
            )
            .await
            .expect("room created");
        assert_eq!(created.data["videoroom"], "created");
        Instance {
            janus,
            client,
            session,
            admin,
            room,
            secret,
            pin,
            tokens,
        }
    }

    fn room_admin(&self) -> RoomAdmin<'_> {
        RoomAdmin {
            room: self.room,
            secret: &self.secret,
            admin_key: self.janus.admin_key(),
        }
    }

    /// What a member joining as `feed` gets from the server.
    fn grant(&self, feed: u64) -> SfuGrant {
        SfuGrant {
            url: self.janus.url().to_owned(),
            room: self.room,
            pin: self.pin.clone(),
            token: self.tokens[0].clone(),
            feed,
        }
    }
}

/// Makes publisher `feed` of `from`'s room a remote publisher of `to`'s room
/// (same id, `display` name), receiving on `ip`: reads its streams on `from`,
/// adds it on `to`, and starts forwarding on `from`.
async fn cascade(from: &Instance, to: &Instance, feed: u64, display: &str, ip: IpAddr) {
    let observer = from.session.attach_videoroom().await.unwrap();
    let streams = cascade::published_streams(
        &observer,
        from.room,
        &from.pin,
        &from.tokens[1],
        parley_janus::random_id(),
        feed,
        ANNOUNCE_WITHIN,
    )
    .await
    .expect("the publisher's streams");
    observer.detach().await.ok();
    let kinds: Vec<String> = streams
        .iter()
        .map(|s| format!("{}:{}", s.kind, s.codec.as_deref().unwrap_or("off")))
        .collect();
    let to_room = to.room_admin();
    let endpoint = cascade::add_remote_publisher(&to.admin, to_room, feed, display, ip, &streams)
        .await
        .expect("remote publisher added");
    cascade::publish_remotely(&from.admin, from.room_admin(), feed, "cascade", &endpoint)
        .await
        .expect("publishing remotely");
    println!(
        "sfu: {display} cascaded: streams {kinds:?}, RTP to {}:{}",
        endpoint.ip, endpoint.port
    );
}

/// Waits until a VideoRoom event to `member`'s publisher satisfies
/// `what_happened`.
async fn wait_event(member: &SfuPublisher, what: &str, what_happened: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + ANNOUNCE_WITHIN;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, member.next_event()).await {
            Ok(Some(HandleEvent::Plugin { data, .. })) if what_happened(&data) => return,
            Ok(Some(_)) => {}
            Ok(None) => panic!("{what}: the handle closed"),
            Err(_) => panic!("{what}: not within {ANNOUNCE_WITHIN:?}"),
        }
    }
}

/// `data` lists publisher `feed` as publishing.
fn lists(data: &Value, feed: u64) -> bool {
    data["publishers"]
        .as_array()
        .is_some_and(|l| l.iter().any(|p| p["id"].as_u64() == Some(feed)))
}

async fn run(ip: IpAddr) {
    let started = Instant::now();
    let (a, b) = (
        Instance::start(18188, ip).await,
        Instance::start(18189, ip).await,
    );
    println!("sfu: two Janus instances up in {:?}", started.elapsed());
    let rtc = RtcConfig::default();
    let (alice, bob) = (peer_id(1), peer_id(2));
    let (fa, fb) = (parley_janus::random_id(), parley_janus::random_id());

    let (sa, sb) = (
        a.client.create_session().await.unwrap(),
        b.client.create_session().await.unwrap(),
    );
    let mut pa = SfuPublisher::publish(&sa, &a.grant(fa), &rtc)
        .await
        .unwrap();
    let pattern = TestPatternSource::new(320, 180, 15.0).unwrap();
    let speech = WavFileSource::open(media("jfk.wav"), true).unwrap();
    pa.send(Some(Box::new(pattern)), Some(Box::new(speech)), 400_000);
    let mut pb = SfuPublisher::publish(&sb, &b.grant(fb), &rtc)
        .await
        .unwrap();
    let clip = Y4mFileSource::open(media("chrome-320x180-15fps.y4m"), true).unwrap();
    pb.send(Some(Box::new(clip)), None, 400_000);
    pa.wait_connected(Duration::from_secs(10)).await.unwrap();
    pb.wait_connected(Duration::from_secs(10)).await.unwrap();

    // Only whoever holds the room's secret may cascade into it.
    let forged = RoomAdmin {
        secret: "forged",
        ..b.room_admin()
    };
    let video = PublishedStream {
        kind: "video".into(),
        mindex: 0,
        mid: "0".into(),
        codec: Some("h264".into()),
        h264_profile: Some("42e01f".into()),
        disabled: false,
    };
    let refused = cascade::add_remote_publisher(&b.admin, forged, fa, "mallory", ip, &[video])
        .await
        .expect_err("a remote publisher without the room's secret");
    println!("sfu: add_remote_publisher with a wrong secret: {refused}");
    assert_eq!(refused.code(), Some(433), "{refused}");

    cascade(&a, &b, fa, "alice", ip).await;
    wait_event(&pb, "B announces Alice to Bob", |d| lists(d, fa)).await;
    cascade(&b, &a, fb, "bob", ip).await;
    wait_event(&pa, "A announces Bob to Alice", |d| lists(d, fb)).await;

    let (at_a, at_b) = (Received::default(), Received::default());
    let mut sub_b = SfuSubscriber::subscribe(
        &sb,
        &b.grant(fb),
        pb.private_id(),
        &[(fa, alice.clone())],
        &rtc,
        Box::new(at_b.clone()),
    )
    .await
    .unwrap();
    let mut sub_a = SfuSubscriber::subscribe(
        &sa,
        &a.grant(fa),
        pa.private_id(),
        &[(fb, bob.clone())],
        &rtc,
        Box::new(at_a.clone()),
    )
    .await
    .unwrap();
    sub_b.wait_connected(Duration::from_secs(10)).await.unwrap();
    sub_a.wait_connected(Duration::from_secs(10)).await.unwrap();
    let t0 = Instant::now();
    at_b.wait_frames(&alice, 45, Duration::from_secs(20), "Bob's frames of Alice")
        .await;
    println!(
        "sfu: Bob's first 45 frames of Alice (A → B) in {:?}",
        t0.elapsed()
    );
    at_a.wait_frames(&bob, 45, Duration::from_secs(20), "Alice's frames of Bob")
        .await;
    // Audio needs a few seconds of speech to correlate.
    at_b.wait_frames(
        &alice,
        120,
        Duration::from_secs(30),
        "Bob's frames of Alice",
    )
    .await;

    // Undoing the cascade: Bob sees Alice leave B's room.
    cascade::unpublish_remotely(&a.admin, a.room_admin(), fa, "cascade")
        .await
        .expect("unpublish_remotely");
    cascade::remove_remote_publisher(&b.admin, b.room_admin(), fa)
        .await
        .expect("remove_remote_publisher");
    wait_event(&pb, "Bob sees Alice leave B", |d| {
        d["unpublished"].as_u64() == Some(fa) || d["leaving"].as_u64() == Some(fa)
    })
    .await;

    for s in [sub_a, sub_b] {
        s.close().await;
    }
    for p in [pa, pb] {
        p.close().await;
    }
    let of_alice = at_b.take(&alice);
    check_pattern(&of_alice.frames, "Bob's video of Alice, via A and B");
    check_clip(&at_a.take(&bob).frames, "Alice's video of Bob, via B and A");
    check_speech(of_alice.audio, "Bob's audio of Alice, via A and B");
}
