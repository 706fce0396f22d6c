//! The server's shared state as a pure state machine: who is online, who watches
//! whom, and the call table. Every input returns the frames to deliver; the caller
//! (see `server::Shared`) does the delivery. No sockets, no clocks, no locks here.

use std::collections::{HashMap, HashSet};

use parley_proto::{ClientMessage, ErrorCode, PeerId, ServerMessage};

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
/// Invariants: every peer is in at most one call (`in_call`), both parties of every
/// call are online, and `watched_by` is the exact inverse of `watching`.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    online: HashSet<PeerId>,
    /// watcher → ids it watches.
    watching: HashMap<PeerId, HashSet<PeerId>>,
    /// watched id → its watchers.
    watched_by: HashMap<PeerId, HashSet<PeerId>>,
    calls: HashMap<String, Call>,
    /// peer → the call it is in.
    in_call: HashMap<PeerId, String>,
}

type Out = Vec<Delivery>;

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

    /// `id` authenticated. If it was already online (a new connection replacing an
    /// old one) its call is ended and its watch list cleared; otherwise its
    /// watchers learn it is online.
    pub(crate) fn connect(&mut self, id: &PeerId) -> Out {
        let mut out = Vec::new();
        if self.online.contains(id) {
            self.end_call_of(id, &mut out);
            self.set_watching(id, HashSet::new());
        } else {
            self.online.insert(id.clone());
            self.presence_changed(id, true, &mut out);
        }
        out
    }

    /// `id`'s connection closed: its call ends (the other party gets `hangup`), its
    /// watch list is dropped and its watchers learn it is offline.
    pub(crate) fn disconnect(&mut self, id: &PeerId) -> Out {
        let mut out = Vec::new();
        if !self.online.remove(id) {
            return out;
        }
        self.end_call_of(id, &mut out);
        self.set_watching(id, HashSet::new());
        self.presence_changed(id, false, &mut out);
        out
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
            ClientMessage::Invite { call_id, to } => self.invite(from, call_id, to, &mut out),
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
            ClientMessage::Hangup { call_id } => {
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
                            },
                        );
                    }
                }
            }
            ClientMessage::Offer { call_id, sdp } => {
                if let Some(other) = self.relay_target(from, &call_id, &mut out) {
                    tracing::debug!(%call_id, bytes = sdp.len(), "relaying offer");
                    send(
                        &mut out,
                        &other,
                        ServerMessage::Offer {
                            call_id,
                            from: from.clone(),
                            sdp,
                        },
                    );
                }
            }
            ClientMessage::Answer { call_id, sdp } => {
                if let Some(other) = self.relay_target(from, &call_id, &mut out) {
                    tracing::debug!(%call_id, bytes = sdp.len(), "relaying answer");
                    send(
                        &mut out,
                        &other,
                        ServerMessage::Answer {
                            call_id,
                            from: from.clone(),
                            sdp,
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

    fn invite(&mut self, from: &PeerId, call_id: String, to: PeerId, out: &mut Out) {
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
        if let Some(current) = self.in_call.get(from) {
            let message = format!("already in call {current}; hang up first");
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
        if self.in_call.contains_key(&to) {
            tracing::info!(%call_id, "callee busy");
            return send(out, from, ServerMessage::Busy { call_id, from: to });
        }
        tracing::info!(%call_id, caller = %from, callee = %to, "call invited");
        self.in_call.insert(from.clone(), call_id.clone());
        self.in_call.insert(to.clone(), call_id.clone());
        self.calls.insert(
            call_id.clone(),
            Call {
                caller: from.clone(),
                callee: to.clone(),
                state: CallState::Ringing,
            },
        );
        send(
            out,
            &to,
            ServerMessage::Invite {
                call_id,
                from: from.clone(),
            },
        );
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
        self.in_call.remove(&call.caller);
        self.in_call.remove(&call.callee);
        Some(call)
    }

    fn end_call_of(&mut self, id: &PeerId, out: &mut Out) {
        let Some(call_id) = self.in_call.get(id).cloned() else {
            return;
        };
        if let Some(call) = self.remove_call(&call_id) {
            tracing::info!(%call_id, "call ended by disconnect");
            if let Some(other) = call.other(id) {
                send(
                    out,
                    other,
                    ServerMessage::Hangup {
                        call_id,
                        from: id.clone(),
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
                    from: a.clone()
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
                    from: c.clone()
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
}
