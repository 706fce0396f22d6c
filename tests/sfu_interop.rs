//! Media through a real Janus VideoRoom (the SFU of group calls, docs/sfu-plan.md)
//! between two engine peers, with the engine's own publisher and subscriber
//! (`parley_engine::call::sfu`) and Janus's access control as the server will
//! set it up.
//!
//! Janus never offers loopback candidates, so the test's own code runs inside a
//! network namespace on a veth (it re-runs itself there, `netns::run_inside`) and
//! starts Janus beside it: WebSocket API on 127.0.0.1, ICE on the veth address.
//!
//! Asserts:
//! - the room's access model: creating a room needs the admin key; a publisher
//!   join without the PIN, with a wrong PIN, or without an allowed token is
//!   refused (429, 433, 433); a subscriber join without a joined publisher's
//!   private id, or with a made-up one, is refused (433);
//! - Alice publishes the test pattern and the recorded speech, Bob the recorded
//!   clip; each subscribes to the other: Bob's decoded frames of Alice are the
//!   pattern frames they show (PSNR ≥ 30 dB, frame index rising), Alice's of Bob
//!   match clip frames (≥ 30 dB), and Bob's audio of Alice correlates with the
//!   speech (≥ 0.6);
//! - Carol publishes after Bob subscribed, and Bob's second subscription gets
//!   her frames too (a second feed into the same room).

mod common;

use std::time::{Duration, Instant};

use common::media;
use common::netns;
use common::sfu_media::{
    check_clip, check_pattern, check_speech, peer_id, rerun_on_a_host, Received,
};
use parley_engine::call::sfu::{SfuGrant, SfuPublisher, SfuSubscriber};
use parley_engine::media::{TestPatternSource, WavFileSource, Y4mFileSource};
use parley_engine::rtc::RtcConfig;
use parley_janus::client::{JanusClient, Session};
use parley_janus::process::{JanusConfig, JanusProcess};
use serde_json::json;

const NAME: &str = "janus_relays_media_between_engine_peers";
/// The veth address Janus and the peers use inside the namespace.
const IP_ENV: &str = "PARLEY_SFU_TEST_IP";

#[test]
fn janus_relays_media_between_engine_peers() {
    if netns::inside() {
        return inside();
    }
    rerun_on_a_host(NAME, IP_ENV, Duration::from_secs(120));
}

/// The plugin error code of a refused request.
async fn refused(session: &Session, body: serde_json::Value) -> i64 {
    let h = session.attach_videoroom().await.unwrap();
    match h.send(body.clone(), None).await {
        Ok(r) => panic!("{body} was not refused: {}", r.data),
        Err(e) => {
            let code = e.code().unwrap_or(0);
            h.detach().await.ok();
            code
        }
    }
}

fn inside() {
    let ip: std::net::IpAddr = std::env::var(IP_ENV).unwrap().parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run(ip));
}

