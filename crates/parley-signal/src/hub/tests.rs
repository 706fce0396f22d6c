//! Unit tests of the parent module.

use ed25519_dalek::SigningKey;
use parley_proto::{CallKind, ResumedCall};

use super::*;

fn id(seed: u8) -> PeerId {
    PeerId::from_public_key(&SigningKey::from_bytes(&[seed; 32]).verifying_key())
}

fn d(to: &PeerId, msg: ServerMessage) -> Delivery {
    Delivery {
        to: to.clone(),
        msg,
    }
}

fn code_of(out: &[Delivery]) -> Option<ErrorCode> {
    match out {
        [Delivery {
            msg: ServerMessage::Error { code, .. },
            ..
        }] => Some(*code),
        _ => None,
    }
}

fn hub_with(ids: &[&PeerId]) -> Hub {
    let mut hub = Hub::default();
    for id in ids {
        hub.connect(id, 3);
    }
    hub
}

fn cid() -> String {
    "c1".to_owned()
}

fn invite(hub: &mut Hub, from: &PeerId, to: &PeerId) -> Out {
    hub.handle(
        from,
        ClientMessage::Invite {
            call_id: cid(),
            to: to.clone(),
            kind: CallKind::Media,
        },
    )
}

#[test]
fn presence_on_watch_connect_and_disconnect() {
    let (a, b) = (id(1), id(2));
    let mut hub = hub_with(&[&a]);
    let out = hub.handle(
        &a,
        ClientMessage::Watch {
            ids: vec![b.clone(), b.clone()],
        },
    );
    assert_eq!(
        out,
        vec![d(
            &a,
            ServerMessage::Presence {
                id: b.clone(),
                online: false
            }
        )]
    );
    assert_eq!(
        hub.connect(&b, 3),
        vec![d(
            &a,
            ServerMessage::Presence {
                id: b.clone(),
                online: true
            }
        )]
    );
    assert_eq!(
        hub.disconnect(&b),
        vec![d(
            &a,
            ServerMessage::Presence {
                id: b.clone(),
                online: false
            }
        )]
    );
    // Replacing the watch set stops updates.
    hub.handle(&a, ClientMessage::Watch { ids: vec![] });
    assert!(hub.connect(&b, 3).is_empty());
    assert!(hub.watched_by.is_empty() && hub.watching.is_empty());
}

#[test]
fn full_call_flow() {
    let (a, b) = (id(1), id(2));
    let mut hub = hub_with(&[&a, &b]);
    assert_eq!(
        invite(&mut hub, &a, &b),
        vec![d(
            &b,
            ServerMessage::Invite {
                call_id: cid(),
                from: a.clone(),
                kind: CallKind::Media,
                members: Vec::new(),
                sfu: false,
            }
        )]
    );
    assert_eq!(
        hub.handle(&b, ClientMessage::Ringing { call_id: cid() }),
        vec![d(
            &a,
            ServerMessage::Ringing {
                call_id: cid(),
                from: b.clone()
            }
        )]
    );
    // No relay before accept.
    let out = hub.handle(
        &a,
        ClientMessage::Offer {
            to: None,
            call_id: cid(),
            sdp: "x".into(),
            sig: None,
        },
    );
    assert_eq!(code_of(&out), Some(ErrorCode::NotInCall));
    assert_eq!(
        hub.handle(&b, ClientMessage::Accept { call_id: cid() }),
        vec![d(
            &a,
            ServerMessage::Accept {
                call_id: cid(),
                from: b.clone()
            }
        )]
    );
    assert_eq!(
        hub.handle(
            &a,
            ClientMessage::Offer {
                to: None,
                call_id: cid(),
                sdp: "o".into(),
                sig: None,
            }
        ),
        vec![d(
            &b,
            ServerMessage::Offer {
                call_id: cid(),
                from: a.clone(),
                sdp: "o".into(),
                sig: None,
            }
        )]
    );
    assert_eq!(
        hub.handle(
            &b,
            ClientMessage::Answer {
                to: None,
                call_id: cid(),
                sdp: "a".into(),
                sig: None,
            }
        ),
        vec![d(
            &a,
            ServerMessage::Answer {
                call_id: cid(),
                from: b.clone(),
                sdp: "a".into(),
                sig: None,
            }
        )]
    );
    let out = hub.handle(
        &b,
        ClientMessage::Candidate {
            to: None,
            call_id: cid(),
            candidate: "".into(),
            sdp_mid: None,
            sdp_mline_index: None,
        },
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, a);
    assert_eq!(
        hub.handle(
            &a,
            ClientMessage::Hangup {
                call_id: cid(),
                reason: None
            }
        ),
        vec![d(
            &b,
            ServerMessage::Hangup {
                call_id: cid(),
                from: a.clone(),
                reason: None,
            }
        )]
    );
    assert_eq!(hub.call_count(), 0);
    assert!(hub.in_call.is_empty());
}

