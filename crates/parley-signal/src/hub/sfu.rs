//! Calls through an SFU (protocol 4, docs/protocol.md §6.5; docs/sfu-plan.md
//! §2 "Server"): when a media call reaches `Hub::sfu_from` members (invited
//! ones included) and every member speaks [`SFU_PROTOCOL_VERSION`], the hub
//! asks for a room. Every joined member is admitted (gets a grant of its own)
//! once the room is open, a later member once it joins, never earlier; a member
//! that leaves is revoked, and the room is closed when the call ends.
//!
//! The hub does no I/O: it queues [`SfuCommand`]s (drained by
//! [`Hub::take_sfu_commands`]) and hears the results through
//! [`Hub::sfu_opened`], [`Hub::sfu_admitted`] and [`Hub::sfu_failed`].

use parley_proto::{
    CallKind, ErrorCode, PeerId, ServerMessage, SfuAccess, SfuFeed, MAX_CALL_MEMBERS,
    SFU_PROTOCOL_VERSION,
};

use super::call::Call;
use super::{error, send, Hub, Out};
use crate::sfu::{Grant, SfuRoom};

/// The `message` of the `sfu_unavailable` error a member joining a call whose
/// SFU failed gets.
const SFU_FAILED: &str = "the SFU is unavailable; the call goes on without it";

/// What the SFU is to do, in the order the hub queued it. Its `Debug` shows no
/// PIN or token ([`SfuRoom`] and [`Grant`] leave them out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SfuCommand {
    /// Open a room for call `call_id` with room for `max_members` feeds; the
    /// answer is [`Hub::sfu_opened`] or [`Hub::sfu_failed`] (room `None`).
    Open {
        /// The call.
        call_id: String,
        /// Most feeds (publishers) at once: [`MAX_CALL_MEMBERS`].
        max_members: u32,
    },
    /// Admit `member` of call `call_id` to `room`; the answer is
    /// [`Hub::sfu_admitted`] or [`Hub::sfu_failed`] (with `room`).
    Admit {
        /// The call.
        call_id: String,
        /// The call's room id.
        room: u64,
        /// The joined member to admit.
        member: PeerId,
    },
    /// Revoke `grant` in `room` (its member left, or the grant came too late).
    Revoke {
        /// The room id.
        room: u64,
        /// The grant to revoke.
        grant: Grant,
    },
    /// Close `room` (its call ended, or it opened too late).
    Close {
        /// The room id.
        room: u64,
    },
}

/// Where one call stands with the SFU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) enum SfuState {
    /// No SFU (yet): a mesh call.
    #[default]
    Off,
    /// A room was asked for ([`SfuCommand::Open`]).
    Opening,
    /// The room is open.
    Open {
        /// The room.
        room: SfuRoom,
        /// The members granted access so far, in the order they were.
        grants: Vec<(PeerId, Grant)>,
    },
    /// The SFU failed this call: it goes on as a mesh, and is not retried.
    Failed,
}

impl SfuState {
    /// Whether the call's media runs (or is about to run) through the SFU.
    pub(super) fn is_on(&self) -> bool {
        matches!(self, SfuState::Opening | SfuState::Open { .. })
    }
}

impl Hub {
    /// An empty hub that runs media calls of `sfu_from` or more members
    /// (invited ones included) through an SFU; `None`: never (no SFU).
    pub(crate) fn with_sfu_from(sfu_from: Option<usize>) -> Hub {
        Hub {
            sfu_from,
            ..Hub::default()
        }
    }

    /// The SFU commands queued since the last call, in order.
    pub(crate) fn take_sfu_commands(&mut self) -> Vec<SfuCommand> {
        std::mem::take(&mut self.sfu_commands)
    }

