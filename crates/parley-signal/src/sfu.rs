//! The SFU of group calls (docs/sfu-plan.md §2 "Server"): the one place that
//! knows a backend. The server opens one room per SFU call, admits each member
//! with a grant of its own (a publisher token and a feed id), revokes a member
//! who leaves, and closes the room when the call ends.
//!
//! Access model (docs/sfu-plan.md §1): only the server holds the backend's admin
//! key and the rooms' secrets; a member gets the room's PIN and its own grant,
//! which lets it publish as its feed and subscribe to the room's feeds, and
//! nothing else. Nothing here logs PINs, secrets, tokens or admin keys.
//!
//! [`Sfu`] is object safe (`Box<dyn Sfu>`): its methods return boxed futures.

use futures_util::future::BoxFuture;

mod janus;

pub use janus::JanusSfu;

/// A room opened for one call: what every member needs to reach it. Its
/// `Debug` leaves the PIN out.
#[derive(Clone, PartialEq, Eq)]
pub struct SfuRoom {
    /// The backend, as clients see it in the `sfu` message: `"janus"`.
    pub kind: &'static str,
    /// The URL clients connect to (for Janus its WebSocket API, `ws://IP:PORT/`).
    pub url: String,
    /// The room id, in 1..2^53 (exact as a JSON number everywhere).
    pub room: u64,
    /// The room's PIN: every join needs it. A secret of the call's members.
    pub pin: String,
}

/// One member's admission to a room: the right to publish as one feed. Its
/// `Debug` leaves the token out.
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    /// The member's publisher token (on the room's allowed list until revoked).
    /// A secret of that member.
    pub token: String,
    /// The feed id the member publishes as, in 1..2^53.
    pub feed: u64,
}

impl std::fmt::Debug for SfuRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SfuRoom")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("room", &self.room)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("feed", &self.feed)
            .finish_non_exhaustive()
    }
}

/// What can go wrong managing SFU rooms.
#[derive(Debug, thiserror::Error)]
pub enum SfuError {
    /// The backend refused, failed or went away (for Janus: plugin errors such
    /// as 426 no such room, 429 missing element, 433 unauthorized; the connection
    /// closing; a request timing out).
    #[error("sfu: {0}")]
    Janus(#[from] parley_janus::Error),
    /// The room was not opened here, or is closed (or the backend lost it).
    #[error("no such room {0}")]
    NoSuchRoom(u64),
}

impl SfuError {
    /// The backend's error code (for Janus the plugin's `error_code` or Janus's
    /// own code), if the backend gave one.
    pub fn code(&self) -> Option<i64> {
        match self {
            SfuError::Janus(e) => e.code(),
            SfuError::NoSuchRoom(_) => None,
        }
    }
}

/// Room lifecycle on an SFU. Every method is one or two requests to the
/// backend; each may take up to the backend's request timeout (for Janus
/// [`parley_janus::client::REQUEST_TIMEOUT`], 10 s, per request).
pub trait Sfu: Send + Sync {
    /// Opens a private room for one call in which at most `max_members` feeds
    /// (publishers, a count) may be joined at once, with a fresh random room id
    /// and PIN, and a publisher allowed-list that starts empty (nobody may
    /// publish until [`admit`](Sfu::admit)ted).
    ///
    /// Errors: [`SfuError::Janus`] when the backend refuses (e.g. a wrong admin
    /// key) or cannot be reached.
    fn open_room(&self, max_members: u32) -> BoxFuture<'_, Result<SfuRoom, SfuError>>;

    /// Admits one member to `room`: a new random token is added to the room's
    /// allowed list and a new random feed id is chosen for it.
    ///
    /// Errors: [`SfuError::NoSuchRoom`] when `room` is not open here (or the
    /// backend no longer has it); [`SfuError::Janus`] otherwise.
    fn admit(&self, room: u64) -> BoxFuture<'_, Result<Grant, SfuError>>;

    /// Revokes `grant` in `room`: its token leaves the allowed list (it cannot
    /// join again), then its feed is kicked (which also ends its
    /// subscriptions). A member who never joined, or is already gone, is fine.
    ///
    /// Errors: [`SfuError::NoSuchRoom`] when `room` is not open here (or the
    /// backend no longer has it); [`SfuError::Janus`] otherwise.
    fn revoke(&self, room: u64, grant: &Grant) -> BoxFuture<'_, Result<(), SfuError>>;

    /// Closes `room`: the backend destroys it, its members are disconnected,
    /// and every grant and its PIN are void. A room the backend had already lost
    /// is closed too (`Ok`).
    ///
    /// Errors: [`SfuError::NoSuchRoom`] when `room` is not open here (e.g.
    /// already closed); [`SfuError::Janus`] otherwise (the room then stays
    /// known, so closing can be retried).
    fn close_room(&self, room: u64) -> BoxFuture<'_, Result<(), SfuError>>;

    /// The feed ids publishing media in `room` now (joined members that have not
    /// published, or stopped, are not listed).
    ///
    /// Errors: [`SfuError::NoSuchRoom`] when `room` is not open here (or the
    /// backend no longer has it); [`SfuError::Janus`] otherwise.
    fn publishers(&self, room: u64) -> BoxFuture<'_, Result<Vec<u64>, SfuError>>;
}