#[test]
fn only_the_right_party_may_act() {
    let (a, b, c) = (id(1), id(2), id(3));
    let mut hub = hub_with(&[&a, &b, &c]);
    invite(&mut hub, &a, &b);
    // Caller cannot accept its own call, outsider cannot either.
    assert_eq!(
        code_of(&hub.handle(&a, ClientMessage::Accept { call_id: cid() })),
        Some(ErrorCode::NotInCall)
    );
    assert_eq!(
        code_of(&hub.handle(&c, ClientMessage::Accept { call_id: cid() })),
        Some(ErrorCode::NotInCall)
    );
    // Callee cannot cancel.
    assert_eq!(
        code_of(&hub.handle(
            &b,
            ClientMessage::Cancel {
                call_id: cid(),
                to: None
            }
        )),
        Some(ErrorCode::NotInCall)
    );
    // Outsider cannot hang up.
    assert_eq!(
        code_of(&hub.handle(
            &c,
            ClientMessage::Hangup {
                call_id: cid(),
                reason: None
            }
        )),
        Some(ErrorCode::NotInCall)
    );
    hub.handle(&b, ClientMessage::Accept { call_id: cid() });
    // Outsider cannot relay into an accepted call.
    let out = hub.handle(
        &c,
        ClientMessage::Offer {
            to: None,
            call_id: cid(),
            sdp: "x".into(),
            sig: None,
        },
    );
    assert_eq!(code_of(&out), Some(ErrorCode::NotInCall));
    assert_eq!(
        code_of(&hub.handle(
            &c,
            ClientMessage::Ringing {
                call_id: "nope".into()
            }
        )),
        Some(ErrorCode::NoSuchCall)
    );
}

#[test]
fn invite_errors_and_busy() {
    let (a, b, c, z) = (id(1), id(2), id(3), id(9));
    let mut hub = hub_with(&[&a, &b, &c]);
    assert_eq!(code_of(&invite(&mut hub, &a, &z)), Some(ErrorCode::Offline));
    assert_eq!(code_of(&invite(&mut hub, &a, &a)), Some(ErrorCode::Invalid));
    invite(&mut hub, &a, &b);
    // Reused call id.
    assert_eq!(code_of(&invite(&mut hub, &c, &a)), Some(ErrorCode::Invalid));
    // Callee busy.
    let out = hub.handle(
        &c,
        ClientMessage::Invite {
            call_id: "c2".into(),
            to: b.clone(),
            kind: CallKind::Media,
        },
    );
    assert_eq!(
        out,
        vec![d(
            &c,
            ServerMessage::Busy {
                call_id: "c2".into(),
                from: b.clone()
            }
        )]
    );
    // Caller busy.
    let out = hub.handle(
        &a,
        ClientMessage::Invite {
            call_id: "c3".into(),
            to: c.clone(),
            kind: CallKind::Media,
        },
    );
    assert_eq!(code_of(&out), Some(ErrorCode::Invalid));
    // Decline frees both.
    let out = hub.handle(
        &b,
        ClientMessage::Decline {
            call_id: cid(),
            reason: Some("no".into()),
        },
    );
    assert_eq!(
        out,
        vec![d(
            &a,
            ServerMessage::Decline {
                call_id: cid(),
                from: b.clone(),
                reason: Some("no".into())
            }
        )]
    );
    assert!(
        invite(&mut hub, &c, &b)[0].msg
            == ServerMessage::Invite {
                call_id: cid(),
                from: c.clone(),
                kind: CallKind::Media,
                members: Vec::new(),
                sfu: false,
            }
    );
    // Cancel by caller.
    assert_eq!(
        hub.handle(
            &c,
            ClientMessage::Cancel {
                call_id: cid(),
                to: None
            }
        ),
        vec![d(
            &b,
            ServerMessage::Cancel {
                call_id: cid(),
                from: c.clone()
            }
        )]
    );
    assert_eq!(hub.call_count(), 0);
}