    /// Why `invitee` (speaking `version`) cannot be added to `call`: the call
    /// runs, or with it would run, through the SFU, and the invitee or a member
    /// (invited or away ones included) speaks a protocol older than
    /// [`SFU_PROTOCOL_VERSION`]. `None` when it may be added.
    pub(super) fn sfu_refusal(&self, call: &Call, invitee: (&PeerId, u32)) -> Option<String> {
        let sfu_call = match call.sfu {
            SfuState::Opening | SfuState::Open { .. } => true,
            SfuState::Off => self.sfu_from.is_some_and(|n| call.members.len() + 1 >= n),
            SfuState::Failed => false,
        };
        if !sfu_call {
            return None;
        }
        let (old, protocol) = std::iter::once(invitee)
            .chain(call.members.iter().map(|m| (&m.id, m.protocol)))
            .find(|(_, protocol)| *protocol < SFU_PROTOCOL_VERSION)?;
        Some(format!(
            "{old} uses an app too old for calls through the SFU (protocol {protocol}, needs \
             {SFU_PROTOCOL_VERSION})"
        ))
    }

    /// `call_id` gained a member: if it is a media call without an SFU that now
    /// has `sfu_from` members, all speaking [`SFU_PROTOCOL_VERSION`], a room is
    /// asked for. Returns whether the call runs through the SFU (the `sfu` of
    /// its invitations).
    pub(super) fn sfu_grown(&mut self, call_id: &str) -> bool {
        let Some(call) = self.calls.get_mut(call_id) else {
            return false;
        };
        let reached = self.sfu_from.is_some_and(|n| call.members.len() >= n);
        let able = call
            .members
            .iter()
            .all(|m| m.protocol >= SFU_PROTOCOL_VERSION);
        if call.kind == CallKind::Media && call.sfu == SfuState::Off && reached && able {
            tracing::info!(%call_id, members = call.members.len(), "opening an sfu room");
            call.sfu = SfuState::Opening;
            self.sfu_commands.push(SfuCommand::Open {
                call_id: call_id.to_owned(),
                max_members: u32::try_from(MAX_CALL_MEMBERS).unwrap_or(u32::MAX),
            });
        }
        call.sfu.is_on()
    }

