//! The server's shared state as a pure state machine: who is online, who watches
//! whom, and the call table. Every input returns the frames to deliver; the caller
//! (see `server::Shared`) does the delivery. No sockets, no clocks, no locks here.

use std::collections::{HashMap, HashSet};

use parley_proto::{CallKind, ClientMessage, ErrorCode, PeerId, ServerMessage};

mod resume;

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

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    /// Invite delivered, callee has not accepted.
    Ringing,
    /// Callee accepted: offer/answer/candidates are relayed.
    Accepted,
}

#[derive(Debug, Clone)]
struct Call {
    caller: PeerId,
    callee: PeerId,
    state: CallState,
    kind: CallKind,
}

impl Call {
    fn other(&self, id: &PeerId) -> Option<&PeerId> {
        if *id == self.caller {
            Some(&self.callee)
        } else if *id == self.callee {
            Some(&self.caller)
        } else {
            None
        }
    }
}

/// Registry of online peers, presence subscriptions and calls.
///
/// Invariants: every peer is in at most one media call (`in_call`) and at most
/// [`MAX_DATA_SESSIONS`] data sessions (`sessions`), both parties of every ringing
/// call are online, a party of an accepted call is online or `away`, and
/// `watched_by` is the exact inverse of `watching`.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    online: HashSet<PeerId>,
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
    /// Call id → a call a peer listed in `resume` that this hub does not know
    /// (after a server restart), waiting for the other party to list it too.
    claims: HashMap<String, resume::Claim>,
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

    /// The ring timeout of `call_id` ran out. If it still rings with `caller` as
    /// its caller it ends: the callee gets `cancel`, the caller `decline` with
    /// reason `"no answer"`. Otherwise (answered, ended, reused) nothing happens.
    pub(crate) fn ring_over(&mut self, call_id: &str, caller: &PeerId) -> Out {
        let mut out = Vec::new();
        let Some(call) = self.calls.get(call_id) else {
            return out;
        };
        if call.state != CallState::Ringing || call.caller != *caller {
            return out;
        }
        let callee = call.callee.clone();
        tracing::info!(%call_id, "nobody answered; the invite timed out");
        self.remove_call(call_id);
        send(
            &mut out,
            &callee,
            ServerMessage::Cancel {
                call_id: call_id.to_owned(),
                from: caller.clone(),
            },
        );
        send(
            &mut out,
            caller,
            ServerMessage::Decline {
                call_id: call_id.to_owned(),
                from: callee,
                reason: Some(NO_ANSWER_REASON.to_owned()),
            },
        );
        out
    }

    /// `id` authenticated. If it was already online (a new connection replacing an
    /// old one) its watch list is cleared and the old connection's ringing calls
    /// end, as on a disconnect; otherwise its watchers learn it is online. Its
    /// accepted calls stay until its `resume` says which it still holds.
    pub(crate) fn connect(&mut self, id: &PeerId) -> Out {
        let mut out = Vec::new();
        self.away.remove(id);
        if self.online.contains(id) {
            self.set_watching(id, HashSet::new());
            self.end_ringing(id, &mut out);
        } else {
            self.online.insert(id.clone());
            self.presence_changed(id, true, &mut out);
        }
        out
    }

    /// `id`'s connection closed: its ringing calls end (the other party gets
    /// `hangup`), its accepted calls and sessions wait for it (media needs no
    /// server; see [`grace_epoch`](Self::grace_epoch)), its watch list is dropped
    /// and its watchers learn it is offline.
    pub(crate) fn disconnect(&mut self, id: &PeerId) -> Out {
        let mut out = Vec::new();
        if !self.online.remove(id) {
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

    /// Ends `id`'s calls that are still ringing (the other party gets `hangup`).
    fn end_ringing(&mut self, id: &PeerId, out: &mut Out) {
        for call_id in self.calls_of(id) {
            if self.call_state(&call_id) == Some(CallState::Ringing) {
                self.end_one(id, call_id, out);
            }
        }
    }

    fn call_state(&self, call_id: &str) -> Option<CallState> {
        self.calls.get(call_id).map(|c| c.state)
    }

    /// The epoch to pass to [`grace_over`](Self::grace_over) when `id` went away
    /// with calls still up; `None` when it is online or held no call.
    pub(crate) fn grace_epoch(&self, id: &PeerId) -> Option<u64> {
        self.away.get(id).copied()
    }

    /// The grace period of `id`'s disconnect number `epoch` ran out: if it is
    /// still away, its calls end and the other parties get `hangup`.
    pub(crate) fn grace_over(&mut self, id: &PeerId, epoch: u64) -> Out {
        let mut out = Vec::new();
        if self.away.get(id) == Some(&epoch) {
            self.away.remove(id);
            self.end_call_of(id, &mut out);
        }
        out
    }

    /// The media call and data sessions `id` is a party of.
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
            ClientMessage::Ringing { call_id } => {
                if let Some(call) = self.callee_of_ringing(from, &call_id, &mut out) {
                    tracing::debug!(%call_id, "ringing");
                    let caller = call.caller.clone();
                    send(
                        &mut out,
                        &caller,
                        ServerMessage::Ringing {
                            call_id,
                            from: from.clone(),
                        },
                    );
                }
            }
            ClientMessage::Accept { call_id } => {
                if let Some(call) = self.callee_of_ringing(from, &call_id, &mut out) {
                    tracing::info!(%call_id, "call accepted");
                    let caller = call.caller.clone();
                    if let Some(call) = self.calls.get_mut(&call_id) {
                        call.state = CallState::Accepted;
                    }
                    send(
                        &mut out,
                        &caller,
                        ServerMessage::Accept {
                            call_id,
                            from: from.clone(),
                        },
                    );
                }
            }
            ClientMessage::Decline { call_id, reason } => {
                if let Some(call) = self.callee_of_ringing(from, &call_id, &mut out) {
                    tracing::info!(%call_id, "call declined");
                    let caller = call.caller.clone();
                    self.remove_call(&call_id);
                    send(
                        &mut out,
                        &caller,
                        ServerMessage::Decline {
                            call_id,
                            from: from.clone(),
                            reason,
                        },
                    );
                }
            }
            ClientMessage::Cancel { call_id } => match self.calls.get(&call_id) {
                None => error(
                    &mut out,
                    from,
                    ErrorCode::NoSuchCall,
                    "no such call",
                    &call_id,
                ),
                Some(call) if call.caller != *from || call.state != CallState::Ringing => error(
                    &mut out,
                    from,
                    ErrorCode::NotInCall,
                    "only the caller may cancel a ringing call",
                    &call_id,
                ),
                Some(call) => {
                    tracing::info!(%call_id, "call cancelled");
                    let callee = call.callee.clone();
                    self.remove_call(&call_id);
                    send(
                        &mut out,
                        &callee,
                        ServerMessage::Cancel {
                            call_id,
                            from: from.clone(),
                        },
                    );
                }
            },
            ClientMessage::Hangup { call_id, reason } => {
                match self.calls.get(&call_id).map(|c| c.other(from).cloned()) {
                    None => error(
                        &mut out,
                        from,
                        ErrorCode::NoSuchCall,
                        "no such call",
                        &call_id,
                    ),
                    Some(None) => error(
                        &mut out,
                        from,
                        ErrorCode::NotInCall,
                        "not a party of that call",
                        &call_id,
                    ),
                    Some(Some(other)) => {
                        tracing::info!(%call_id, "call hung up");
                        self.remove_call(&call_id);
                        send(
                            &mut out,
                            &other,
                            ServerMessage::Hangup {
                                call_id,
                                from: from.clone(),
                                reason,
                            },
                        );
                    }
                }
            }
            ClientMessage::Offer { call_id, sdp, sig } => {
                if let Some(other) = self.relay_target(from, &call_id, &mut out) {
                    tracing::debug!(%call_id, bytes = sdp.len(), "relaying offer");
                    send(
                        &mut out,
                        &other,
                        ServerMessage::Offer {
                            call_id,
                            from: from.clone(),
                            sdp,
                            sig,
                        },
                    );
                }
            }
            ClientMessage::Answer { call_id, sdp, sig } => {
                if let Some(other) = self.relay_target(from, &call_id, &mut out) {
                    tracing::debug!(%call_id, bytes = sdp.len(), "relaying answer");
                    send(
                        &mut out,
                        &other,
                        ServerMessage::Answer {
                            call_id,
                            from: from.clone(),
                            sdp,
                            sig,
                        },
                    );
                }
            }
            ClientMessage::Candidate {
                call_id,
                candidate,
                sdp_mid,
                sdp_mline_index,
            } => {
                if let Some(other) = self.relay_target(from, &call_id, &mut out) {
                    tracing::debug!(%call_id, "relaying candidate");
                    send(
                        &mut out,
                        &other,
                        ServerMessage::Candidate {
                            call_id,
                            from: from.clone(),
                            candidate,
                            sdp_mid,
                            sdp_mline_index,
                        },
                    );
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
                let online = self.online.contains(id);
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

    fn invite(
        &mut self,
        from: &PeerId,
        call_id: String,
        to: PeerId,
        kind: CallKind,
        out: &mut Out,
    ) {
        if to == *from {
            return error(
                out,
                from,
                ErrorCode::Invalid,
                "cannot call yourself",
                &call_id,
            );
        }
        if self.calls.contains_key(&call_id) {
            return error(
                out,
                from,
                ErrorCode::Invalid,
                "call id already in use",
                &call_id,
            );
        }
        if kind == CallKind::Media {
            if let Some(current) = self.in_call.get(from) {
                let message = format!("already in call {current}; hang up first");
                return error(out, from, ErrorCode::Invalid, &message, &call_id);
            }
        } else if self.session_count(from) >= MAX_DATA_SESSIONS {
            let message = format!("at most {MAX_DATA_SESSIONS} data sessions at once");
            return error(out, from, ErrorCode::Invalid, &message, &call_id);
        }
        if !self.online.contains(&to) {
            return error(
                out,
                from,
                ErrorCode::Offline,
                "callee is not connected",
                &call_id,
            );
        }
        let busy = match kind {
            CallKind::Media => self.in_call.contains_key(&to),
            CallKind::Data => self.session_count(&to) >= MAX_DATA_SESSIONS,
        };
        if busy {
            tracing::info!(%call_id, "callee busy");
            return send(out, from, ServerMessage::Busy { call_id, from: to });
        }
        tracing::info!(%call_id, caller = %from, callee = %to, ?kind, "call invited");
        for party in [from, &to] {
            match kind {
                CallKind::Media => {
                    self.in_call.insert(party.clone(), call_id.clone());
                }
                CallKind::Data => {
                    self.sessions
                        .entry(party.clone())
                        .or_default()
                        .insert(call_id.clone());
                }
            }
        }
        self.calls.insert(
            call_id.clone(),
            Call {
                caller: from.clone(),
                callee: to.clone(),
                state: CallState::Ringing,
                kind,
            },
        );
        send(
            out,
            &to,
            ServerMessage::Invite {
                call_id,
                from: from.clone(),
                kind,
            },
        );
    }

    fn session_count(&self, id: &PeerId) -> usize {
        self.sessions.get(id).map_or(0, HashSet::len)
    }

    /// The call if `from` is the callee of a ringing call `call_id`; otherwise
    /// queues the error and returns `None`.
    fn callee_of_ringing(&self, from: &PeerId, call_id: &str, out: &mut Out) -> Option<&Call> {
        match self.calls.get(call_id) {
            None => {
                error(out, from, ErrorCode::NoSuchCall, "no such call", call_id);
                None
            }
            Some(call) if call.callee != *from || call.state != CallState::Ringing => {
                let message = "only the callee may answer a ringing call";
                error(out, from, ErrorCode::NotInCall, message, call_id);
                None
            }
            Some(call) => Some(call),
        }
    }

    /// The other party if `from` is a party of the accepted call `call_id`;
    /// otherwise queues `not_in_call` and returns `None`.
    fn relay_target(&self, from: &PeerId, call_id: &str, out: &mut Out) -> Option<PeerId> {
        let other = self
            .calls
            .get(call_id)
            .filter(|c| c.state == CallState::Accepted)
            .and_then(|c| c.other(from).cloned());
        if other.is_none() {
            let message = "not a party of an accepted call with that id";
            error(out, from, ErrorCode::NotInCall, message, call_id);
        }
        other
    }

    fn remove_call(&mut self, call_id: &str) -> Option<Call> {
        let call = self.calls.remove(call_id)?;
        for party in [&call.caller, &call.callee] {
            match call.kind {
                CallKind::Media => {
                    self.in_call.remove(party);
                }
                CallKind::Data => {
                    if let Some(set) = self.sessions.get_mut(party) {
                        set.remove(call_id);
                        if set.is_empty() {
                            self.sessions.remove(party);
                        }
                    }
                }
            }
        }
        Some(call)
    }

    /// Ends `id`'s media call and all its data sessions; the other parties get
    /// `hangup`.
    fn end_call_of(&mut self, id: &PeerId, out: &mut Out) {
        for call_id in self.calls_of(id) {
            self.end_one(id, call_id, out);
        }
    }

    fn end_one(&mut self, id: &PeerId, call_id: String, out: &mut Out) {
        if let Some(call) = self.remove_call(&call_id) {
            tracing::info!(%call_id, "call ended by disconnect");
            if let Some(other) = call.other(id) {
                send(
                    out,
                    other,
                    ServerMessage::Hangup {
                        call_id,
                        from: id.clone(),
                        reason: None,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