async fn run(ip: std::net::IpAddr) {
    let mut cfg = JanusConfig::new("127.0.0.1".parse().unwrap(), 18188);
    cfg.ice_ip = Some(ip);
    let started = Instant::now();
    let janus = JanusProcess::start(cfg).await.expect("Janus starts");
    println!("sfu: Janus up in {:?}", started.elapsed());
    let client = JanusClient::connect(janus.url()).await.unwrap();

    // The room, as the signaling server will create it.
    let admin = client.create_session().await.unwrap();
    let room = parley_janus::random_id();
    let pin = parley_janus::random_key();
    let tokens: Vec<String> = (0..3).map(|_| parley_janus::random_key()).collect();
    let create = json!({"request": "create", "room": room, "secret": parley_janus::random_key(),
        "pin": pin, "is_private": true, "publishers": 16, "videocodec": "h264",
        "h264_profile": "42e01f", "audiocodec": "opus", "require_pvtid": true,
        "allowed": tokens, "permanent": false});
    assert_eq!(
        refused(&admin, create.clone()).await,
        429,
        "create without admin key"
    );
    let mut with_key = create.clone();
    with_key["admin_key"] = json!(janus.admin_key());
    let h = admin.attach_videoroom().await.unwrap();
    let created = h.send(with_key, None).await.expect("room created");
    assert_eq!(created.data["videoroom"], "created");

    // Who may not publish.
    let feed = parley_janus::random_id();
    let join = |pin: Option<&str>, token: Option<&str>| {
        json!({"request": "join", "ptype": "publisher", "room": room, "id": feed,
               "pin": pin, "token": token})
    };
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().retain(|_, x| !x.is_null());
        v
    };
    let no_pin = refused(&admin, strip(join(None, Some(&tokens[0])))).await;
    let wrong_pin = refused(&admin, strip(join(Some("nope"), Some(&tokens[0])))).await;
    let no_token = refused(&admin, strip(join(Some(&pin), None))).await;
    let bad_token = refused(&admin, strip(join(Some(&pin), Some("forged")))).await;
    println!(
        "sfu: refused: no pin {no_pin}, wrong pin {wrong_pin}, no token {no_token}, \
         forged token {bad_token}"
    );
    assert_eq!(
        (no_pin, wrong_pin, no_token, bad_token),
        (429, 433, 433, 433)
    );

    // Alice and Bob publish and subscribe to each other.
    let rtc = RtcConfig::default();
    let grant = |i: usize, feed: u64| SfuGrant {
        url: janus.url().to_owned(),
        room,
        pin: pin.clone(),
        token: tokens[i].clone(),
        feed,
    };
    let (alice, bob, carol) = (peer_id(1), peer_id(2), peer_id(3));
    let (fa, fb, fc) = (
        parley_janus::random_id(),
        parley_janus::random_id(),
        parley_janus::random_id(),
    );
    let (sa, sb) = (
        client.create_session().await.unwrap(),
        client.create_session().await.unwrap(),
    );
    let mut pa = SfuPublisher::publish(&sa, &grant(0, fa), &rtc)
        .await
        .unwrap();
    let pattern = TestPatternSource::new(320, 180, 15.0).unwrap();
    let speech = WavFileSource::open(media("jfk.wav"), true).unwrap();
    pa.send(Some(Box::new(pattern)), Some(Box::new(speech)), 400_000);
    let mut pb = SfuPublisher::publish(&sb, &grant(1, fb), &rtc)
        .await
        .unwrap();
    let clip = Y4mFileSource::open(media("chrome-320x180-15fps.y4m"), true).unwrap();
    pb.send(Some(Box::new(clip)), None, 400_000);
    pa.wait_connected(Duration::from_secs(10)).await.unwrap();
    pb.wait_connected(Duration::from_secs(10)).await.unwrap();
    println!("sfu: both publishers connected at {:?}", started.elapsed());

    // Only a joined publisher may subscribe (require_pvtid): without its private
    // id, or with a made-up one, a subscriber gets no offer.
    let sub = |pvtid: Option<u64>| {
        let mut v = json!({"request": "join", "ptype": "subscriber", "room": room, "pin": pin,
                           "streams": [{"feed": fa}]});
        if let Some(p) = pvtid {
            v["private_id"] = json!(p);
        }
        v
    };
    let no_pvtid = refused(&admin, sub(None)).await;
    let forged_pvtid = refused(&admin, sub(Some(pb.private_id() ^ 0x5a5a))).await;
    println!("sfu: subscriber refused: no private id {no_pvtid}, forged {forged_pvtid}");
    assert_eq!((no_pvtid, forged_pvtid), (433, 433));

    let (at_a, at_b) = (Received::default(), Received::default());
    let mut sub_b = SfuSubscriber::subscribe(
        &sb,
        &grant(1, fb),
        pb.private_id(),
        &[(fa, alice.clone())],
        &rtc,
        Box::new(at_b.clone()),
    )
    .await
    .unwrap();
    let mut sub_a = SfuSubscriber::subscribe(
        &sa,
        &grant(0, fa),
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
    println!("sfu: Bob's first 45 frames of Alice in {:?}", t0.elapsed());
    at_a.wait_frames(&bob, 45, Duration::from_secs(20), "Alice's frames of Bob")
        .await;

    // Carol joins later; Bob subscribes to her as well.
    let sc = client.create_session().await.unwrap();
    let mut pc = SfuPublisher::publish(&sc, &grant(2, fc), &rtc)
        .await
        .unwrap();
    let carol_pattern = TestPatternSource::new(320, 180, 15.0).unwrap();
    pc.send(Some(Box::new(carol_pattern)), None, 400_000);
    pc.wait_connected(Duration::from_secs(10)).await.unwrap();
    let sb2 = client.create_session().await.unwrap();
    let mut sub_b2 = SfuSubscriber::subscribe(
        &sb2,
        &grant(1, fb),
        pb.private_id(),
        &[(fc, carol.clone())],
        &rtc,
        Box::new(at_b.clone()),
    )
    .await
    .unwrap();
    sub_b2
        .wait_connected(Duration::from_secs(10))
        .await
        .unwrap();
    at_b.wait_frames(&carol, 30, Duration::from_secs(20), "Bob's frames of Carol")
        .await;
    // Audio needs a few seconds of speech to correlate.
    at_b.wait_frames(
        &alice,
        120,
        Duration::from_secs(30),
        "Bob's frames of Alice",
    )
    .await;

    for s in [sub_a, sub_b, sub_b2] {
        s.close().await;
    }
    for p in [pa, pb, pc] {
        p.close().await;
    }

    let of_alice = at_b.take(&alice);
    check_pattern(&of_alice.frames, "Bob's video of Alice");
    check_pattern(&at_b.take(&carol).frames, "Bob's video of Carol");
    check_clip(&at_a.take(&bob).frames, "Alice's video of Bob");
    check_speech(of_alice.audio, "Bob's audio of Alice");
}