    /// `member` joined `call_id`: it is admitted if the room is open (while it
    /// opens, every joined member is admitted once it is), and told the SFU is
    /// unavailable if it failed.
    pub(super) fn sfu_joined(&mut self, call_id: &str, member: &PeerId, out: &mut Out) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        match &call.sfu {
            SfuState::Open { room, .. } => self.sfu_commands.push(SfuCommand::Admit {
                call_id: call_id.to_owned(),
                room: room.room,
                member: member.clone(),
            }),
            SfuState::Failed => error(out, member, ErrorCode::SfuUnavailable, SFU_FAILED, call_id),
            SfuState::Off | SfuState::Opening => {}
        }
    }

    /// `id` left `call_id`, which goes on: its grant, if it had one, is revoked.
    pub(super) fn sfu_left(&mut self, call_id: &str, id: &PeerId) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        if let SfuState::Open { room, grants } = &mut call.sfu {
            if let Some(at) = grants.iter().position(|(member, _)| member == id) {
                let (_, grant) = grants.remove(at);
                let room = room.room;
                self.sfu_commands.push(SfuCommand::Revoke { room, grant });
            }
        }
    }

    /// `call` ended (it is out of the table): its room, if open, is closed
    /// (which voids every grant; a room still opening is closed when it opens).
    pub(super) fn sfu_ended(&mut self, call: &Call) {
        if let SfuState::Open { room, .. } = &call.sfu {
            self.sfu_commands
                .push(SfuCommand::Close { room: room.room });
        }
    }

    /// The room asked for `call_id` is open: every joined member is admitted.
    /// If the call ended meanwhile (or no longer waits for a room), the room is
    /// closed. Delivers nothing (the grants do).
    pub(crate) fn sfu_opened(&mut self, call_id: &str, room: SfuRoom) -> Out {
        let call = self
            .calls
            .get_mut(call_id)
            .filter(|c| c.sfu == SfuState::Opening);
        let Some(call) = call else {
            tracing::debug!(%call_id, "an sfu room opened for a call gone meanwhile");
            self.sfu_commands
                .push(SfuCommand::Close { room: room.room });
            return Vec::new();
        };
        tracing::info!(%call_id, room = room.room, "sfu room open");
        let joined: Vec<PeerId> = call.joined().cloned().collect();
        let room_id = room.room;
        call.sfu = SfuState::Open {
            room,
            grants: Vec::new(),
        };
        for member in joined {
            self.sfu_commands.push(SfuCommand::Admit {
                call_id: call_id.to_owned(),
                room: room_id,
                member,
            });
        }
        Vec::new()
    }

    /// `member` of `call_id` was admitted to `room` with `grant`: it gets its
    /// `sfu` access with the feeds granted before it, and every member granted
    /// before it gets `sfu_feed`. If `member` is no longer a joined member, or
    /// already has a grant, or the call ended or has another room, the grant is
    /// revoked instead.
    pub(crate) fn sfu_admitted(
        &mut self,
        call_id: &str,
        room: u64,
        member: &PeerId,
        grant: Grant,
    ) -> Out {
        let mut out = Vec::new();
        let wanted = self.calls.get(call_id).is_some_and(|call| {
            call.is_joined(member)
                && matches!(&call.sfu, SfuState::Open { room: open, grants }
                    if open.room == room && grants.iter().all(|(m, _)| m != member))
        });
        if !wanted {
            tracing::debug!(%call_id, room, "an sfu grant nobody needs; revoking it");
            self.sfu_commands.push(SfuCommand::Revoke { room, grant });
            return out;
        }
        let Some(call) = self.calls.get_mut(call_id) else {
            return out;
        };
        let SfuState::Open { room: open, grants } = &mut call.sfu else {
            return out;
        };
        let feeds: Vec<SfuFeed> = grants
            .iter()
            .map(|(other, g)| SfuFeed {
                member: other.clone(),
                feed: g.feed,
            })
            .collect();
        let access = SfuAccess {
            kind: open.kind.to_owned(),
            url: open.url.clone(),
            room: open.room,
            pin: open.pin.clone(),
            token: grant.token.clone(),
            feed: grant.feed,
        };
        let sfu = ServerMessage::Sfu {
            call_id: call_id.to_owned(),
            sfu: access,
            feeds,
        };
        send(&mut out, member, sfu);
        for (other, _) in grants.iter() {
            let feed = ServerMessage::SfuFeed {
                call_id: call_id.to_owned(),
                member: member.clone(),
                feed: grant.feed,
            };
            send(&mut out, other, feed);
        }
        tracing::info!(%call_id, %member, feed = grant.feed, "sfu access granted");
        grants.push((member.clone(), grant));
        out
    }

    /// The SFU failed `call_id`: opening its room (`room` `None`) or admitting
    /// a member to `room`. The call goes on as a mesh: an open room is closed,
    /// and every joined member gets `error` `sfu_unavailable` (a member joining
    /// later gets it when it joins). A failure for a room the call no longer
    /// waits for or has is ignored. `reason` is the errors' `message` (a
    /// sentence for people; nothing secret).
    pub(crate) fn sfu_failed(&mut self, call_id: &str, room: Option<u64>, reason: &str) -> Out {
        let mut out = Vec::new();
        let Some(call) = self.calls.get_mut(call_id) else {
            return out;
        };
        let current = match (&call.sfu, room) {
            (SfuState::Opening, None) => true,
            (SfuState::Open { room: open, .. }, Some(room)) => open.room == room,
            _ => false,
        };
        if !current {
            return out;
        }
        tracing::warn!(%call_id, reason, "sfu unavailable; the call goes on without it");
        if let SfuState::Open { room, .. } = std::mem::replace(&mut call.sfu, SfuState::Failed) {
            self.sfu_commands
                .push(SfuCommand::Close { room: room.room });
        }
        for member in call.joined() {
            error(&mut out, member, ErrorCode::SfuUnavailable, reason, call_id);
        }
        out
    }
}
