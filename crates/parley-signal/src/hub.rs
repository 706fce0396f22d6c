//! The server's shared state as a pure state machine: who is online, who watches
//! whom, and the call table. Every input returns the frames to deliver; the caller
//! (see `server::Shared`) does the delivery. No sockets, no clocks, no locks here.
//! What an SFU is to do is queued as [`SfuCommand`]s (see `hub/sfu.rs`).

use std::collections::{HashMap, HashSet};

use parley_proto::{ClientMessage, ErrorCode, PeerId, ServerMessage};

use call::Call;

mod call;
mod members;
mod relay;
mod resume;
mod sfu;

pub(crate) use sfu::SfuCommand;

/// Most data sessions ([`CallKind::Data`]) one peer may be a party of at once.
pub(crate) const MAX_DATA_SESSIONS: usize = 64;

/// One frame to deliver to one connected peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// Recipient.
    pub(crate) to: PeerId,
    /// Frame.
    pub(crate) msg: ServerMessage,
}

/// Registry of online peers, presence subscriptions and calls.
///
/// Invariants: every peer is a member of at most one media call (`in_call`) and
/// at most [`MAX_DATA_SESSIONS`] data sessions (`sessions`); every call has at
/// least two members; the members of a ringing call and the invited members of
/// any call are online; a joined member of an accepted call is online or `away`;
/// and `watched_by` is the exact inverse of `watching`.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    /// Online peers and the protocol version each speaks.
    online: HashMap<PeerId, u32>,
    /// watcher → ids it watches.
    watching: HashMap<PeerId, HashSet<PeerId>>,
    /// watched id → its watchers.
    watched_by: HashMap<PeerId, HashSet<PeerId>>,
    calls: HashMap<String, Call>,
    /// peer → the media call it is in.
    in_call: HashMap<PeerId, String>,
    /// peer → the data sessions it is a party of.
    sessions: HashMap<PeerId, HashSet<String>>,
    /// Offline peer → the epoch of its disconnect, while its accepted calls wait
    /// for it to come back ([`Hub::grace_over`]).
    away: HashMap<PeerId, u64>,
    /// Last epoch handed out in `away`.
    epoch: u64,
    /// The last invitation number handed out (`MemberState::Invited`).
    ring_seq: u64,
    /// Call id → a call a peer listed in `resume` that this hub does not know
    /// (after a server restart), waiting for the other party to list it too.
    claims: HashMap<String, resume::Claim>,
    /// Media calls of at least this many members (invited ones included) run
    /// through the SFU; `None`: no SFU is configured ([`Hub::with_sfu_from`]).
    sfu_from: Option<usize>,
    /// What the SFU is to do, in order, until [`Hub::take_sfu_commands`].
    sfu_commands: Vec<SfuCommand>,
}

type Out = Vec<Delivery>;

/// The `reason` of the `decline` a caller gets when its invite rang out.
pub(crate) const NO_ANSWER_REASON: &str = "no answer";

fn send(out: &mut Out, to: &PeerId, msg: ServerMessage) {
    out.push(Delivery {
        to: to.clone(),
        msg,
    });
}

fn error(out: &mut Out, to: &PeerId, code: ErrorCode, message: &str, call_id: &str) {
    send(
        out,
        to,
        ServerMessage::error(code, message, Some(call_id.to_owned())),
    );
}

impl Hub {
    /// Number of online peers.
    pub(crate) fn online_count(&self) -> usize {
        self.online.len()
    }

    /// Number of live calls.
    pub(crate) fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// The number of the invitation of `invitee` into `call_id`, while it
    /// rings: what [`ring_over`](Self::ring_over) is to be given when its ring
    /// timeout runs out.
    pub(crate) fn ring_of(&self, call_id: &str, invitee: &PeerId) -> Option<u64> {
        self.calls.get(call_id)?.ring_of(invitee)
    }

