//! Calls through an SFU in the hub (docs/protocol.md §6.5): when a room is
//! asked for, who gets access and when, what is revoked and closed, and what
//! older clients and failures lead to.

use super::{cid, code_of, d, id};
use crate::hub::{Delivery, Hub, Out, SfuCommand};
use crate::sfu::{Grant, SfuRoom};
use parley_proto::{
    CallKind, ClientMessage, ErrorCode, PeerId, ServerMessage, SfuAccess, SfuFeed, MAX_CALL_MEMBERS,
};

/// The room id every test's SFU hands out.
const ROOM: u64 = 77;

/// A hub with an SFU from `sfu_from` members, `ids` online speaking protocol 4.
fn hub_v4(sfu_from: Option<usize>, ids: &[&PeerId]) -> Hub {
    let mut hub = Hub::with_sfu_from(sfu_from);
    for id in ids {
        hub.connect(id, 4);
    }
    hub
}

fn room() -> SfuRoom {
    SfuRoom {
        kind: "janus",
        url: "ws://192.0.2.1:8188/".into(),
        room: ROOM,
        pin: "pin".into(),
    }
}

fn grant(feed: u64) -> Grant {
    Grant {
        token: format!("token{feed}"),
        feed,
    }
}

fn access(feed: u64) -> SfuAccess {
    SfuAccess {
        kind: "janus".into(),
        url: "ws://192.0.2.1:8188/".into(),
        room: ROOM,
        pin: "pin".into(),
        token: format!("token{feed}"),
        feed,
    }
}

fn open() -> SfuCommand {
    SfuCommand::Open {
        call_id: cid(),
        max_members: u32::try_from(MAX_CALL_MEMBERS).unwrap(),
    }
}

fn admit(member: &PeerId) -> SfuCommand {
    SfuCommand::Admit {
        call_id: cid(),
        room: ROOM,
        member: member.clone(),
    }
}

fn sfu(feed: u64, feeds: &[(&PeerId, u64)]) -> ServerMessage {
    ServerMessage::Sfu {
        call_id: cid(),
        sfu: access(feed),
        feeds: feeds
            .iter()
            .map(|(member, feed)| SfuFeed {
                member: (*member).clone(),
                feed: *feed,
            })
            .collect(),
    }
}

fn sfu_feed(member: &PeerId, feed: u64) -> ServerMessage {
    ServerMessage::SfuFeed {
        call_id: cid(),
        member: member.clone(),
        feed,
    }
}

fn invite(hub: &mut Hub, from: &PeerId, to: &PeerId) -> Out {
    let msg = ClientMessage::Invite {
        call_id: cid(),
        to: to.clone(),
        kind: CallKind::Media,
    };
    hub.handle(from, msg)
}

fn add(hub: &mut Hub, from: &PeerId, to: &PeerId) -> Out {
    let msg = ClientMessage::Add {
        call_id: cid(),
        to: to.clone(),
    };
    hub.handle(from, msg)
}

fn accept(hub: &mut Hub, from: &PeerId) -> Out {
    hub.handle(from, ClientMessage::Accept { call_id: cid() })
}

fn hangup(hub: &mut Hub, from: &PeerId) -> Out {
    let msg = ClientMessage::Hangup {
        call_id: cid(),
        reason: None,
    };
    hub.handle(from, msg)
}

/// Whether `out` holds SFU access or feeds.
fn has_sfu(out: &[Delivery]) -> bool {
    out.iter().any(|d| {
        matches!(
            d.msg,
            ServerMessage::Sfu { .. } | ServerMessage::SfuFeed { .. }
        )
    })
}

/// The recipients of `sfu_unavailable` errors in `out`, in order.
fn unavailable_to(out: &[Delivery]) -> Vec<PeerId> {
    out.iter()
        .filter(|d| {
            matches!(
                d.msg,
                ServerMessage::Error {
                    code: ErrorCode::SfuUnavailable,
                    ..
                }
            )
        })
        .map(|d| d.to.clone())
        .collect()
}

