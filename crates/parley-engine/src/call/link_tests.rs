//! The negotiation state machine's tests: one link fed by hand, and two links
//! wired to each other (glare, restarts), every action checked.
use super::*;

fn local_offer(sdp: &str) -> Input {
    Input::LocalDescription {
        kind: DescriptionType::Offer,
        sdp: sdp.into(),
    }
}

fn local_answer(sdp: &str) -> Input {
    Input::LocalDescription {
        kind: DescriptionType::Answer,
        sdp: sdp.into(),
    }
}

fn remote_offer(sdp: &str) -> Input {
    Input::RemoteDescription {
        kind: DescriptionType::Offer,
        sdp: sdp.into(),
    }
}

fn remote_answer(sdp: &str) -> Input {
    Input::RemoteDescription {
        kind: DescriptionType::Answer,
        sdp: sdp.into(),
    }
}

fn cand(n: u8) -> IceCandidate {
    IceCandidate {
        candidate: format!(
            "candidate:{n} 1 udp 1 127.0.0.1 {} typ host",
            40000 + u16::from(n)
        ),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    }
}

fn drain(l: &mut Link) -> Vec<Action> {
    std::iter::from_fn(|| l.poll_action()).collect()
}

/// Two links and stand-ins for their peer connections: every action is
/// carried out at once, descriptions numbered so a test can tell them apart.
struct Pair {
    a: Link,
    b: Link,
    now: Instant,
    made: u32,
    /// Descriptions applied, per side: (kind, sdp).
    applied: [Vec<(DescriptionType, String)>; 2],
    candidates: [Vec<IceCandidate>; 2],
    events: [Vec<Action>; 2],
    /// Descriptions in flight to the other side, delivered by `deliver`.
    wire: [VecDeque<(DescriptionType, String)>; 2],
}

impl Pair {
    fn new() -> Pair {
        Pair {
            a: Link::new(false),
            b: Link::new(true),
            now: Instant::now(),
            made: 0,
            applied: Default::default(),
            candidates: Default::default(),
            events: Default::default(),
            wire: Default::default(),
        }
    }

    fn link(&mut self, side: usize) -> &mut Link {
        if side == 0 {
            &mut self.a
        } else {
            &mut self.b
        }
    }

    fn feed(&mut self, side: usize, input: Input) {
        let now = self.now;
        self.link(side).handle(input, now);
        self.run(side);
    }

    /// Carries out `side`'s actions; sends go on the wire (not delivered).
    fn run(&mut self, side: usize) {
        while let Some(action) = self.link(side).poll_action() {
            let now = self.now;
            match action {
                Action::CreateOffer { ice_restart } => {
                    self.made += 1;
                    let sdp = format!("offer {} from {side} restart={ice_restart}", self.made);
                    let input = Input::LocalDescription {
                        kind: DescriptionType::Offer,
                        sdp,
                    };
                    self.link(side).handle(input, now);
                }
                Action::ApplyOffer(sdp) => {
                    self.applied[side].push((DescriptionType::Offer, sdp));
                    self.made += 1;
                    let sdp = format!("answer {} from {side}", self.made);
                    let input = Input::LocalDescription {
                        kind: DescriptionType::Answer,
                        sdp,
                    };
                    self.link(side).handle(input, now);
                }
                Action::ApplyAnswer(sdp) => {
                    self.applied[side].push((DescriptionType::Answer, sdp));
                }
                Action::Send { kind, sdp } => self.wire[1 - side].push_back((kind, sdp)),
                Action::AddCandidate(c) => self.candidates[side].push(c),
                other => self.events[side].push(other),
            }
        }
    }

    /// Delivers everything on the wire, both ways, until it is empty.
    fn deliver(&mut self) {
        while self.wire.iter().any(|w| !w.is_empty()) {
            for side in 0..2 {
                while let Some((kind, sdp)) = self.wire[side].pop_front() {
                    self.feed(side, Input::RemoteDescription { kind, sdp });
                }
            }
        }
    }
}

