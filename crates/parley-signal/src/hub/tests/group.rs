//! Group calls in the hub (docs/protocol.md §6.4): adding members to a running
//! call, relaying per pair of joined members, members leaving while the call
//! goes on, and what older clients are told.

use super::{cid, code_of, d, hub_with, id};
use crate::hub::{Delivery, Hub, Out, NO_ANSWER_REASON};
use parley_proto::{CallKind, ClientMessage, ErrorCode, PeerId, ServerMessage};

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

fn offer(hub: &mut Hub, from: &PeerId, to: Option<&PeerId>) -> Out {
    let msg = ClientMessage::Offer {
        call_id: cid(),
        to: to.cloned(),
        sdp: "v=0".into(),
        sig: None,
    };
    hub.handle(from, msg)
}

fn hangup(hub: &mut Hub, from: &PeerId) -> Out {
    let msg = ClientMessage::Hangup {
        call_id: cid(),
        reason: None,
    };
    hub.handle(from, msg)
}

/// A and B in an accepted call `g1`.
fn one_to_one(hub: &mut Hub, a: &PeerId, b: &PeerId) {
    let invite = ClientMessage::Invite {
        call_id: cid(),
        to: b.clone(),
        kind: CallKind::Media,
    };
    hub.handle(a, invite);
    accept(hub, b);
}

fn left(member: &PeerId) -> ServerMessage {
    ServerMessage::Left {
        call_id: cid(),
        member: member.clone(),
        reason: None,
    }
}

#[test]
fn a_member_adds_a_third_who_joins_and_talks_to_each_member() {
    let (a, b, c) = (id(1), id(2), id(3));
    let mut hub = hub_with(&[&a, &b, &c]);
    one_to_one(&mut hub, &a, &b);

    // B (not the caller) adds C: C sees who is in the call.
    assert_eq!(
        add(&mut hub, &b, &c),
        vec![d(
            &c,
            ServerMessage::Invite {
                call_id: cid(),
                from: b.clone(),
                kind: CallKind::Media,
                members: vec![a.clone(), b.clone()],
                sfu: false,
            }
        )]
    );
    // Ringing goes to the inviter only; before C joins, nothing is relayed to it.
    let ringing = hub.handle(&c, ClientMessage::Ringing { call_id: cid() });
    assert_eq!(ringing.len(), 1);
    assert_eq!(ringing[0].to, b);
    assert_eq!(
        code_of(&offer(&mut hub, &a, Some(&c))),
        Some(ErrorCode::NotInCall)
    );

    // C joins: its inviter hears `accept`, the other member `joined`.
    let mut joined = accept(&mut hub, &c);
    joined.sort_by(|x, y| x.to.as_str().cmp(y.to.as_str()));
    let mut expected = vec![
        d(
            &b,
            ServerMessage::Accept {
                call_id: cid(),
                from: c.clone(),
            },
        ),
        d(
            &a,
            ServerMessage::Joined {
                call_id: cid(),
                member: c.clone(),
            },
        ),
    ];
    expected.sort_by(|x, y| x.to.as_str().cmp(y.to.as_str()));
    assert_eq!(joined, expected);

    // Offers go to the member named in `to`, from the sender.
    let out = offer(&mut hub, &a, Some(&c));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, c);
    assert_eq!(out[0].msg.from(), Some(&a));
    // With three members, `to` is required; a non-member is refused.
    assert_eq!(
        code_of(&offer(&mut hub, &a, None)),
        Some(ErrorCode::Invalid)
    );
    let stranger = id(9);
    hub.connect(&stranger, 3);
    let out = offer(&mut hub, &a, Some(&stranger));
    assert_eq!(code_of(&out), Some(ErrorCode::NotInCall));
    assert_eq!(
        code_of(&offer(&mut hub, &stranger, Some(&a))),
        Some(ErrorCode::NotInCall)
    );
    // Nobody is added twice, and only joined members add.
    assert_eq!(code_of(&add(&mut hub, &a, &c)), Some(ErrorCode::Invalid));
    assert_eq!(
        code_of(&add(&mut hub, &stranger, &a)),
        Some(ErrorCode::NotInCall)
    );
}

