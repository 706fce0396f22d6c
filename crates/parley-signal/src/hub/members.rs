//! Who is in which call: inviting (`invite`, and `add` into a running call),
//! answering, withdrawing and leaving (docs/protocol.md §6 and §6.4).

use parley_proto::{
    CallKind, ErrorCode, PeerId, ServerMessage, GROUP_PROTOCOL_VERSION, MAX_CALL_MEMBERS,
};

use super::call::{Call, MemberState};
use super::{error, send, Hub, Out, MAX_DATA_SESSIONS};

impl Hub {
    /// `from` calls `to` (a new call or data session, `call_id` unused).
    pub(super) fn invite(
        &mut self,
        from: &PeerId,
        call_id: String,
        to: PeerId,
        kind: CallKind,
        out: &mut Out,
    ) {
        if to == *from {
            let message = "cannot call yourself";
            return error(out, from, ErrorCode::Invalid, message, &call_id);
        }
        if self.calls.contains_key(&call_id) {
            let message = "call id already in use";
            return error(out, from, ErrorCode::Invalid, message, &call_id);
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
        let Some(&callee_protocol) = self.online.get(&to) else {
            let message = "callee is not connected";
            return error(out, from, ErrorCode::Offline, message, &call_id);
        };
        if self.is_busy(&to, kind) {
            tracing::info!(%call_id, "callee busy");
            return send(out, from, ServerMessage::Busy { call_id, from: to });
        }
        tracing::info!(%call_id, caller = %from, callee = %to, ?kind, "call invited");
        for member in [from, &to] {
            self.enter(member, &call_id, kind);
        }
        let caller_protocol = self.online.get(from).copied().unwrap_or_default();
        let ring = self.next_ring();
        let call = Call::new(kind, (from, caller_protocol), (&to, callee_protocol), ring);
        self.calls.insert(call_id.clone(), call);
        let sfu = self.sfu_grown(&call_id);
        let invite = ServerMessage::Invite {
            call_id,
            from: from.clone(),
            kind,
            members: Vec::new(),
            sfu,
        };
        send(out, &to, invite);
    }

    /// The joined member `from` invites `to` into the running media call
    /// `call_id` (protocol 3, docs/protocol.md §6.4).
    pub(super) fn add(&mut self, from: &PeerId, call_id: String, to: PeerId, out: &mut Out) {
        let Some(call) = self.calls.get(&call_id) else {
            return error(out, from, ErrorCode::NoSuchCall, "no such call", &call_id);
        };
        if !call.is_joined(from) {
            let message = "only a joined member may add people";
            return error(out, from, ErrorCode::NotInCall, message, &call_id);
        }
        if !call.is_accepted() {
            let message = "the call has not been answered yet";
            return error(out, from, ErrorCode::Invalid, message, &call_id);
        }
        if call.kind != CallKind::Media {
            let message = "only a call takes more members, not a data session";
            return error(out, from, ErrorCode::Invalid, message, &call_id);
        }
        if call.has(&to) {
            let message = "already a member of that call";
            return error(out, from, ErrorCode::Invalid, message, &call_id);
        }
        if call.members.len() >= MAX_CALL_MEMBERS {
            let message = format!("the call is full ({MAX_CALL_MEMBERS} members)");
            return error(out, from, ErrorCode::Invalid, &message, &call_id);
        }
        let Some(&version) = self.online.get(&to) else {
            let message = "that contact is not connected";
            return error(out, from, ErrorCode::Offline, message, &call_id);
        };
        // Every member, invited or away ones included, and the invitee.
        let too_old = std::iter::once((&to, version))
            .chain(call.members.iter().map(|m| (&m.id, m.protocol)))
            .find(|(_, protocol)| *protocol < GROUP_PROTOCOL_VERSION);
        if let Some((old, protocol)) = too_old {
            let message = format!(
                "{old} uses an app too old for group calls (protocol {protocol}, needs \
                 {GROUP_PROTOCOL_VERSION})"
            );
            return error(out, from, ErrorCode::UnsupportedVersion, &message, &call_id);
        }
        if let Some(message) = self.sfu_refusal(call, (&to, version)) {
            return error(out, from, ErrorCode::UnsupportedVersion, &message, &call_id);
        }
        if self.in_call.contains_key(&to) {
            tracing::info!(%call_id, "invitee busy");
            return send(out, from, ServerMessage::Busy { call_id, from: to });
        }
        let members: Vec<PeerId> = call.joined().cloned().collect();
        tracing::info!(%call_id, by = %from, invitee = %to, "member invited");
        self.enter(&to, &call_id, CallKind::Media);
        let ring = self.next_ring();
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.invite(&to, version, from, ring);
        }
        let sfu = self.sfu_grown(&call_id);
        let invite = ServerMessage::Invite {
            call_id,
            from: from.clone(),
            kind: CallKind::Media,
            members,
            sfu,
        };
        send(out, &to, invite);
    }