#[test]
fn offer_answer_and_early_candidates() {
    let mut p = Pair::new();
    p.feed(0, Input::Start { offerer: true });
    p.feed(1, Input::Start { offerer: false });
    // Candidates that beat the descriptions wait for them.
    p.feed(1, Input::RemoteCandidate(cand(1)));
    p.feed(0, Input::RemoteCandidate(cand(2)));
    assert!(p.candidates.iter().all(Vec::is_empty));
    p.deliver();
    assert_eq!(p.a.signaling_state(), SignalingState::Stable);
    assert_eq!(p.b.signaling_state(), SignalingState::Stable);
    assert_eq!(
        p.applied[1],
        vec![(
            DescriptionType::Offer,
            "offer 1 from 0 restart=false".into()
        )]
    );
    assert_eq!(
        p.applied[0],
        vec![(DescriptionType::Answer, "answer 2 from 1".into())]
    );
    assert_eq!(p.candidates[1], vec![cand(1)]);
    assert_eq!(p.candidates[0], vec![cand(2)]);
    // Later candidates go straight in; end-of-candidates adds nothing.
    p.feed(0, Input::RemoteCandidate(cand(3)));
    p.feed(
        0,
        Input::RemoteCandidate(IceCandidate {
            candidate: String::new(),
            ..cand(0)
        }),
    );
    assert_eq!(p.candidates[0], vec![cand(2), cand(3)]);
    p.feed(0, Input::Connection(ConnectionState::Connected));
    assert_eq!(p.events[0], vec![Action::Connected { first: true }]);
    assert_eq!(p.a.poll_timeout(), None);
}

#[test]
fn glare_the_polite_side_rolls_back_and_answers() {
    let mut p = Pair::new();
    // Both start as offerers (a restart on both sides looks the same).
    p.feed(0, Input::Start { offerer: true });
    p.feed(1, Input::Start { offerer: true });
    assert_eq!(p.a.signaling_state(), SignalingState::HaveLocalOffer);
    assert_eq!(p.b.signaling_state(), SignalingState::HaveLocalOffer);
    p.deliver();
    // b (polite) rolled its offer back and answered a's; a ignored b's offer.
    assert!(p.events[1].contains(&Action::Rollback), "{:?}", p.events[1]);
    assert!(!p.events[0].contains(&Action::Rollback));
    assert_eq!(
        p.applied[1],
        vec![(
            DescriptionType::Offer,
            "offer 1 from 0 restart=false".into()
        )]
    );
    assert_eq!(p.applied[0].len(), 1);
    assert_eq!(p.applied[0][0].0, DescriptionType::Answer);
    assert_eq!(p.a.signaling_state(), SignalingState::Stable);
    assert_eq!(p.b.signaling_state(), SignalingState::Stable);
}

/// Against the driver contract (an offer reported late), still consistent:
/// the offer is rolled back and its late report dropped.
#[test]
fn an_offer_reported_after_the_peers_offer_is_dropped() {
    let mut l = Link::new(true);
    let now = Instant::now();
    l.handle(Input::Start { offerer: true }, now);
    assert_eq!(
        drain(&mut l),
        vec![Action::CreateOffer { ice_restart: false }]
    );
    // The peer's offer arrives before ours is reported.
    l.handle(remote_offer("theirs"), now);
    assert_eq!(
        drain(&mut l),
        vec![Action::Rollback, Action::ApplyOffer("theirs".into())]
    );
    l.handle(local_offer("ours, too late"), now);
    assert_eq!(drain(&mut l), vec![]);
    l.handle(local_answer("answer"), now);
    assert_eq!(
        drain(&mut l),
        vec![Action::Send {
            kind: DescriptionType::Answer,
            sdp: "answer".into()
        }]
    );
    assert_eq!(l.signaling_state(), SignalingState::Stable);
}

#[test]
fn a_stale_answer_is_ignored() {
    let mut l = Link::new(false);
    let now = Instant::now();
    l.handle(Input::Start { offerer: false }, now);
    l.handle(remote_answer("unasked"), now);
    assert_eq!(drain(&mut l), vec![]);
    assert_eq!(l.signaling_state(), SignalingState::Stable);
}