fn resume(hub: &mut Hub, from: &PeerId, calls: &[(&str, &PeerId)]) -> Out {
    let calls = calls
        .iter()
        .map(|(call_id, peer)| ResumedCall {
            call_id: (*call_id).to_owned(),
            peer: (*peer).clone(),
            kind: CallKind::Media,
        })
        .collect();
    hub.handle(from, ClientMessage::Resume { calls })
}

fn offer(hub: &mut Hub, from: &PeerId) -> Out {
    hub.handle(
        from,
        ClientMessage::Offer {
            to: None,
            call_id: cid(),
            sdp: "v=0".into(),
            sig: None,
        },
    )
}

#[test]
fn accepted_calls_wait_for_a_peer_that_dropped() {
    let (a, b, w) = (id(1), id(2), id(3));
    let mut hub = hub_with(&[&a, &b, &w]);
    hub.handle(
        &w,
        ClientMessage::Watch {
            ids: vec![a.clone()],
        },
    );
    invite(&mut hub, &a, &b);
    hub.handle(&b, ClientMessage::Accept { call_id: cid() });
    // B's connection drops: nobody hears a hangup, the call waits for B.
    assert!(hub.disconnect(&b).is_empty());
    assert_eq!(hub.call_count(), 1);
    assert_eq!(hub.online_count(), 2);
    let first = hub.grace_epoch(&b).expect("B is away with a call");
    // B comes back and resumes it: relaying works again, the old timer is void.
    hub.connect(&b, 3);
    assert_eq!(hub.grace_epoch(&b), None);
    assert!(resume(&mut hub, &b, &[(&cid(), &a)]).is_empty());
    assert!(hub.grace_over(&b, first).is_empty());
    assert_eq!(offer(&mut hub, &a)[0].to, b);
    // B drops again and stays away: when the grace period ends, A hears a hangup.
    hub.disconnect(&b);
    let second = hub.grace_epoch(&b).unwrap();
    assert_ne!(first, second);
    let hangup_from = |from: &PeerId| ServerMessage::Hangup {
        call_id: cid(),
        from: from.clone(),
        reason: None,
    };
    assert_eq!(hub.grace_over(&b, second), vec![d(&a, hangup_from(&b))]);
    assert_eq!(hub.call_count(), 0);

    // A ringing call ends at once when a party drops.
    hub.connect(&b, 3);
    invite(&mut hub, &a, &b);
    assert_eq!(hub.disconnect(&b), vec![d(&a, hangup_from(&b))]);
    assert_eq!(hub.grace_epoch(&b), None);

    // A reconnects on a new connection (presence does not flap) and its resume
    // lists no call (the app restarted): its call ends.
    hub.connect(&b, 3);
    invite(&mut hub, &a, &b);
    hub.handle(&b, ClientMessage::Accept { call_id: cid() });
    assert!(hub.connect(&a, 3).is_empty());
    assert_eq!(resume(&mut hub, &a, &[]), vec![d(&b, hangup_from(&a))]);
    assert_eq!(hub.call_count(), 0);
    // A second disconnect is a no-op.
    assert_eq!(
        hub.disconnect(&a),
        vec![d(
            &w,
            ServerMessage::Presence {
                id: a.clone(),
                online: false
            }
        )]
    );
    assert!(hub.disconnect(&a).is_empty());
}

