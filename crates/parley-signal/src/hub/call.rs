//! One call in the hub's table: its kind and its members, each invited (ringing)
//! or joined (docs/protocol.md §6 and §6.4).

use parley_proto::{CallKind, PeerId};

use super::sfu::SfuState;

/// Where one member of a call stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MemberState {
    /// Invited by `by` (a joined member when it invited), and ringing.
    Invited {
        /// The member that hears the answer: the one that invited it, or, once
        /// that one left, another joined member.
        by: PeerId,
        /// The number of this invitation among all the hub's, so a ring timer
        /// ends only the invitation it was started for.
        ring: u64,
    },
    /// In the call: offers, answers and candidates are relayed between it and
    /// the other joined members.
    Joined,
}

/// One member: its id, state and the protocol version it spoke when it came
/// (kept while it is away, docs/protocol.md §6.4).
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub(super) id: PeerId,
    pub(super) state: MemberState,
    pub(super) protocol: u32,
}

/// A call or data session. A call whose members have not both joined is
/// *ringing*; once two have, it is *accepted*.
#[derive(Debug, Clone)]
pub(super) struct Call {
    pub(super) kind: CallKind,
    /// In the order they came: the caller first.
    pub(super) members: Vec<Member>,
    /// Whether its media runs through the SFU (docs/protocol.md §6.5).
    pub(super) sfu: SfuState,
}

impl Call {
    /// A new call: `caller` joined, `callee` invited by it (invitation number
    /// `ring`); each with the protocol version it speaks.
    pub(super) fn new(
        kind: CallKind,
        caller: (&PeerId, u32),
        callee: (&PeerId, u32),
        ring: u64,
    ) -> Call {
        Call {
            kind,
            members: vec![
                Member {
                    id: caller.0.clone(),
                    state: MemberState::Joined,
                    protocol: caller.1,
                },
                Member {
                    id: callee.0.clone(),
                    state: MemberState::Invited {
                        by: caller.0.clone(),
                        ring,
                    },
                    protocol: callee.1,
                },
            ],
            sfu: SfuState::Off,
        }
    }

    /// A call both parties resumed (docs/protocol.md §6.2): both joined.
    pub(super) fn resumed(kind: CallKind, a: (&PeerId, u32), b: (&PeerId, u32)) -> Call {
        let joined = |(id, protocol): (&PeerId, u32)| Member {
            id: id.clone(),
            state: MemberState::Joined,
            protocol,
        };
        Call {
            kind,
            members: vec![joined(a), joined(b)],
            sfu: SfuState::Off,
        }
    }

    /// `id`'s state, if it is a member.
    pub(super) fn state_of(&self, id: &PeerId) -> Option<&MemberState> {
        self.members.iter().find(|m| m.id == *id).map(|m| &m.state)
    }

    /// Whether `id` is a member, invited or joined.
    pub(super) fn has(&self, id: &PeerId) -> bool {
        self.state_of(id).is_some()
    }

    /// Whether `id` has joined.
    pub(super) fn is_joined(&self, id: &PeerId) -> bool {
        self.state_of(id) == Some(&MemberState::Joined)
    }

    /// The member that hears `id`'s answer, while `id` rings.
    pub(super) fn inviter_of(&self, id: &PeerId) -> Option<&PeerId> {
        match self.state_of(id)? {
            MemberState::Invited { by, .. } => Some(by),
            MemberState::Joined => None,
        }
    }

    /// The number of `id`'s invitation, while it rings.
    pub(super) fn ring_of(&self, id: &PeerId) -> Option<u64> {
        match self.state_of(id)? {
            MemberState::Invited { ring, .. } => Some(*ring),
            MemberState::Joined => None,
        }
    }

    /// The invitations `gone` made now answer to the first joined member (it
    /// left; someone in the call must hear the answer).
    pub(super) fn pass_on_invitations(&mut self, gone: &PeerId) {
        let Some(heir) = self.joined().next().cloned() else {
            return;
        };
        for m in &mut self.members {
            if let MemberState::Invited { by, .. } = &mut m.state {
                if by == gone {
                    *by = heir.clone();
                }
            }
        }
    }

    /// The joined members, in the order they came.
    pub(super) fn joined(&self) -> impl Iterator<Item = &PeerId> {
        self.members
            .iter()
            .filter(|m| m.state == MemberState::Joined)
            .map(|m| &m.id)
    }

    /// Whether two members have joined (offers, answers and candidates flow).
    pub(super) fn is_accepted(&self) -> bool {
        self.joined().nth(1).is_some()
    }

    /// `id` joins; false if it was not invited.
    pub(super) fn join(&mut self, id: &PeerId) -> bool {
        match self.members.iter_mut().find(|m| m.id == *id) {
            Some(m) if matches!(m.state, MemberState::Invited { .. }) => {
                m.state = MemberState::Joined;
                true
            }
            _ => false,
        }
    }

    /// Adds `id` (speaking `protocol`), invited by `by` (invitation `ring`).
    pub(super) fn invite(&mut self, id: &PeerId, protocol: u32, by: &PeerId, ring: u64) {
        self.members.push(Member {
            id: id.clone(),
            state: MemberState::Invited {
                by: by.clone(),
                ring,
            },
            protocol,
        });
    }

    /// Removes `id`; its state, if it was a member.
    pub(super) fn remove(&mut self, id: &PeerId) -> Option<MemberState> {
        let at = self.members.iter().position(|m| m.id == *id)?;
        Some(self.members.remove(at).state)
    }
}