#[test]
fn from_two_the_room_opens_at_the_invite_and_a_member_gets_access_once_joined() {
    let (a, b, stranger) = (id(1), id(2), id(3));
    let mut hub = hub_v4(Some(2), &[&a, &b, &stranger]);
    let mut all = Vec::new();

    let out = invite(&mut hub, &a, &b);
    let expected = ServerMessage::Invite {
        call_id: cid(),
        from: a.clone(),
        kind: CallKind::Media,
        members: Vec::new(),
        sfu: true,
    };
    assert_eq!(out, vec![d(&b, expected)]);
    assert_eq!(hub.take_sfu_commands(), vec![open()]);

    // Open: only the caller has joined, so only it is admitted.
    assert!(hub.sfu_opened(&cid(), room()).is_empty());
    assert_eq!(hub.take_sfu_commands(), vec![admit(&a)]);
    let out = hub.sfu_admitted(&cid(), ROOM, &a, grant(1));
    assert_eq!(out, vec![d(&a, sfu(1, &[]))]);
    all.extend(out);

    // B rings: nothing for it yet. It joins: admitted, then told A's feed.
    let out = hub.handle(&b, ClientMessage::Ringing { call_id: cid() });
    assert!(!has_sfu(&out) && hub.take_sfu_commands().is_empty());
    let out = accept(&mut hub, &b);
    assert!(!has_sfu(&out));
    all.extend(out);
    assert_eq!(hub.take_sfu_commands(), vec![admit(&b)]);
    let out = hub.sfu_admitted(&cid(), ROOM, &b, grant(2));
    assert_eq!(out, vec![d(&b, sfu(2, &[(&a, 1)])), d(&a, sfu_feed(&b, 2))]);
    all.extend(out);

    // Nobody outside the call ever hears of the room.
    assert!(all.iter().all(|d| d.to != stranger));
    // The call ends: the room closes (no revoke needed).
    hangup(&mut hub, &b);
    assert_eq!(
        hub.take_sfu_commands(),
        vec![SfuCommand::Close { room: ROOM }]
    );
    assert_eq!(hub.call_count(), 0);
}

#[test]
fn from_three_the_room_opens_when_the_third_is_added_and_leavers_are_revoked() {
    let (a, b, c) = (id(1), id(2), id(3));
    let mut hub = hub_v4(Some(3), &[&a, &b, &c]);
    let out = invite(&mut hub, &a, &b);
    assert!(matches!(
        out[0].msg,
        ServerMessage::Invite { sfu: false, .. }
    ));
    accept(&mut hub, &b);
    assert!(hub.take_sfu_commands().is_empty());

    let out = add(&mut hub, &a, &c);
    let expected = ServerMessage::Invite {
        call_id: cid(),
        from: a.clone(),
        kind: CallKind::Media,
        members: vec![a.clone(), b.clone()],
        sfu: true,
    };
    assert_eq!(out, vec![d(&c, expected)]);
    assert_eq!(hub.take_sfu_commands(), vec![open()]);
    // The joined members are admitted at the open; C, still ringing, is not.
    hub.sfu_opened(&cid(), room());
    assert_eq!(hub.take_sfu_commands(), vec![admit(&a), admit(&b)]);
    assert_eq!(
        hub.sfu_admitted(&cid(), ROOM, &a, grant(1)),
        vec![d(&a, sfu(1, &[]))]
    );
    let out = hub.sfu_admitted(&cid(), ROOM, &b, grant(2));
    assert!(out.iter().all(|d| d.to != c));
    accept(&mut hub, &c);
    assert_eq!(hub.take_sfu_commands(), vec![admit(&c)]);
    let out = hub.sfu_admitted(&cid(), ROOM, &c, grant(3));
    assert_eq!(
        out,
        vec![
            d(&c, sfu(3, &[(&a, 1), (&b, 2)])),
            d(&a, sfu_feed(&c, 3)),
            d(&b, sfu_feed(&c, 3)),
        ]
    );

    // C leaves, the call goes on: C's grant is revoked. Then it ends: closed.
    hangup(&mut hub, &c);
    let revoke = SfuCommand::Revoke {
        room: ROOM,
        grant: grant(3),
    };
    assert_eq!(hub.take_sfu_commands(), vec![revoke]);
    hangup(&mut hub, &a);
    assert_eq!(
        hub.take_sfu_commands(),
        vec![SfuCommand::Close { room: ROOM }]
    );
}

#[test]
fn late_grants_and_late_rooms_are_given_back() {
    let (a, b, c) = (id(1), id(2), id(3));
    let mut hub = hub_v4(Some(2), &[&a, &b, &c]);
    invite(&mut hub, &a, &b);
    accept(&mut hub, &b);
    hub.sfu_opened(&cid(), room());
    hub.sfu_admitted(&cid(), ROOM, &a, grant(1));
    hub.sfu_admitted(&cid(), ROOM, &b, grant(2));
    add(&mut hub, &a, &c);
    accept(&mut hub, &c);
    assert_eq!(
        hub.take_sfu_commands(),
        vec![open(), admit(&a), admit(&b), admit(&c)]
    );

    // C hangs up before its grant came: the grant is revoked, nobody hears.
    hangup(&mut hub, &c);
    assert!(hub.take_sfu_commands().is_empty());
    assert!(hub.sfu_admitted(&cid(), ROOM, &c, grant(3)).is_empty());
    let revoke = SfuCommand::Revoke {
        room: ROOM,
        grant: grant(3),
    };
    assert_eq!(hub.take_sfu_commands(), vec![revoke]);
    // A second grant for a member that has one is revoked too.
    assert!(hub.sfu_admitted(&cid(), ROOM, &a, grant(4)).is_empty());
    let revoked = hub.take_sfu_commands();
    assert!(matches!(&revoked[..], [SfuCommand::Revoke { .. }]));

    // A room that opens after its call ended is closed at once.
    hangup(&mut hub, &a);
    assert_eq!(
        hub.take_sfu_commands(),
        vec![SfuCommand::Close { room: ROOM }]
    );
    invite(&mut hub, &b, &c);
    hangup(&mut hub, &b);
    assert_eq!(hub.take_sfu_commands(), vec![open()]);
    assert!(hub.sfu_opened(&cid(), room()).is_empty());
    assert_eq!(
        hub.take_sfu_commands(),
        vec![SfuCommand::Close { room: ROOM }]
    );
}