#[test]
fn an_invite_between_welcome_and_resume_keeps_ringing() {
    let (a, b) = (id(1), id(2));
    let mut hub = hub_with(&[&a]);
    // B authenticates; A sees it online and invites it before B's `resume`
    // (the first message B sends) arrives.
    hub.connect(&b, 3);
    invite(&mut hub, &a, &b);
    assert!(resume(&mut hub, &b, &[]).is_empty());
    assert_eq!(hub.call_count(), 1);
    let out = hub.handle(&b, ClientMessage::Accept { call_id: cid() });
    assert_eq!(out[0].to, a, "B can still accept: {out:?}");

    // A new connection replacing B's old one ends what rang on the old one.
    hub.handle(
        &a,
        ClientMessage::Hangup {
            call_id: cid(),
            reason: None,
        },
    );
    invite(&mut hub, &a, &b);
    let hangup = ServerMessage::Hangup {
        call_id: cid(),
        from: b.clone(),
        reason: None,
    };
    assert_eq!(hub.connect(&b, 3), vec![d(&a, hangup)]);
    assert_eq!(hub.call_count(), 0);
}

#[test]
fn calls_come_back_when_both_parties_resume_after_a_restart() {
    let (a, b, m) = (id(1), id(2), id(3));
    // A fresh hub: the server restarted and knows no call.
    let mut hub = hub_with(&[&a, &b, &m]);
    assert!(resume(&mut hub, &a, &[(&cid(), &b)]).is_empty());
    assert_eq!(hub.call_count(), 0);
    assert_eq!(code_of(&offer(&mut hub, &a)), Some(ErrorCode::NotInCall));
    // A third peer cannot join it by naming the same call id.
    assert_eq!(
        code_of(&resume(&mut hub, &m, &[(&cid(), &a)])),
        Some(ErrorCode::Invalid)
    );
    assert_eq!(hub.call_count(), 0);
    // B lists it too, naming A: the call is back, accepted.
    assert!(resume(&mut hub, &b, &[(&cid(), &a)]).is_empty());
    assert_eq!(hub.call_count(), 1);
    assert_eq!(offer(&mut hub, &a)[0].to, b);
    assert_eq!(offer(&mut hub, &b)[0].to, a);
    // It counts as their media call, and hangs up like any other.
    let out = hub.handle(
        &m,
        ClientMessage::Invite {
            call_id: "c2".into(),
            to: a.clone(),
            kind: CallKind::Media,
        },
    );
    assert_eq!(
        out,
        vec![d(
            &m,
            ServerMessage::Busy {
                call_id: "c2".into(),
                from: a.clone()
            }
        )]
    );
    let out = hub.handle(
        &b,
        ClientMessage::Hangup {
            call_id: cid(),
            reason: None,
        },
    );
    assert_eq!(
        out,
        vec![d(
            &a,
            ServerMessage::Hangup {
                call_id: cid(),
                from: b.clone(),
                reason: None,
            }
        )]
    );
    assert_eq!(hub.call_count(), 0);
    // A claim goes with its claimer's connection.
    resume(&mut hub, &a, &[("again", &b)]);
    hub.disconnect(&a);
    hub.connect(&a, 3);
    assert!(resume(&mut hub, &b, &[("again", &a)]).is_empty());
    assert_eq!(hub.call_count(), 0);
}

#[test]
fn misc_messages() {
    let a = id(1);
    let mut hub = hub_with(&[&a]);
    assert_eq!(
        hub.handle(&a, ClientMessage::Ping),
        vec![d(&a, ServerMessage::Pong)]
    );
    let out = hub.handle(
        &a,
        ClientMessage::Auth {
            signature: "x".into(),
            owner: None,
        },
    );
    assert_eq!(code_of(&out), Some(ErrorCode::AlreadyAuthenticated));
}

fn open_session(hub: &mut Hub, from: &PeerId, to: &PeerId, call_id: &str) -> Out {
    hub.handle(
        from,
        ClientMessage::Invite {
            call_id: call_id.into(),
            to: to.clone(),
            kind: CallKind::Data,
        },
    )
}