    /// A fresh invitation number ([`MemberState::Invited`]).
    fn next_ring(&mut self) -> u64 {
        self.ring_seq += 1;
        self.ring_seq
    }

    /// Whether `to` cannot take another call (`kind`).
    fn is_busy(&self, to: &PeerId, kind: CallKind) -> bool {
        match kind {
            CallKind::Media => self.in_call.contains_key(to),
            CallKind::Data => self.session_count(to) >= MAX_DATA_SESSIONS,
        }
    }

    /// `id` is now counted in `call_id` (one media call, bounded sessions).
    fn enter(&mut self, id: &PeerId, call_id: &str, kind: CallKind) {
        match kind {
            CallKind::Media => {
                self.in_call.insert(id.clone(), call_id.to_owned());
            }
            CallKind::Data => {
                self.sessions
                    .entry(id.clone())
                    .or_default()
                    .insert(call_id.to_owned());
            }
        }
    }

    /// `id` is no longer counted in `call_id`.
    fn free(&mut self, id: &PeerId, call_id: &str, kind: CallKind) {
        match kind {
            CallKind::Media => {
                if self.in_call.get(id).map(String::as_str) == Some(call_id) {
                    self.in_call.remove(id);
                }
            }
            CallKind::Data => {
                if let Some(set) = self.sessions.get_mut(id) {
                    set.remove(call_id);
                    if set.is_empty() {
                        self.sessions.remove(id);
                    }
                }
            }
        }
    }

    /// The member that invited `from` into `call_id`, if `from` rings there;
    /// otherwise queues the error and returns `None`.
    fn inviter(&self, from: &PeerId, call_id: &str, out: &mut Out) -> Option<PeerId> {
        let Some(call) = self.calls.get(call_id) else {
            error(out, from, ErrorCode::NoSuchCall, "no such call", call_id);
            return None;
        };
        let by = call.inviter_of(from).cloned();
        if by.is_none() {
            let message = "only an invited member may answer";
            error(out, from, ErrorCode::NotInCall, message, call_id);
        }
        by
    }

    /// An invited member says it rings: its inviter hears it.
    pub(super) fn ringing(&mut self, from: &PeerId, call_id: String, out: &mut Out) {
        if let Some(by) = self.inviter(from, &call_id, out) {
            tracing::debug!(%call_id, "ringing");
            let from = from.clone();
            send(out, &by, ServerMessage::Ringing { call_id, from });
        }
    }

    /// An invited member joins: its inviter gets `accept`, every other joined
    /// member `joined`; in a call through the SFU it is admitted.
    pub(super) fn accept(&mut self, from: &PeerId, call_id: String, out: &mut Out) {
        let Some(by) = self.inviter(from, &call_id, out) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        call.join(from);
        tracing::info!(%call_id, member = %from, "call accepted");
        let others: Vec<PeerId> = call.joined().filter(|m| *m != from).cloned().collect();
        for member in others {
            let msg = if member == by {
                ServerMessage::Accept {
                    call_id: call_id.clone(),
                    from: from.clone(),
                }
            } else {
                ServerMessage::Joined {
                    call_id: call_id.clone(),
                    member: from.clone(),
                }
            };
            send(out, &member, msg);
        }
        self.sfu_joined(&call_id, from, out);
    }

    /// An invited member refuses: its inviter gets `decline`.
    pub(super) fn decline(
        &mut self,
        from: &PeerId,
        call_id: String,
        reason: Option<String>,
        out: &mut Out,
    ) {
        if let Some(by) = self.inviter(from, &call_id, out) {
            tracing::info!(%call_id, "call declined");
            self.drop_member(&call_id, from);
            let from = from.clone();
            let decline = ServerMessage::Decline {
                call_id,
                from,
                reason,
            };
            send(out, &by, decline);
        }
    }

