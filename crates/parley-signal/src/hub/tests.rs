//! Unit tests of the parent module.

use ed25519_dalek::SigningKey;

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
        hub.connect(id);
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
        hub.connect(&b),
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
    assert!(hub.connect(&b).is_empty());
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
            call_id: cid(),
            sdp: "x".into(),
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
                call_id: cid(),
                sdp: "o".into()
            }
        ),
        vec![d(
            &b,
            ServerMessage::Offer {
                call_id: cid(),
                from: a.clone(),
                sdp: "o".into()
            }
        )]
    );
    assert_eq!(
        hub.handle(
            &b,
            ClientMessage::Answer {
                call_id: cid(),
                sdp: "a".into()
            }
        ),
        vec![d(
            &a,
            ServerMessage::Answer {
                call_id: cid(),
                from: b.clone(),
                sdp: "a".into()
            }
        )]
    );
    let out = hub.handle(
        &b,
        ClientMessage::Candidate {
            call_id: cid(),
            candidate: "".into(),
            sdp_mid: None,
            sdp_mline_index: None,
        },
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, a);
    assert_eq!(
        hub.handle(&a, ClientMessage::Hangup { call_id: cid() }),
        vec![d(
            &b,
            ServerMessage::Hangup {
                call_id: cid(),
                from: a.clone()
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
        code_of(&hub.handle(&b, ClientMessage::Cancel { call_id: cid() })),
        Some(ErrorCode::NotInCall)
    );
    // Outsider cannot hang up.
    assert_eq!(
        code_of(&hub.handle(&c, ClientMessage::Hangup { call_id: cid() })),
        Some(ErrorCode::NotInCall)
    );
    hub.handle(&b, ClientMessage::Accept { call_id: cid() });
    // Outsider cannot relay into an accepted call.
    let out = hub.handle(
        &c,
        ClientMessage::Offer {
            call_id: cid(),
            sdp: "x".into(),
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
            }
    );
    // Cancel by caller.
    assert_eq!(
        hub.handle(&c, ClientMessage::Cancel { call_id: cid() }),
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

#[test]
fn disconnect_and_replacement_end_calls() {
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
    let out = hub.disconnect(&b);
    assert_eq!(
        out,
        vec![d(
            &a,
            ServerMessage::Hangup {
                call_id: cid(),
                from: b.clone()
            }
        )]
    );
    assert_eq!(hub.online_count(), 2);

    hub.connect(&b);
    invite(&mut hub, &a, &b);
    // `a` reconnects on a new connection: the call ends, presence does not flap.
    let out = hub.connect(&a);
    assert_eq!(
        out,
        vec![d(
            &b,
            ServerMessage::Hangup {
                call_id: cid(),
                from: a.clone()
            }
        )]
    );
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
            call_id: "s1".into(),
            sdp: "v=0".into(),
        },
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, b);
    // C goes away: both its sessions end, the other parties hear a hangup, and
    // the media call between A and B is untouched.
    let out = hub.disconnect(&c);
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
            call_id: "s0".into(),
        },
    );
    let out = open_session(&mut hub, &a, &b, "one-more");
    assert!(
        matches!(out[0].msg, ServerMessage::Invite { .. }),
        "{out:?}"
    );
}