#[test]
fn data_sessions_sit_beside_calls_and_end_with_their_peer() {
    let (a, b, c) = (id(1), id(2), id(3));
    let mut hub = hub_with(&[&a, &b, &c]);
    // A media call between A and B.
    invite(&mut hub, &a, &b);
    hub.handle(&b, ClientMessage::Accept { call_id: cid() });
    // C can still open a data session with busy B, and A with C.
    assert_eq!(
        open_session(&mut hub, &c, &b, "s1"),
        vec![d(
            &b,
            ServerMessage::Invite {
                call_id: "s1".into(),
                from: c.clone(),
                kind: CallKind::Data,
                members: Vec::new(),
                sfu: false,
            }
        )]
    );
    assert_eq!(open_session(&mut hub, &a, &c, "s2").len(), 1);
    // Sessions are not calls: B is still in its one media call, C in none.
    assert_eq!(hub.in_call.get(&b), Some(&cid()));
    assert!(!hub.in_call.contains_key(&c));
    // Relayed once accepted.
    hub.handle(
        &b,
        ClientMessage::Accept {
            call_id: "s1".into(),
        },
    );
    let out = hub.handle(
        &c,
        ClientMessage::Offer {
            to: None,
            call_id: "s1".into(),
            sdp: "v=0".into(),
            sig: None,
        },
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, b);
    // C goes away: the ringing session ends at once, the accepted one when C's
    // grace period is over; the other parties hear a hangup, and the media call
    // between A and B is untouched.
    let mut out = hub.disconnect(&c);
    let epoch = hub.grace_epoch(&c).unwrap();
    out.extend(hub.grace_over(&c, epoch));
    let hangups: HashSet<(PeerId, String)> = out
        .iter()
        .filter_map(|x| match &x.msg {
            ServerMessage::Hangup { call_id, .. } => Some((x.to.clone(), call_id.clone())),
            _ => None,
        })
        .collect();
    let expected: HashSet<(PeerId, String)> =
        [(b.clone(), "s1".to_owned()), (a.clone(), "s2".to_owned())].into();
    assert_eq!(hangups, expected);
    assert_eq!(hub.call_count(), 1);
    assert!(hub.sessions.is_empty());
    assert_eq!(hub.in_call.get(&a), Some(&cid()));
}

#[test]
fn data_sessions_per_peer_are_bounded() {
    let (a, b) = (id(1), id(2));
    let mut hub = hub_with(&[&a, &b]);
    for i in 0..MAX_DATA_SESSIONS {
        let out = open_session(&mut hub, &a, &b, &format!("s{i}"));
        assert!(
            matches!(out[0].msg, ServerMessage::Invite { .. }),
            "{out:?}"
        );
    }
    let out = open_session(&mut hub, &a, &b, "one-more");
    assert_eq!(code_of(&out), Some(ErrorCode::Invalid));
    // Hanging one up makes room again.
    hub.handle(
        &a,
        ClientMessage::Cancel {
            to: None,
            call_id: "s0".into(),
        },
    );
    let out = open_session(&mut hub, &a, &b, "one-more");
    assert!(
        matches!(out[0].msg, ServerMessage::Invite { .. }),
        "{out:?}"
    );
}

#[test]
fn an_unanswered_invite_rings_out_and_frees_the_callee() {
    let (a, b, c) = (id(1), id(2), id(3));
    let mut hub = hub_with(&[&a, &b, &c]);
    invite(&mut hub, &a, &b);
    // Only the timer of this invitation of the callee ends it.
    let ring = hub.ring_of(&cid(), &b).expect("b rings");
    assert!(hub.ring_over(&cid(), &c, ring).is_empty());
    assert!(hub.ring_over(&cid(), &a, ring).is_empty());
    assert!(hub.ring_over(&cid(), &b, ring + 1).is_empty());
    let out = hub.ring_over(&cid(), &b, ring);
    assert_eq!(
        out,
        [
            d(
                &b,
                ServerMessage::Cancel {
                    call_id: cid(),
                    from: a.clone()
                }
            ),
            d(
                &a,
                ServerMessage::Decline {
                    call_id: cid(),
                    from: b.clone(),
                    reason: Some(NO_ANSWER_REASON.into())
                }
            ),
        ]
    );
    assert_eq!(hub.call_count(), 0);
    // Bob is free: Carol's call rings him instead of getting `busy`.
    let out = invite(&mut hub, &c, &b);
    assert!(
        matches!(
            &out[..],
            [Delivery {
                msg: ServerMessage::Invite { .. },
                ..
            }]
        ),
        "{out:?}"
    );
    // An accepted call is not touched by its old timer.
    let ring = hub.ring_of(&cid(), &b).expect("b rings again");
    hub.handle(&b, ClientMessage::Accept { call_id: cid() });
    assert!(hub.ring_over(&cid(), &b, ring).is_empty());
    assert_eq!(hub.call_count(), 1);
}

mod group;
mod sfu;
