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

/// How long the first ICE restart may take to reconnect before the next one; each
/// further restart gets twice as long as the one before, up to
/// [`RESTART_TIMEOUT_MAX`]. Short at first, so a path that comes back is found
/// within seconds; longer later, so a slow path (TURN over TCP) is not cut off
/// by the next restart.
pub const RESTART_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest wait between two ICE restarts.
pub const RESTART_TIMEOUT_MAX: Duration = Duration::from_secs(12);

/// How long the `n`-th ICE restart in a row (from 1) may take before the next:
/// [`RESTART_TIMEOUT`] doubled per restart, at most [`RESTART_TIMEOUT_MAX`]
/// (3, 6, 12, 12, ... s).
pub fn restart_timeout(n: u32) -> Duration {
    let doublings = n.saturating_sub(1).min(8);
    (RESTART_TIMEOUT * (1 << doublings)).min(RESTART_TIMEOUT_MAX)
}

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
    /// It lost connectivity and it did not come back (through ICE restarts or by
    /// itself) within the lost-after time ([`LOST_AFTER`] by default).
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

    /// Whether the link has ever connected (it may be reconnecting now).
    pub fn has_connected(&self) -> bool {
        self.connected_once
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
            } else if self.offer_restarts_ice && self.signaling == SignalingState::HaveLocalOffer {
                // Our restart offer is still unanswered (the peer's signaling may
                // be down; the offer is re-sent meanwhile): replacing it would
                // only throw its answer away. Its answer re-arms the timer.
                self.restart_at = Some(now + restart_timeout(self.restarts));
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
                if std::mem::take(&mut self.offer_restarts_ice) && !self.connected && self.restarter
                {
                    // The restart's checks start now: they get the whole wait,
                    // however long the answer took to come. (A restart still
                    // wanted, the network having changed again since this offer,
                    // goes ahead below.)
                    self.restart_at = Some(now + restart_timeout(self.restarts.max(1)));
                }
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
                self.resend_unanswered(now);
                if self.restarter {
                    self.restart_at = Some(now + DISCONNECTED_GRACE);
                }
            }
            ConnectionState::Failed if self.connected_once => {
                self.connected = false;
                self.lost_at.get_or_insert(now + self.lost_after);
                self.resend_unanswered(now);
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
        if !self.restarter && !self.connected {
            // The link is down: the restarting side's offers rule, so that two
            // restart offers never cross (the polite side would roll its own
            // back, which webrtc-rs 0.21.1 does not survive). This side restarts
            // only while the link is up (its own network changed).
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
            self.restart_at = Some(now + restart_timeout(self.restarts));
        }
    }

    /// An offer made while the link was up and still unanswered now that it is
    /// down (a restart after a network change, its answer lost with a signaling
    /// connection) goes out again at once, then every [`OFFER_RESEND`].
    fn resend_unanswered(&mut self, now: Instant) {
        if self.signaling == SignalingState::HaveLocalOffer && self.resend_at.is_none() {
            self.resend_at = Some(now);
        }
    }

    fn fail(&mut self, why: LinkFailure) {
        self.ended = true;
        self.out.push_back(Action::Failed(why));
    }
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
