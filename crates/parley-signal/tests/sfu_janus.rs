//! Scenario: the server's SFU backend, `parley_signal::sfu::JanusSfu`, against a
//! real Janus (docs/sfu-plan.md §1 "Access model", §2 "Server"). Janus runs on
//! loopback in this namespace: no media flows, only the API is exercised.
//!
//! Asserts, with a separate raw Janus client as a member or an attacker would
//! use it:
//! - `open_room(6)` gives a `"janus"` room with the public URL, an id < 2^53 and
//!   a non-empty PIN;
//! - a publisher join with the PIN and the token of an `admit` grant is
//!   `joined` as the grant's feed; with the PIN and a made-up token it is
//!   refused 433, without the PIN 429;
//! - `publishers` answers;
//! - after `revoke`, a join with the revoked token is refused 433; revoking a
//!   grant never used (Janus: 428 no such feed on the kick) is fine, and so is
//!   revoking twice;
//! - after `close_room`, a join with the PIN and a grant admitted before is
//!   refused 426 (no such room), `admit` fails with `NoSuchRoom`, and closing
//!   again too;
//! - creating a room without the admin key (the raw client) is refused 429.

use std::time::Duration;

use parley_janus::{JanusClient, JanusConfig, JanusProcess, Session};
use parley_signal::sfu::{JanusSfu, Sfu, SfuError};
use serde_json::{json, Value};

/// A publisher join of `room` as `feed`, with `pin` if given.
fn join(room: u64, pin: Option<&str>, token: &str, feed: u64) -> Value {
    let mut body = json!({"request": "join", "ptype": "publisher", "room": room,
                          "token": token, "id": feed});
    if let Some(pin) = pin {
        body["pin"] = json!(pin);
    }
    body
}

/// Sends `body` on a new VideoRoom handle of `session`, expecting a refusal: the
/// plugin's error code.
async fn refused(session: &Session, body: Value) -> i64 {
    let handle = session.attach_videoroom().await.expect("attached");
    let result = handle.send(body.clone(), None).await;
    handle.detach().await.ok();
    match result {
        Ok(reply) => panic!("{body} was not refused: {}", reply.data),
        Err(e) => e.code().unwrap_or_else(|| panic!("{body}: {e}")),
    }
}

#[tokio::test]
async fn janus_sfu_controls_who_may_publish() {
    if !std::path::Path::new("/usr/bin/janus").exists() {
        // `.ci/run` sets this: there the test must run.
        assert!(
            std::env::var_os("PARLEY_TESTS_REQUIRE_NETNS").is_none(),
            "sfu_janus needs Janus (Debian package janus)"
        );
        eprintln!("SKIPPED sfu_janus: needs Janus (Debian package janus)");
        return;
    }
    let janus = JanusProcess::start(JanusConfig::new("127.0.0.1".parse().unwrap(), 0))
        .await
        .expect("Janus starts");
    let sfu = JanusSfu::connect(
        janus.url(),
        janus.admin_key().to_owned(),
        janus.url().to_owned(),
    )
    .await
    .expect("the SFU connects");
    let member = JanusClient::connect(janus.url()).await.expect("connected");
    let session = member.create_session().await.expect("a session");

    // (a) A room.
    let room = sfu.open_room(6).await.expect("a room opens");
    assert_eq!(room.kind, "janus");
    assert_eq!(room.url, janus.url());
    assert!(room.room > 0 && room.room < (1u64 << 53), "{}", room.room);
    assert!(!room.pin.is_empty());

    // (b) A member with its grant joins as its feed.
    let grant = sfu.admit(room.room).await.expect("admitted");
    assert!(!grant.token.is_empty());
    let publisher = session.attach_videoroom().await.expect("attached");
    let joined = publisher
        .send(
            join(room.room, Some(&room.pin), &grant.token, grant.feed),
            None,
        )
        .await
        .expect("the admitted member joins");
    assert_eq!(joined.data["videoroom"], "joined", "{}", joined.data);
    assert_eq!(joined.data["id"], grant.feed, "{}", joined.data);

    // (c) Without a grant, or without the PIN, nobody joins.
    let stranger = parley_janus::random_id();
    let made_up = parley_janus::random_key();
    assert_eq!(
        refused(
            &session,
            join(room.room, Some(&room.pin), &made_up, stranger)
        )
        .await,
        433,
        "a made-up token"
    );
    assert_eq!(
        refused(&session, join(room.room, None, &grant.token, stranger)).await,
        429,
        "no PIN"
    );

    // (d) Who publishes (the member joined but sent no media).
    let feeds = sfu.publishers(room.room).await.expect("publishers listed");
    println!("sfu_janus: publishers after the join: {feeds:?}");

    // (e) A revoked member cannot join again.
    sfu.revoke(room.room, &grant).await.expect("revoked");
    match tokio::time::timeout(Duration::from_secs(2), publisher.next_event()).await {
        Ok(event) => println!("sfu_janus: the kicked member got {event:?}"),
        Err(_) => println!("sfu_janus: the kicked member got no event within 2 s"),
    }
    assert_eq!(
        refused(
            &session,
            join(
                room.room,
                Some(&room.pin),
                &grant.token,
                parley_janus::random_id()
            )
        )
        .await,
        433,
        "a revoked token"
    );
    sfu.revoke(room.room, &grant)
        .await
        .expect("revoking twice is fine");
    let unused = sfu.admit(room.room).await.expect("admitted");
    sfu.revoke(room.room, &unused)
        .await
        .expect("revoking a grant never used is fine");

    // (f) A closed room is gone, with every grant.
    let late = sfu.admit(room.room).await.expect("admitted");
    sfu.close_room(room.room).await.expect("closed");
    assert_eq!(
        refused(
            &session,
            join(room.room, Some(&room.pin), &late.token, late.feed)
        )
        .await,
        426,
        "a join of the closed room"
    );
    match sfu.admit(room.room).await {
        Err(SfuError::NoSuchRoom(r)) => assert_eq!(r, room.room),
        other => panic!("admit to a closed room: {other:?}"),
    }
    assert!(
        matches!(
            sfu.close_room(room.room).await,
            Err(SfuError::NoSuchRoom(_))
        ),
        "closing twice"
    );

    // (g) Only the server may create rooms.
    let create = json!({"request": "create", "room": parley_janus::random_id(),
        "secret": parley_janus::random_key(), "pin": parley_janus::random_key(),
        "is_private": true, "publishers": 6, "videocodec": "h264",
        "h264_profile": "42e01f", "audiocodec": "opus", "require_pvtid": true,
        "allowed": [], "permanent": false});
    assert_eq!(
        refused(&session, create).await,
        429,
        "create without admin key"
    );
}