#[test]
fn members_leave_and_the_call_goes_on_until_one_is_left() {
    let (a, b, c) = (id(1), id(2), id(3));
    let mut hub = hub_with(&[&a, &b, &c]);
    one_to_one(&mut hub, &a, &b);
    add(&mut hub, &a, &c);
    accept(&mut hub, &c);

    // The caller leaves: B and C stay in the call and talk without `to`.
    let mut out = hangup(&mut hub, &a);
    out.sort_by(|x, y| x.to.as_str().cmp(y.to.as_str()));
    let mut expected = vec![d(&b, left(&a)), d(&c, left(&a))];
    expected.sort_by(|x, y| x.to.as_str().cmp(y.to.as_str()));
    assert_eq!(out, expected);
    assert_eq!(hub.call_count(), 1);
    assert_eq!(offer(&mut hub, &b, None)[0].to, c);
    // A is free again.
    let invite = ClientMessage::Invite {
        call_id: "other".into(),
        to: id(4),
        kind: CallKind::Media,
    };
    assert_eq!(code_of(&hub.handle(&a, invite)), Some(ErrorCode::Offline));

    // C leaves: B is alone, the call ends with a plain `hangup`.
    assert_eq!(
        hangup(&mut hub, &c),
        vec![d(
            &b,
            ServerMessage::Hangup {
                call_id: cid(),
                from: c.clone(),
                reason: None,
            }
        )]
    );
    assert_eq!(hub.call_count(), 0);
}

#[test]
fn an_invitation_rings_out_or_is_withdrawn_without_ending_the_call() {
    let (a, b, c, e) = (id(1), id(2), id(3), id(5));
    let mut hub = hub_with(&[&a, &b, &c, &e]);
    one_to_one(&mut hub, &a, &b);

    add(&mut hub, &a, &c);
    let ring = hub.ring_of(&cid(), &c).expect("C rings");
    assert_eq!(
        hub.ring_over(&cid(), &c, ring),
        vec![
            d(
                &c,
                ServerMessage::Cancel {
                    call_id: cid(),
                    from: a.clone(),
                }
            ),
            d(
                &a,
                ServerMessage::Decline {
                    call_id: cid(),
                    from: c.clone(),
                    reason: Some(NO_ANSWER_REASON.into()),
                }
            ),
        ]
    );
    assert_eq!(hub.call_count(), 1);

    // Two invitations at once: the inviter withdraws one by name.
    add(&mut hub, &a, &c);
    add(&mut hub, &a, &e);
    let cancel = |to: Option<&PeerId>| ClientMessage::Cancel {
        call_id: cid(),
        to: to.cloned(),
    };
    assert_eq!(
        code_of(&hub.handle(&a, cancel(None))),
        Some(ErrorCode::NotInCall)
    );
    assert_eq!(
        code_of(&hub.handle(&b, cancel(Some(&c)))),
        Some(ErrorCode::NotInCall)
    );
    let out = hub.handle(&a, cancel(Some(&e)));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, e);
    // C declines; the call is still A and B.
    let out = hub.handle(
        &c,
        ClientMessage::Decline {
            call_id: cid(),
            reason: None,
        },
    );
    assert_eq!(out[0].to, a);
    assert_eq!(offer(&mut hub, &b, None)[0].to, a);
}

#[test]
fn a_member_that_drops_is_waited_for_then_leaves() {
    let (a, b, c) = (id(1), id(2), id(3));
    let mut hub = hub_with(&[&a, &b, &c]);
    one_to_one(&mut hub, &a, &b);
    add(&mut hub, &a, &c);
    accept(&mut hub, &c);

    assert!(hub.disconnect(&c).is_empty());
    let epoch = hub.grace_epoch(&c).expect("C is away with a call");
    let mut out = hub.grace_over(&c, epoch);
    out.sort_by(|x, y| x.to.as_str().cmp(y.to.as_str()));
    let mut expected = vec![d(&a, left(&c)), d(&b, left(&c))];
    expected.sort_by(|x, y| x.to.as_str().cmp(y.to.as_str()));
    assert_eq!(out, expected);
    assert_eq!(hub.call_count(), 1);

    // An invited member that drops declines at once.
    hub.connect(&c, 3);
    add(&mut hub, &b, &c);
    let out = hub.disconnect(&c);
    assert_eq!(out[0].to, b);
    assert!(matches!(out[0].msg, ServerMessage::Decline { .. }));
    assert_eq!(hub.call_count(), 1);
}