    /// The ring timeout of invitation number `ring` of `invitee` into
    /// `call_id` ran out. If that invitation still rings, it ends: the invitee
    /// gets `cancel` and its inviter `decline` with reason `"no answer"` (both
    /// from the other). Otherwise (answered, ended, a later invitation)
    /// nothing happens.
    pub(crate) fn ring_over(&mut self, call_id: &str, invitee: &PeerId, ring: u64) -> Out {
        let mut out = Vec::new();
        let Some(call) = self.calls.get(call_id) else {
            return out;
        };
        if call.ring_of(invitee) != Some(ring) {
            return out;
        }
        let Some(by) = call.inviter_of(invitee).cloned() else {
            return out;
        };
        tracing::info!(%call_id, "nobody answered; the invite timed out");
        self.drop_member(call_id, invitee);
        let cancel = ServerMessage::Cancel {
            call_id: call_id.to_owned(),
            from: by.clone(),
        };
        send(&mut out, invitee, cancel);
        let decline = ServerMessage::Decline {
            call_id: call_id.to_owned(),
            from: invitee.clone(),
            reason: Some(NO_ANSWER_REASON.to_owned()),
        };
        send(&mut out, &by, decline);
        out
    }

    /// `id` authenticated, speaking protocol version `protocol`. If it was
    /// already online (a new connection replacing an old one) its watch list is
    /// cleared and the old connection's ringing calls end, as on a disconnect;
    /// otherwise its watchers learn it is online. Its accepted calls stay until
    /// its `resume` says which it still holds.
    pub(crate) fn connect(&mut self, id: &PeerId, protocol: u32) -> Out {
        let mut out = Vec::new();
        self.away.remove(id);
        if self.online.insert(id.clone(), protocol).is_some() {
            self.set_watching(id, HashSet::new());
            self.end_ringing(id, &mut out);
        } else {
            self.presence_changed(id, true, &mut out);
        }
        out
    }

    /// `id`'s connection closed: it leaves its ringing calls and the calls it
    /// was invited into at once (the others hear of it), its accepted calls and
    /// sessions wait for it (media needs no server; see
    /// [`grace_epoch`](Self::grace_epoch)), its watch list is dropped and its
    /// watchers learn it is offline.
    pub(crate) fn disconnect(&mut self, id: &PeerId) -> Out {
        let mut out = Vec::new();
        if self.online.remove(id).is_none() {
            return out;
        }
        self.end_ringing(id, &mut out);
        self.claims.retain(|_, claim| claim.claimer != *id);
        if !self.calls_of(id).is_empty() {
            self.epoch += 1;
            self.away.insert(id.clone(), self.epoch);
        }
        self.set_watching(id, HashSet::new());
        self.presence_changed(id, false, &mut out);
        out
    }

    /// `id` leaves the calls where it rings or that ring (not yet accepted).
    fn end_ringing(&mut self, id: &PeerId, out: &mut Out) {
        for call_id in self.calls_of(id) {
            let ringing = self
                .calls
                .get(&call_id)
                .is_some_and(|c| !c.is_accepted() || !c.is_joined(id));
            if ringing {
                self.leave(&call_id, id, None, out);
            }
        }
    }

    /// The epoch to pass to [`grace_over`](Self::grace_over) when `id` went away
    /// with calls still up; `None` when it is online or held no call.
    pub(crate) fn grace_epoch(&self, id: &PeerId) -> Option<u64> {
        self.away.get(id).copied()
    }

    /// The grace period of `id`'s disconnect number `epoch` ran out: if it is
    /// still away, it leaves its calls (the others hear `left`, or `hangup`
    /// when the call ends).
    pub(crate) fn grace_over(&mut self, id: &PeerId, epoch: u64) -> Out {
        let mut out = Vec::new();
        if self.away.get(id) == Some(&epoch) {
            self.away.remove(id);
            for call_id in self.calls_of(id) {
                self.leave(&call_id, id, None, &mut out);
            }
        }
        out
    }

    /// The media call and data sessions `id` is a member of.
    fn calls_of(&self, id: &PeerId) -> Vec<String> {
        let sessions = self.sessions.get(id).into_iter().flatten().cloned();
        self.in_call
            .get(id)
            .cloned()
            .into_iter()
            .chain(sessions)
            .collect()
    }