#[test]
fn older_clients_stay_out_of_calls_through_the_sfu() {
    let (a, b, old) = (id(1), id(2), id(3));
    let mut hub = hub_v4(Some(2), &[&a, &b]);
    hub.connect(&old, 3);

    // A new call with an older callee runs as a mesh, without an error.
    let out = invite(&mut hub, &a, &old);
    assert!(matches!(
        &out[..],
        [Delivery {
            msg: ServerMessage::Invite { sfu: false, .. },
            ..
        }]
    ));
    assert!(hub.take_sfu_commands().is_empty());
    hangup(&mut hub, &a);

    // It cannot be added to a call through the SFU.
    invite(&mut hub, &a, &b);
    accept(&mut hub, &b);
    let out = add(&mut hub, &a, &old);
    assert_eq!(code_of(&out), Some(ErrorCode::UnsupportedVersion));
    assert_eq!(hub.take_sfu_commands(), vec![open()]);
    hangup(&mut hub, &a);

    // Nor to a call it would make reach `sfu_from`.
    let mut hub = hub_v4(Some(3), &[&a, &b]);
    hub.connect(&old, 3);
    invite(&mut hub, &a, &b);
    accept(&mut hub, &b);
    let out = add(&mut hub, &a, &old);
    assert_eq!(code_of(&out), Some(ErrorCode::UnsupportedVersion));
    assert!(hub.take_sfu_commands().is_empty());
}

#[test]
fn a_failed_sfu_leaves_a_mesh_and_tells_the_joined_members() {
    let (a, b, c) = (id(1), id(2), id(3));
    let mut hub = hub_v4(Some(3), &[&a, &b, &c]);
    invite(&mut hub, &a, &b);
    accept(&mut hub, &b);
    add(&mut hub, &a, &c);
    assert_eq!(hub.take_sfu_commands(), vec![open()]);

    // A failure for another room is not this call's.
    assert!(hub.sfu_failed(&cid(), Some(ROOM), "x").is_empty());
    let out = hub.sfu_failed(&cid(), None, "no janus");
    assert_eq!(unavailable_to(&out), vec![a.clone(), b.clone()]);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].msg.call_id(), Some(cid().as_str()));
    // C joins later: told as well; nothing is asked of the SFU.
    let out = accept(&mut hub, &c);
    assert_eq!(unavailable_to(&out), vec![c.clone()]);
    assert!(hub.take_sfu_commands().is_empty());
    // The room that opens anyway is closed.
    hub.sfu_opened(&cid(), room());
    assert_eq!(
        hub.take_sfu_commands(),
        vec![SfuCommand::Close { room: ROOM }]
    );

    // An open room whose admission fails is closed.
    hangup(&mut hub, &a);
    hangup(&mut hub, &b);
    let mut hub = hub_v4(Some(2), &[&a, &b]);
    invite(&mut hub, &a, &b);
    hub.sfu_opened(&cid(), room());
    assert_eq!(hub.take_sfu_commands(), vec![open(), admit(&a)]);
    let out = hub.sfu_failed(&cid(), Some(ROOM), "admit failed");
    assert_eq!(unavailable_to(&out), vec![a.clone()]);
    assert_eq!(
        hub.take_sfu_commands(),
        vec![SfuCommand::Close { room: ROOM }]
    );
}

#[test]
fn without_an_sfu_no_command_is_ever_queued() {
    let (a, b, c) = (id(1), id(2), id(3));
    let mut hub = hub_v4(None, &[&a, &b, &c]);
    let out = invite(&mut hub, &a, &b);
    assert!(matches!(
        out[0].msg,
        ServerMessage::Invite { sfu: false, .. }
    ));
    accept(&mut hub, &b);
    let out = add(&mut hub, &a, &c);
    assert!(matches!(
        out[0].msg,
        ServerMessage::Invite { sfu: false, .. }
    ));
    accept(&mut hub, &c);
    hangup(&mut hub, &c);
    hangup(&mut hub, &a);
    assert!(hub.take_sfu_commands().is_empty());
    assert_eq!(hub.call_count(), 0);
}