#[test]
fn older_clients_stay_out_of_group_calls_with_a_clear_error() {
    let (a, b, old, busy, other) = (id(1), id(2), id(3), id(4), id(5));
    let mut hub = hub_with(&[&a, &b, &busy, &other]);
    hub.connect(&old, 2);
    one_to_one(&mut hub, &a, &b);

    let out = add(&mut hub, &a, &old);
    assert_eq!(code_of(&out), Some(ErrorCode::UnsupportedVersion));
    let ServerMessage::Error { message, .. } = &out[0].msg else {
        unreachable!()
    };
    assert!(message.contains(old.as_str()), "{message}");
    assert!(message.contains("too old"), "{message}");

    // Nobody may be added into a call with a version 2 member either.
    let mut hub = hub_with(&[&a, &busy, &other]);
    hub.connect(&old, 2);
    one_to_one(&mut hub, &a, &old);
    assert_eq!(
        code_of(&add(&mut hub, &a, &other)),
        Some(ErrorCode::UnsupportedVersion)
    );

    // A contact in another call is busy; an offline one is offline.
    let mut hub = hub_with(&[&a, &b, &busy, &other]);
    one_to_one(&mut hub, &a, &b);
    let side = ClientMessage::Invite {
        call_id: "side".into(),
        to: other.clone(),
        kind: CallKind::Media,
    };
    hub.handle(&busy, side);
    assert!(matches!(
        add(&mut hub, &a, &busy)[..],
        [Delivery {
            msg: ServerMessage::Busy { .. },
            ..
        }]
    ));
    assert_eq!(
        code_of(&add(&mut hub, &a, &id(8))),
        Some(ErrorCode::Offline)
    );
}

#[test]
fn invitations_outlive_their_inviter_and_old_timers() {
    let (a, b, c) = (id(1), id(2), id(3));
    let mut hub = hub_with(&[&a, &b, &c]);
    // Nobody is added to a call that was not answered yet.
    let invite = ClientMessage::Invite {
        call_id: cid(),
        to: b.clone(),
        kind: CallKind::Media,
    };
    hub.handle(&a, invite);
    assert_eq!(code_of(&add(&mut hub, &a, &c)), Some(ErrorCode::Invalid));
    accept(&mut hub, &b);

    // B invites C and leaves: C's answer goes to A, who is still in the call.
    add(&mut hub, &b, &c);
    let first = hub.ring_of(&cid(), &c).unwrap();
    hangup(&mut hub, &b);
    let out = accept(&mut hub, &c);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, a);
    assert!(matches!(out[0].msg, ServerMessage::Accept { .. }));

    // C leaves and is invited again: the first invitation's timer ends nothing.
    hangup(&mut hub, &c);
    let b2 = id(4);
    hub.connect(&b2, 3);
    one_to_one_again(&mut hub, &a, &b2);
    add(&mut hub, &a, &c);
    assert!(hub.ring_over(&cid(), &c, first).is_empty());
    let second = hub.ring_of(&cid(), &c).unwrap();
    assert_ne!(first, second);
    assert_eq!(hub.ring_over(&cid(), &c, second).len(), 2);
}

/// As [`one_to_one`], for a hub where `a`'s earlier call `g1` has ended.
fn one_to_one_again(hub: &mut Hub, a: &PeerId, b: &PeerId) {
    assert_eq!(hub.call_count(), 0, "the earlier call ended");
    one_to_one(hub, a, b);
}