    /// `from` withdraws its invitation of `to` (without `to`: of the one member
    /// it invited that still rings); the invitee gets `cancel`.
    pub(super) fn cancel(
        &mut self,
        from: &PeerId,
        call_id: String,
        to: Option<PeerId>,
        out: &mut Out,
    ) {
        let Some(call) = self.calls.get(&call_id) else {
            return error(out, from, ErrorCode::NoSuchCall, "no such call", &call_id);
        };
        let invitees: Vec<&PeerId> = call
            .members
            .iter()
            .filter(|m| matches!(&m.state, MemberState::Invited { by, .. } if by == from))
            .map(|m| &m.id)
            .filter(|id| to.as_ref().is_none_or(|to| to == *id))
            .collect();
        let [invitee] = invitees[..] else {
            let message = "only the caller may cancel a ringing call";
            return error(out, from, ErrorCode::NotInCall, message, &call_id);
        };
        let invitee = invitee.clone();
        tracing::info!(%call_id, "call cancelled");
        self.drop_member(&call_id, &invitee);
        let from = from.clone();
        send(out, &invitee, ServerMessage::Cancel { call_id, from });
    }

    /// A member hangs up: it leaves.
    pub(super) fn hangup(
        &mut self,
        from: &PeerId,
        call_id: String,
        reason: Option<String>,
        out: &mut Out,
    ) {
        match self.calls.get(&call_id) {
            None => error(out, from, ErrorCode::NoSuchCall, "no such call", &call_id),
            Some(call) if !call.has(from) => {
                let message = "not a party of that call";
                error(out, from, ErrorCode::NotInCall, message, &call_id);
            }
            Some(_) => {
                tracing::info!(%call_id, "call hung up");
                self.leave(&call_id, from, reason, out);
            }
        }
    }

    /// `id` leaves `call_id` (hung up, disconnected, or its grace period ran
    /// out). When fewer than two members remain the call ends, and the one
    /// left gets `hangup` from `id`. Otherwise the call goes on: if `id` had
    /// joined, the joined members get `left`; if it was still invited, its
    /// inviter gets `decline`.
    pub(super) fn leave(
        &mut self,
        call_id: &str,
        id: &PeerId,
        reason: Option<String>,
        out: &mut Out,
    ) {
        let Some(was) = self.drop_member(call_id, id) else {
            return;
        };
        let call_id = call_id.to_owned();
        let from = id.clone();
        match self.calls.get(&call_id) {
            None => {
                for other in was.left_behind {
                    let msg = ServerMessage::Hangup {
                        call_id: call_id.clone(),
                        from: from.clone(),
                        reason: reason.clone(),
                    };
                    send(out, &other, msg);
                }
            }
            Some(_) => match was.state {
                MemberState::Joined => {
                    if let Some(call) = self.calls.get_mut(&call_id) {
                        call.pass_on_invitations(&from);
                    }
                    let Some(call) = self.calls.get(&call_id) else {
                        return;
                    };
                    tracing::info!(%call_id, member = %from, "member left");
                    for member in call.joined() {
                        let msg = ServerMessage::Left {
                            call_id: call_id.clone(),
                            member: from.clone(),
                            reason: reason.clone(),
                        };
                        send(out, member, msg);
                    }
                }
                MemberState::Invited { by, .. } => {
                    let Some(call) = self.calls.get(&call_id) else {
                        return;
                    };
                    if call.is_joined(&by) {
                        let msg = ServerMessage::Decline {
                            call_id,
                            from,
                            reason,
                        };
                        send(out, &by, msg);
                    }
                }
            },
        }
    }

    /// Removes `id` from `call_id` and frees it; the call itself goes when
    /// fewer than two members remain (they are freed too, and named in the
    /// result). Its SFU grant is revoked, or the call's SFU room closed.
    /// `None` if `id` was not a member.
    pub(super) fn drop_member(&mut self, call_id: &str, id: &PeerId) -> Option<Dropped> {
        let call = self.calls.get_mut(call_id)?;
        let state = call.remove(id)?;
        let kind = call.kind;
        self.free(id, call_id, kind);
        let mut left_behind = Vec::new();
        if self.calls.get(call_id).is_some_and(|c| c.members.len() < 2) {
            if let Some(call) = self.calls.remove(call_id) {
                self.sfu_ended(&call);
                for m in call.members {
                    self.free(&m.id, call_id, kind);
                    left_behind.push(m.id);
                }
            }
        } else {
            self.sfu_left(call_id, id);
        }
        Some(Dropped { state, left_behind })
    }
}

/// What [`Hub::drop_member`] removed.
pub(super) struct Dropped {
    /// The member's state before.
    pub(super) state: MemberState,
    /// The members freed with it because the call ended (fewer than two were
    /// left); empty while the call goes on.
    pub(super) left_behind: Vec<PeerId>,
}
