//! One call in the hub's table: its kind and its members, each invited (ringing)
//! or joined (docs/protocol.md §6 and §6.4).

use parley_proto::{CallKind, PeerId};

/// Where one member of a call stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MemberState {
    /// Invited by `by` (a joined member when it invited), and ringing.
    Invited {
        /// The member that invited it: it hears the answer.
        by: PeerId,
    },
    /// In the call: offers, answers and candidates are relayed between it and
    /// the other joined members.
    Joined,
}

/// One member: its id and state.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub(super) id: PeerId,
    pub(super) state: MemberState,
}

/// A call or data session. A call whose members have not both joined is
/// *ringing*; once two have, it is *accepted*.
#[derive(Debug, Clone)]
pub(super) struct Call {
    pub(super) kind: CallKind,
    /// In the order they came: the caller first.
    pub(super) members: Vec<Member>,
}

impl Call {
    /// A new call: `caller` joined, `callee` invited by it.
    pub(super) fn new(kind: CallKind, caller: &PeerId, callee: &PeerId) -> Call {
        Call {
            kind,
            members: vec![
                Member {
                    id: caller.clone(),
                    state: MemberState::Joined,
                },
                Member {
                    id: callee.clone(),
                    state: MemberState::Invited { by: caller.clone() },
                },
            ],
        }
    }

    /// A call both parties resumed (docs/protocol.md §6.2): both joined.
    pub(super) fn resumed(kind: CallKind, a: &PeerId, b: &PeerId) -> Call {
        let joined = |id: &PeerId| Member {
            id: id.clone(),
            state: MemberState::Joined,
        };
        Call {
            kind,
            members: vec![joined(a), joined(b)],
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

    /// The member that invited `id`, while `id` rings.
    pub(super) fn inviter_of(&self, id: &PeerId) -> Option<&PeerId> {
        match self.state_of(id)? {
            MemberState::Invited { by } => Some(by),
            MemberState::Joined => None,
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

    /// Adds `id`, invited by `by`.
    pub(super) fn invite(&mut self, id: &PeerId, by: &PeerId) {
        self.members.push(Member {
            id: id.clone(),
            state: MemberState::Invited { by: by.clone() },
        });
    }

    /// Removes `id`; its state, if it was a member.
    pub(super) fn remove(&mut self, id: &PeerId) -> Option<MemberState> {
        let at = self.members.iter().position(|m| m.id == *id)?;
        Some(self.members.remove(at).state)
    }
}