    /// Handles one message from the authenticated, online peer `from`.
    pub(crate) fn handle(&mut self, from: &PeerId, msg: ClientMessage) -> Out {
        let mut out = Vec::new();
        match msg {
            ClientMessage::Hello { .. } | ClientMessage::Auth { .. } => send(
                &mut out,
                from,
                ServerMessage::error(
                    ErrorCode::AlreadyAuthenticated,
                    "already authenticated",
                    None,
                ),
            ),
            ClientMessage::Ping => send(&mut out, from, ServerMessage::Pong),
            ClientMessage::Watch { ids } => self.watch(from, ids, &mut out),
            ClientMessage::Resume { calls } => self.resume(from, calls, &mut out),
            ClientMessage::Invite { call_id, to, kind } => {
                self.invite(from, call_id, to, kind, &mut out)
            }
            ClientMessage::Add { call_id, to } => self.add(from, call_id, to, &mut out),
            ClientMessage::Ringing { call_id } => self.ringing(from, call_id, &mut out),
            ClientMessage::Accept { call_id } => self.accept(from, call_id, &mut out),
            ClientMessage::Decline { call_id, reason } => {
                self.decline(from, call_id, reason, &mut out)
            }
            ClientMessage::Cancel { call_id, to } => self.cancel(from, call_id, to, &mut out),
            ClientMessage::Hangup { call_id, reason } => {
                self.hangup(from, call_id, reason, &mut out)
            }
            ClientMessage::Offer {
                call_id,
                to,
                sdp,
                sig,
            } => {
                if let Some(to) = self.relay_target(from, &call_id, to, &mut out) {
                    tracing::debug!(%call_id, bytes = sdp.len(), "relaying offer");
                    let from = from.clone();
                    let msg = ServerMessage::Offer {
                        call_id,
                        from,
                        sdp,
                        sig,
                    };
                    send(&mut out, &to, msg);
                }
            }
            ClientMessage::Answer {
                call_id,
                to,
                sdp,
                sig,
            } => {
                if let Some(to) = self.relay_target(from, &call_id, to, &mut out) {
                    tracing::debug!(%call_id, bytes = sdp.len(), "relaying answer");
                    let from = from.clone();
                    let msg = ServerMessage::Answer {
                        call_id,
                        from,
                        sdp,
                        sig,
                    };
                    send(&mut out, &to, msg);
                }
            }
            ClientMessage::Candidate {
                call_id,
                to,
                candidate,
                sdp_mid,
                sdp_mline_index,
            } => {
                if let Some(to) = self.relay_target(from, &call_id, to, &mut out) {
                    tracing::debug!(%call_id, "relaying candidate");
                    let msg = ServerMessage::Candidate {
                        call_id,
                        from: from.clone(),
                        candidate,
                        sdp_mid,
                        sdp_mline_index,
                    };
                    send(&mut out, &to, msg);
                }
            }
            other => send(
                &mut out,
                from,
                ServerMessage::error(
                    ErrorCode::UnknownType,
                    format!("unsupported message {:?}", other.type_name()),
                    None,
                ),
            ),
        }
        out
    }

    fn watch(&mut self, from: &PeerId, ids: Vec<PeerId>, out: &mut Out) {
        let mut seen = HashSet::with_capacity(ids.len());
        for id in &ids {
            if seen.insert(id.clone()) {
                let online = self.online.contains_key(id);
                send(
                    out,
                    from,
                    ServerMessage::Presence {
                        id: id.clone(),
                        online,
                    },
                );
            }
        }
        self.set_watching(from, seen);
    }

    fn set_watching(&mut self, watcher: &PeerId, ids: HashSet<PeerId>) {
        for old in self.watching.remove(watcher).unwrap_or_default() {
            if let Some(set) = self.watched_by.get_mut(&old) {
                set.remove(watcher);
                if set.is_empty() {
                    self.watched_by.remove(&old);
                }
            }
        }
        if ids.is_empty() {
            return;
        }
        for id in &ids {
            self.watched_by
                .entry(id.clone())
                .or_default()
                .insert(watcher.clone());
        }
        self.watching.insert(watcher.clone(), ids);
    }

    fn presence_changed(&self, id: &PeerId, online: bool, out: &mut Out) {
        if let Some(watchers) = self.watched_by.get(id) {
            for watcher in watchers {
                send(
                    out,
                    watcher,
                    ServerMessage::Presence {
                        id: id.clone(),
                        online,
                    },
                );
            }
        }
    }

    fn session_count(&self, id: &PeerId) -> usize {
        self.sessions.get(id).map_or(0, HashSet::len)
    }
}

#[cfg(test)]
mod tests;
