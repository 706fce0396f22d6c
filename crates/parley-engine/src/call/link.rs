//! Negotiation of one peer link, without I/O: the offer/answer exchange (JSEP,
//! RFC 8829 §3.2 and §4.1.8 signaling states), trickled ICE candidates that arrive
//! before the remote description (buffered, RFC 8838 §4), glare resolved as in the
//! W3C "perfect negotiation" pattern (webrtc-pc §10.7: the polite peer rolls back
//! its own offer, the impolite one ignores the incoming one), the connect
//! timeout, and ICE restarts (RFC 8445 §9) when connectivity is lost.
//!
//! The caller (the link's driver) feeds [`Input`]s with the current time, runs the
//! [`Action`]s it polls (creating and applying descriptions on the peer connection,
//! sending them signed, adding candidates), and calls [`Link::handle_timeout`] at
//! [`Link::poll_timeout`]. Nothing here reads a clock or touches a socket, so
//! every path, glare included, is tested deterministically below (the style of
//! str0m's and quinn-proto's state machines).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parley_proto::binding::DescriptionType;

use crate::rtc::{ConnectionState, IceCandidate};

/// How long a link may take from [`Input::Start`] to its first connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(super::CONNECT_TIMEOUT_MS);

/// How long connectivity may stay `disconnected` before the restarting side
/// restarts ICE (it often comes back by itself within a second or two).
pub const DISCONNECTED_GRACE: Duration = Duration::from_secs(2);

/// How long one ICE restart may take to reconnect before the next one.
pub const RESTART_TIMEOUT: Duration = Duration::from_secs(10);

/// ICE restarts in a row without reconnecting before the link fails.
pub const MAX_RESTARTS: u32 = 3;

/// How long a lost link waits for connectivity to come back (through the
/// restarting side's restarts, or by itself) before it gives up, unless
/// [`Link::set_lost_after`] says otherwise.
pub const LOST_AFTER: Duration = Duration::from_millis(super::DEFAULT_LOST_AFTER_MS);

/// How often an offer still unanswered is sent again while the link is not
/// connected: signaling messages are lost when a peer's signaling connection
/// dies with its network (a roaming laptop), and the offer has to reach it once
/// it is back.
pub const OFFER_RESEND: Duration = Duration::from_secs(3);

/// Remote candidates kept while no remote description is set; later ones are
/// dropped (a peer has no need for more, and a hostile one must not grow memory).
pub const MAX_PENDING_CANDIDATES: usize = 64;

/// JSEP signaling state (RFC 8829 §4.1.8; the provisional-answer states are not
/// used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalingState {
    /// No offer outstanding.
    Stable,
    /// We sent an offer and wait for the answer.
    HaveLocalOffer,
    /// We applied the peer's offer and are making the answer.
    HaveRemoteOffer,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The call was accepted: negotiation may begin. `offerer` says whether this
    /// side makes the first offer.
    Start {
        /// This side makes the first offer.
        offerer: bool,
    },
    /// The peer connection made a description (after [`Action::CreateOffer`] or
    /// [`Action::ApplyOffer`]) and set it as the local one.
    LocalDescription {
        /// Offer or answer.
        kind: DescriptionType,
        /// Its SDP, as it is to be sent and signed.
        sdp: String,
    },
    /// The peer sent a description, and its signature checked out
    /// (docs/protocol.md §6.3; the driver refuses a bad one before this).
    RemoteDescription {
        /// Offer or answer.
        kind: DescriptionType,
        /// Its SDP.
        sdp: String,
    },
    /// The peer sent a candidate; an empty `candidate` ends its candidates.
    RemoteCandidate(IceCandidate),
    /// The peer connection's state changed (W3C webrtc §4.3.3).
    Connection(ConnectionState),
    /// Something on this side calls for an ICE restart now (say, the network
    /// changed).
    RestartIce,
}

/// Why a link gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFailure {
    /// It never connected within [`CONNECT_TIMEOUT`].
    ConnectTimeout,
    /// ICE or DTLS failed before the link ever connected (no candidate pair
    /// worked, RFC 8445 §8; or the DTLS handshake failed).
    IceFailed,
    /// It lost connectivity and [`MAX_RESTARTS`] ICE restarts did not bring it back.
    Lost {
        /// Restarts tried.
        restarts: u32,
    },
}