#[test]
fn an_unanswered_offer_is_sent_again_until_answered() {
    let mut l = Link::new(false);
    let t0 = Instant::now();
    l.handle(Input::Start { offerer: true }, t0);
    drain(&mut l);
    let offer = local_offer("o");
    l.handle(offer, t0);
    drain(&mut l);
    // Lost on the way: sent again every OFFER_RESEND.
    assert_eq!(l.poll_timeout(), Some(t0 + OFFER_RESEND));
    for n in 1..=2u32 {
        l.handle_timeout(t0 + OFFER_RESEND * n);
        assert_eq!(drain(&mut l), vec![Action::ResendOffer]);
    }
    let answer = remote_answer("a");
    l.handle(answer, t0 + OFFER_RESEND * 2);
    assert_eq!(drain(&mut l), vec![Action::ApplyAnswer("a".into())]);
    // Answered: only the connect timeout is left.
    assert_eq!(l.poll_timeout(), Some(t0 + CONNECT_TIMEOUT));
}

#[test]
fn ice_failing_before_the_first_connection_fails_the_link() {
    let mut l = Link::new(false);
    let t0 = Instant::now();
    l.handle(Input::Start { offerer: true }, t0);
    answer_offers(&mut l, t0);
    l.handle(Input::Connection(ConnectionState::Failed), t0);
    assert_eq!(drain(&mut l), vec![Action::Failed(LinkFailure::IceFailed)]);
    assert_eq!(l.poll_timeout(), None);
    assert_eq!(l.ice_restarts(), 0);
}

#[test]
fn no_connection_in_time_fails_the_link() {
    let mut l = Link::new(false);
    let t0 = Instant::now();
    l.handle(Input::Start { offerer: false }, t0);
    assert_eq!(l.poll_timeout(), Some(t0 + CONNECT_TIMEOUT));
    l.handle_timeout(t0 + CONNECT_TIMEOUT - Duration::from_millis(1));
    assert_eq!(drain(&mut l), vec![]);
    l.handle_timeout(t0 + CONNECT_TIMEOUT);
    assert_eq!(
        drain(&mut l),
        vec![Action::Failed(LinkFailure::ConnectTimeout)]
    );
    assert_eq!(l.poll_timeout(), None);
    // Nothing more after the end.
    l.handle(Input::Connection(ConnectionState::Connected), t0);
    assert_eq!(drain(&mut l), vec![]);
}

#[test]
fn lost_connectivity_restarts_ice_on_the_impolite_side() {
    let mut p = Pair::new();
    p.feed(0, Input::Start { offerer: true });
    p.feed(1, Input::Start { offerer: false });
    p.deliver();
    for side in 0..2 {
        p.feed(side, Input::Connection(ConnectionState::Connected));
    }
    let t0 = p.now;
    for side in 0..2 {
        p.feed(side, Input::Connection(ConnectionState::Disconnected));
    }
    // Only the impolite side waits to restart; the other follows its offer
    // (and gives up only much later).
    assert_eq!(p.a.poll_timeout(), Some(t0 + DISCONNECTED_GRACE));
    assert_eq!(p.b.poll_timeout(), Some(t0 + LOST_AFTER));
    p.now = t0 + DISCONNECTED_GRACE;
    let now = p.now;
    p.a.handle_timeout(now);
    p.run(0);
    p.deliver();
    assert_eq!(
        p.applied[1].last(),
        Some(&(DescriptionType::Offer, "offer 3 from 0 restart=true".into()))
    );
    assert_eq!(p.a.signaling_state(), SignalingState::Stable);
    assert_eq!(p.a.poll_timeout(), Some(now + RESTART_TIMEOUT));
    for side in 0..2 {
        p.feed(side, Input::Connection(ConnectionState::Connected));
        assert_eq!(
            p.events[side].last(),
            Some(&Action::Connected { first: false })
        );
    }
    assert_eq!((p.a.poll_timeout(), p.b.poll_timeout()), (None, None));
}

/// Runs `l`'s actions, answering each offer at once; returns them all.
fn answer_offers(l: &mut Link, now: Instant) -> Vec<Action> {
    let mut all = Vec::new();
    loop {
        let actions = drain(l);
        if actions.is_empty() {
            return all;
        }
        for a in &actions {
            if let Action::CreateOffer { .. } = a {
                let offer = local_offer("o");
                l.handle(offer, now);
                let answer = remote_answer("a");
                l.handle(answer, now);
            }
        }
        all.extend(actions);
    }
}

