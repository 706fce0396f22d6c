//! What the server hands the members of a call that runs through an SFU
//! (protocol 4, docs/protocol.md §6.5): where the room is, the secrets that let
//! one member in, and which feed is whose.

use serde::{Deserialize, Serialize};

use crate::PeerId;

/// One member's access to the SFU room of a call, in [`super::ServerMessage::Sfu`].
/// The PIN and the token are secrets of the call's members and of this member:
/// never log them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SfuAccess {
    /// The backend: `"janus"` (a Janus VideoRoom). A client that does not know it
    /// hangs up with reason `"unsupported sfu"`.
    pub kind: String,
    /// The backend's API for clients; for Janus its WebSocket API `ws://HOST:PORT/`.
    pub url: String,
    /// The room id, in 1..2^53.
    pub room: u64,
    /// The room's PIN (every join needs it).
    pub pin: String,
    /// This member's publisher token (a publisher join needs it).
    pub token: String,
    /// The feed id this member publishes as, in 1..2^53.
    pub feed: u64,
}

impl std::fmt::Debug for SfuAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SfuAccess")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("room", &self.room)
            .field("feed", &self.feed)
            .finish_non_exhaustive()
    }
}

/// Which member publishes as which feed in the SFU room.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SfuFeed {
    /// The member.
    pub member: PeerId,
    /// Its feed id, in 1..2^53.
    pub feed: u64,
}