/// What the driver is to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create an offer (with new ICE credentials when `ice_restart`), set it
    /// locally and report it with [`Input::LocalDescription`] before feeding any
    /// other input (a driver that runs actions one by one does; so no remote
    /// offer can arrive between the local offer being set and being reported).
    CreateOffer {
        /// Ask for new ICE credentials (RFC 8445 §9).
        ice_restart: bool,
    },
    /// Roll our unanswered offer back (we are the polite side of a glare).
    Rollback,
    /// Apply the peer's offer, create the answer, set it locally and report it
    /// with [`Input::LocalDescription`].
    ApplyOffer(String),
    /// Apply the peer's answer.
    ApplyAnswer(String),
    /// Add a remote candidate.
    AddCandidate(IceCandidate),
    /// Sign and send our outstanding offer again, as the peer connection has it
    /// now: with the candidates gathered since in it, for those trickled meanwhile
    /// may have been lost with the signaling connection.
    ResendOffer,
    /// Sign and send a description to the peer.
    Send {
        /// Offer or answer.
        kind: DescriptionType,
        /// Its SDP, exactly as reported.
        sdp: String,
    },
    /// The link is connected: for the first time (`first`), or again after a loss.
    Connected {
        /// The first connection of this link.
        first: bool,
    },
    /// The link gave up; nothing more will come from it.
    Failed(LinkFailure),
}

/// One peer link's negotiation. See the module doc.
#[derive(Debug)]
pub struct Link {
    polite: bool,
    /// Whether this side restarts ICE on its own when connectivity is lost: the
    /// impolite side, so both do not restart at once (the other follows its
    /// offer) and a restart offer is never rolled back in glare. webrtc-rs 0.21.1
    /// keeps what a rolled-back restart offer staged (new ICE credentials, a
    /// socket rebind) and the link stops carrying data
    /// (tests/rtc_renegotiation.rs shows the safe order).
    restarter: bool,
    signaling: SignalingState,
    /// An offer was asked for and not reported yet.
    making_offer: bool,
    /// The offer asked for or outstanding restarts ICE.
    offer_restarts_ice: bool,
    /// The next reported offer belongs to an offer we rolled back: drop it.
    discard_local_offer: bool,
    /// A remote description has been applied (candidates may be added).
    remote_set: bool,
    pending: Vec<IceCandidate>,
    connected_once: bool,
    connected: bool,
    restart_wanted: bool,
    restarts: u32,
    /// ICE restarts offered over the link's life.
    restarts_total: u32,
    connect_deadline: Option<Instant>,
    restart_at: Option<Instant>,
    /// When a lost link gives up if it has not reconnected.
    lost_at: Option<Instant>,
    /// When our outstanding offer is sent again.
    resend_at: Option<Instant>,
    lost_after: Duration,
    ended: bool,
    out: VecDeque<Action>,
}

impl Link {
    /// A link; `polite` decides glare (exactly one side of a link is polite, e.g.
    /// the one whose peer id sorts first). The impolite side restarts ICE when
    /// connectivity is lost; either side restarts on [`Input::RestartIce`].
    pub fn new(polite: bool) -> Link {
        Link {
            polite,
            restarter: false,
            signaling: SignalingState::Stable,
            making_offer: false,
            offer_restarts_ice: false,
            discard_local_offer: false,
            remote_set: false,
            pending: Vec::new(),
            connected_once: false,
            connected: false,
            restart_wanted: false,
            restarts: 0,
            restarts_total: 0,
            connect_deadline: None,
            restart_at: None,
            lost_at: None,
            resend_at: None,
            lost_after: LOST_AFTER,
            ended: false,
            out: VecDeque::new(),
        }
    }

    /// How long a lost link waits before it fails (default [`LOST_AFTER`]).
    pub fn set_lost_after(&mut self, lost_after: Duration) {
        self.lost_after = lost_after;
    }

    /// The current signaling state.
    pub fn signaling_state(&self) -> SignalingState {
        self.signaling
    }