#[test]
fn restarts_back_off_until_the_link_is_lost() {
    let mut l = Link::new(false);
    let t0 = Instant::now();
    let mut now = t0;
    l.handle(Input::Start { offerer: true }, now);
    answer_offers(&mut l, now);
    l.handle(Input::Connection(ConnectionState::Connected), now);
    l.handle(Input::Connection(ConnectionState::Failed), now);
    let mut restarts_at = Vec::new();
    loop {
        let actions = answer_offers(&mut l, now);
        for a in &actions {
            if *a == (Action::CreateOffer { ice_restart: true }) {
                restarts_at.push((now - t0).as_secs());
            }
        }
        if let Some(Action::Failed(why)) = actions.last() {
            assert_eq!(*why, LinkFailure::Lost { restarts: 4 });
            break;
        }
        now = l.poll_timeout().expect("a restart timer runs");
        l.handle_timeout(now);
    }
    // At once (ICE failed), then after 3, 6 and 12 s; lost 30 s after the failure.
    assert_eq!(restarts_at, vec![0, 3, 9, 21]);
    assert_eq!(now - t0, LOST_AFTER);
}

#[test]
fn an_unanswered_restart_offer_is_not_replaced() {
    let mut l = Link::new(false);
    let t0 = Instant::now();
    l.handle(Input::Start { offerer: true }, t0);
    answer_offers(&mut l, t0);
    l.handle(Input::Connection(ConnectionState::Connected), t0);
    drain(&mut l);
    l.handle(Input::Connection(ConnectionState::Failed), t0);
    let first = drain(&mut l);
    assert_eq!(first, vec![Action::CreateOffer { ice_restart: true }]);
    l.handle(local_offer("restart 1"), t0);
    drain(&mut l);
    // The peer's signaling is down: the offer goes out again, and when the
    // restart's wait is over no second restart replaces the first.
    let mut now = t0;
    let mut offers = 0;
    while now < t0 + Duration::from_secs(10) {
        now = l.poll_timeout().expect("timers run");
        l.handle_timeout(now);
        for a in drain(&mut l) {
            match a {
                Action::ResendOffer => {}
                Action::CreateOffer { .. } => offers += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(offers, 0, "the unanswered restart offer was replaced");
    // Its answer comes at last: its checks get the whole first wait.
    l.handle(remote_answer("answer 1"), now);
    assert_eq!(drain(&mut l), vec![Action::ApplyAnswer("answer 1".into())]);
    assert_eq!(l.poll_timeout(), Some(now + RESTART_TIMEOUT));
    assert_eq!(l.ice_restarts(), 1);
}

#[test]
fn restart_timeouts_double_up_to_the_cap() {
    let secs: Vec<u64> = (1..=6).map(|n| restart_timeout(n).as_secs()).collect();
    assert_eq!(secs, vec![3, 6, 12, 12, 12, 12]);
    assert_eq!(restart_timeout(u32::MAX), RESTART_TIMEOUT_MAX);
}

#[test]
fn the_side_that_does_not_restart_gives_up_too() {
    let mut l = Link::new(true);
    let t0 = Instant::now();
    l.handle(Input::Start { offerer: false }, t0);
    l.handle(Input::Connection(ConnectionState::Connected), t0);
    l.handle(Input::Connection(ConnectionState::Disconnected), t0);
    drain(&mut l);
    let due = l.poll_timeout().expect("a deadline for the lost link");
    assert_eq!(due, t0 + LOST_AFTER);
    l.handle_timeout(due);
    assert_eq!(
        drain(&mut l),
        vec![Action::Failed(LinkFailure::Lost { restarts: 0 })]
    );
}

#[test]
fn a_restart_asked_for_mid_negotiation_waits_for_stable() {
    let mut l = Link::new(false);
    let now = Instant::now();
    l.handle(Input::Start { offerer: false }, now);
    l.handle(Input::Connection(ConnectionState::Connected), now);
    drain(&mut l);
    l.handle(remote_offer("renegotiation"), now);
    l.handle(Input::RestartIce, now);
    assert_eq!(
        drain(&mut l),
        vec![Action::ApplyOffer("renegotiation".into())]
    );
    l.handle(local_answer("answer"), now);
    assert_eq!(
        drain(&mut l),
        vec![
            Action::Send {
                kind: DescriptionType::Answer,
                sdp: "answer".into()
            },
            Action::CreateOffer { ice_restart: true },
        ]
    );
}

#[test]
fn a_restart_rolled_back_in_glare_goes_again_afterwards() {
    let mut l = Link::new(true);
    let now = Instant::now();
    l.handle(Input::Start { offerer: true }, now);
    answer_offers(&mut l, now);
    l.handle(Input::Connection(ConnectionState::Connected), now);
    // The polite side does not restart by itself; it is asked to (its network
    // changed) while the link is still up.
    l.handle(Input::RestartIce, now);
    assert_eq!(
        drain(&mut l),
        vec![
            Action::Connected { first: true },
            Action::CreateOffer { ice_restart: true }
        ]
    );
    let offer = local_offer("our restart");
    l.handle(offer, now);
    drain(&mut l);
    // The peer restarts at the same time: we are polite and yield...
    let theirs = remote_offer("their offer");
    l.handle(theirs, now);
    assert_eq!(
        drain(&mut l),
        vec![Action::Rollback, Action::ApplyOffer("their offer".into())]
    );
    let answer = local_answer("answer");
    l.handle(answer, now);
    // ...and restart again once stable (the link is still up).
    let actions = drain(&mut l);
    assert_eq!(
        actions.last(),
        Some(&Action::CreateOffer { ice_restart: true })
    );
    assert_eq!(l.ice_restarts(), 2);
}

#[test]
fn the_polite_side_leaves_restarts_to_the_other_once_the_link_is_down() {
    let mut l = Link::new(true);
    let now = Instant::now();
    l.handle(Input::Start { offerer: false }, now);
    l.handle(Input::Connection(ConnectionState::Connected), now);
    l.handle(Input::Connection(ConnectionState::Disconnected), now);
    drain(&mut l);
    // Its network changed after ICE noticed: the impolite side's restart will
    // come, and a crossing offer of ours would have to be rolled back.
    l.handle(Input::RestartIce, now);
    assert_eq!(drain(&mut l), vec![]);
    assert_eq!(l.poll_timeout(), Some(now + LOST_AFTER));
}

#[test]
fn an_offer_made_while_up_goes_again_once_the_link_is_down() {
    let mut l = Link::new(true);
    let t0 = Instant::now();
    l.handle(Input::Start { offerer: false }, t0);
    l.handle(Input::Connection(ConnectionState::Connected), t0);
    l.handle(Input::RestartIce, t0);
    l.handle(local_offer("restart"), t0);
    drain(&mut l);
    // Its answer is lost with the peer's signaling connection; ICE notices.
    let t1 = t0 + Duration::from_secs(5);
    l.handle(Input::Connection(ConnectionState::Disconnected), t1);
    assert_eq!(l.poll_timeout(), Some(t1));
    l.handle_timeout(t1);
    assert_eq!(drain(&mut l), vec![Action::ResendOffer]);
    assert_eq!(l.poll_timeout(), Some(t1 + OFFER_RESEND));
}

#[test]
fn a_restart_on_a_connected_link_is_not_retried_or_failed() {
    let mut l = Link::new(false);
    let now = Instant::now();
    l.handle(Input::Start { offerer: true }, now);
    answer_offers(&mut l, now);
    l.handle(Input::Connection(ConnectionState::Connected), now);
    drain(&mut l);
    l.handle(Input::RestartIce, now);
    let actions = answer_offers(&mut l, now);
    assert_eq!(actions[0], Action::CreateOffer { ice_restart: true });
    assert_eq!(actions.last(), Some(&Action::ApplyAnswer("a".into())));
    assert_eq!(
        l.poll_timeout(),
        None,
        "nothing to time out on a connected link"
    );
}

#[test]
fn pending_candidates_are_bounded() {
    let mut l = Link::new(false);
    let now = Instant::now();
    l.handle(Input::Start { offerer: false }, now);
    for n in 0..=255u8 {
        l.handle(Input::RemoteCandidate(cand(n)), now);
    }
    l.handle(remote_offer("o"), now);
    l.handle(local_answer("a"), now);
    let added = drain(&mut l)
        .into_iter()
        .filter(|a| matches!(a, Action::AddCandidate(_)))
        .count();
    assert_eq!(added, MAX_PENDING_CANDIDATES);
}