    /// ICE restarts this side has offered over the link's life (those rolled back
    /// in glare included).
    pub fn ice_restarts(&self) -> u32 {
        self.restarts_total
    }

    /// Whether the link is connected now.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Feeds one input at `now`.
    pub fn handle(&mut self, input: Input, now: Instant) {
        if self.ended {
            return;
        }
        match input {
            Input::Start { offerer } => {
                self.restarter = !self.polite;
                self.connect_deadline = Some(now + CONNECT_TIMEOUT);
                if offerer {
                    self.offer(false);
                }
            }
            Input::LocalDescription { kind, sdp } => self.on_local(kind, sdp, now),
            Input::RemoteDescription { kind, sdp } => self.on_remote(kind, sdp, now),
            Input::RemoteCandidate(c) => {
                if c.candidate.is_empty() {
                    // End of candidates: nothing to add.
                } else if self.remote_set {
                    self.out.push_back(Action::AddCandidate(c));
                } else if self.pending.len() < MAX_PENDING_CANDIDATES {
                    self.pending.push(c);
                }
            }
            Input::Connection(state) => self.on_connection(state, now),
            Input::RestartIce => self.restart(now),
        }
    }

    /// Runs what is due at `now` (call it at [`Link::poll_timeout`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ended {
            return;
        }
        if self.connect_deadline.is_some_and(|t| now >= t) {
            self.fail(LinkFailure::ConnectTimeout);
            return;
        }
        if self.lost_at.is_some_and(|t| now >= t) {
            self.fail(LinkFailure::Lost {
                restarts: self.restarts,
            });
            return;
        }
        if self.resend_at.is_some_and(|t| now >= t) {
            self.resend_at = None;
            if self.signaling == SignalingState::HaveLocalOffer && !self.connected {
                self.resend_at = Some(now + OFFER_RESEND);
                self.out.push_back(Action::ResendOffer);
            }
        }
        if self.restart_at.is_some_and(|t| now >= t) {
            self.restart_at = None;
            if self.connected {
                // The link is up (a restart asked for while connected): nothing
                // to retry.
            } else if self.restarts >= MAX_RESTARTS {
                self.fail(LinkFailure::Lost {
                    restarts: self.restarts,
                });
            } else {
                self.restart(now);
            }
        }
    }

    /// The next action, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    /// When [`Link::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        [
            self.connect_deadline,
            self.restart_at,
            self.lost_at,
            self.resend_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn offer(&mut self, ice_restart: bool) {
        self.making_offer = true;
        self.restarts_total += u32::from(ice_restart);
        self.offer_restarts_ice = ice_restart;
        self.out.push_back(Action::CreateOffer { ice_restart });
    }

    fn on_local(&mut self, kind: DescriptionType, sdp: String, now: Instant) {
        match kind {
            DescriptionType::Offer => {
                self.making_offer = false;
                if std::mem::take(&mut self.discard_local_offer) {
                    return;
                }
                self.signaling = SignalingState::HaveLocalOffer;
                if !self.connected {
                    self.resend_at = Some(now + OFFER_RESEND);
                }
                self.out.push_back(Action::Send { kind, sdp });
            }
            DescriptionType::Answer => {
                if self.signaling != SignalingState::HaveRemoteOffer {
                    return;
                }
                self.signaling = SignalingState::Stable;
                self.out.push_back(Action::Send { kind, sdp });
                self.remote_applied();
                self.when_stable(now);
            }
        }
    }

    fn on_remote(&mut self, kind: DescriptionType, sdp: String, now: Instant) {
        match kind {
            DescriptionType::Offer => {
                let collision = self.making_offer || self.signaling != SignalingState::Stable;
                if collision && !self.polite {
                    // The impolite side keeps its own offer; the peer rolls back.
                    return;
                }
                if collision {
                    // Our offer is set locally (or being set): roll it back. One
                    // still to be reported is dropped when it is.
                    if self.making_offer {
                        self.discard_local_offer = true;
                        self.making_offer = false;
                    }
                    self.out.push_back(Action::Rollback);
                    self.resend_at = None;
                    // A restart we rolled back is not given up: it goes again once
                    // this exchange is done, and does not count as tried.
                    if std::mem::take(&mut self.offer_restarts_ice) {
                        self.restarts = self.restarts.saturating_sub(1);
                        self.restart_wanted = true;
                    }
                }
                self.signaling = SignalingState::HaveRemoteOffer;
                self.out.push_back(Action::ApplyOffer(sdp));
            }
            DescriptionType::Answer => {
                if self.signaling != SignalingState::HaveLocalOffer {
                    // Stale (an answer to an offer we rolled back) or unasked for.
                    return;
                }
                self.signaling = SignalingState::Stable;
                self.resend_at = None;
                self.out.push_back(Action::ApplyAnswer(sdp));
                self.remote_applied();
                self.when_stable(now);
            }
        }
    }

    /// A remote description is in place: buffered candidates go in.
    fn remote_applied(&mut self) {
        self.remote_set = true;
        for c in std::mem::take(&mut self.pending) {
            self.out.push_back(Action::AddCandidate(c));
        }
    }

    /// Back in `stable`: a restart asked for meanwhile goes ahead.
    fn when_stable(&mut self, now: Instant) {
        if std::mem::take(&mut self.restart_wanted) {
            self.restart(now);
        }
    }

    fn on_connection(&mut self, state: ConnectionState, now: Instant) {
        match state {
            ConnectionState::Connected => {
                let first = !self.connected_once;
                self.connected_once = true;
                self.connected = true;
                self.connect_deadline = None;
                self.restart_at = None;
                self.lost_at = None;
                self.resend_at = None;
                self.restarts = 0;
                self.out.push_back(Action::Connected { first });
            }
            ConnectionState::Disconnected if self.connected => {
                self.connected = false;
                self.lost_at = Some(now + self.lost_after);
                if self.restarter {
                    self.restart_at = Some(now + DISCONNECTED_GRACE);
                }
            }
            ConnectionState::Failed if self.connected_once => {
                self.connected = false;
                self.lost_at.get_or_insert(now + self.lost_after);
                if self.restarter {
                    self.restart_at = Some(now);
                    self.handle_timeout(now);
                }
            }
            ConnectionState::Failed => self.fail(LinkFailure::IceFailed),
            _ => {}
        }
    }

    /// Restarts ICE now, or as soon as the signaling state is `stable`.
    fn restart(&mut self, now: Instant) {
        if !self.connected_once && self.connect_deadline.is_some() {
            // Still connecting for the first time: the connect timeout rules.
            return;
        }
        if self.making_offer || self.signaling != SignalingState::Stable {
            self.restart_wanted = true;
            return;
        }
        self.offer(true);
        if !self.connected {
            // Try again if this one does not bring the link back.
            self.restarts += 1;
            self.restart_at = Some(now + RESTART_TIMEOUT);
        }
    }

    fn fail(&mut self, why: LinkFailure) {
        self.ended = true;
        self.out.push_back(Action::Failed(why));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        l.handle(
            Input::RemoteDescription {
                kind: DescriptionType::Offer,
                sdp: "theirs".into(),
            },
            now,
        );
        assert_eq!(
            drain(&mut l),
            vec![Action::Rollback, Action::ApplyOffer("theirs".into())]
        );
        l.handle(
            Input::LocalDescription {
                kind: DescriptionType::Offer,
                sdp: "ours, too late".into(),
            },
            now,
        );
        assert_eq!(drain(&mut l), vec![]);
        l.handle(
            Input::LocalDescription {
                kind: DescriptionType::Answer,
                sdp: "answer".into(),
            },
            now,
        );
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
        l.handle(
            Input::RemoteDescription {
                kind: DescriptionType::Answer,
                sdp: "unasked".into(),
            },
            now,
        );
        assert_eq!(drain(&mut l), vec![]);
        assert_eq!(l.signaling_state(), SignalingState::Stable);
    }

    #[test]
    fn an_unanswered_offer_is_sent_again_until_answered() {
        let mut l = Link::new(false);
        let t0 = Instant::now();
        l.handle(Input::Start { offerer: true }, t0);
        drain(&mut l);
        let offer = Input::LocalDescription {
            kind: DescriptionType::Offer,
            sdp: "o".into(),
        };
        l.handle(offer, t0);
        drain(&mut l);
        // Lost on the way: sent again every OFFER_RESEND.
        assert_eq!(l.poll_timeout(), Some(t0 + OFFER_RESEND));
        for n in 1..=2u32 {
            l.handle_timeout(t0 + OFFER_RESEND * n);
            assert_eq!(drain(&mut l), vec![Action::ResendOffer]);
        }
        let answer = Input::RemoteDescription {
            kind: DescriptionType::Answer,
            sdp: "a".into(),
        };
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
                    let offer = Input::LocalDescription {
                        kind: DescriptionType::Offer,
                        sdp: "o".into(),
                    };
                    l.handle(offer, now);
                    let answer = Input::RemoteDescription {
                        kind: DescriptionType::Answer,
                        sdp: "a".into(),
                    };
                    l.handle(answer, now);
                }
            }
            all.extend(actions);
        }
    }

    #[test]
    fn restarts_that_do_not_reconnect_end_the_link() {
        let mut l = Link::new(false);
        let mut now = Instant::now();
        l.handle(Input::Start { offerer: true }, now);
        answer_offers(&mut l, now);
        l.handle(Input::Connection(ConnectionState::Connected), now);
        l.handle(Input::Connection(ConnectionState::Failed), now);
        let mut offers = 0;
        loop {
            let actions = answer_offers(&mut l, now);
            offers += actions
                .iter()
                .filter(|a| **a == Action::CreateOffer { ice_restart: true })
                .count();
            if let Some(Action::Failed(why)) = actions.last() {
                assert_eq!(
                    *why,
                    LinkFailure::Lost {
                        restarts: MAX_RESTARTS
                    }
                );
                break;
            }
            now = l.poll_timeout().expect("a restart timer runs");
            l.handle_timeout(now);
        }
        assert_eq!(offers, MAX_RESTARTS as usize);
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
        l.handle(
            Input::RemoteDescription {
                kind: DescriptionType::Offer,
                sdp: "renegotiation".into(),
            },
            now,
        );
        l.handle(Input::RestartIce, now);
        assert_eq!(
            drain(&mut l),
            vec![Action::ApplyOffer("renegotiation".into())]
        );
        l.handle(
            Input::LocalDescription {
                kind: DescriptionType::Answer,
                sdp: "answer".into(),
            },
            now,
        );
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
        // The polite side does not restart by itself; it is asked to.
        l.handle(Input::Connection(ConnectionState::Disconnected), now);
        l.handle(Input::RestartIce, now);
        assert_eq!(
            drain(&mut l),
            vec![
                Action::Connected { first: true },
                Action::CreateOffer { ice_restart: true }
            ]
        );
        let offer = Input::LocalDescription {
            kind: DescriptionType::Offer,
            sdp: "our restart".into(),
        };
        l.handle(offer, now);
        drain(&mut l);
        // The peer restarts at the same time: we are polite and yield...
        let theirs = Input::RemoteDescription {
            kind: DescriptionType::Offer,
            sdp: "their offer".into(),
        };
        l.handle(theirs, now);
        assert_eq!(
            drain(&mut l),
            vec![Action::Rollback, Action::ApplyOffer("their offer".into())]
        );
        let answer = Input::LocalDescription {
            kind: DescriptionType::Answer,
            sdp: "answer".into(),
        };
        l.handle(answer, now);
        // ...and restart again once stable, not counting the rolled-back one.
        let actions = drain(&mut l);
        assert_eq!(
            actions.last(),
            Some(&Action::CreateOffer { ice_restart: true })
        );
        assert_eq!(l.restarts, 1);
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
        l.handle(
            Input::RemoteDescription {
                kind: DescriptionType::Offer,
                sdp: "o".into(),
            },
            now,
        );
        l.handle(
            Input::LocalDescription {
                kind: DescriptionType::Answer,
                sdp: "a".into(),
            },
            now,
        );
        let added = drain(&mut l)
            .into_iter()
            .filter(|a| matches!(a, Action::AddCandidate(_)))
            .count();
        assert_eq!(added, MAX_PENDING_CANDIDATES);
    }
}
