//! Parley wire types: signaling messages, identities and data-channel messages.
//!
//! This crate is pure: no sockets, no clocks, no randomness. Everything here is
//! documented for third-party implementers in `docs/protocol.md`.
//!
//! - [`safety`]: safety numbers two people compare to verify each other's id.
//! - [`signal`]: JSON frames exchanged with the signaling server over WebSocket.
//! - [`identity`]: peer ids (Ed25519 public keys) and the challenge-response auth.
//! - [`binding`]: offers and answers signed by the sender's identity key.
//! - [`data`]: JSON and binary frames carried on the peer-to-peer data channels.
//! - [`fuzz`]: fuzz targets for every parser of network bytes, and their mutator.
//! - [`error`]: the crate's one error type, [`ProtoError`].

pub mod binding;
pub mod data;
pub mod error;
pub mod file_hash;
pub mod fuzz;
pub mod identity;
pub mod safety;
pub mod signal;

mod json;

pub use error::ProtoError;
pub use identity::{
    auth_payload, auth_payload_bound, sign_challenge, sign_challenge_bound, verify_challenge,
    verify_challenge_bound, PeerId, INVITE_LINK_PREFIX,
};
pub use signal::{
    CallKind, ClientMessage, ErrorCode, IceServerInfo, ResumedCall, ServerMessage, SfuAccess,
    SfuFeed,
};

/// Signaling protocol version carried in `hello` and `challenge`: the newest this
/// crate speaks. A server accepts [`MIN_PROTOCOL_VERSION`] up to this and refuses
/// any other value with [`ErrorCode::UnsupportedVersion`] (docs/protocol.md §9).
///
/// Version 2 made `sig` on `offer` and `answer` mandatory for clients (§6.3);
/// version 3 added group calls (§6.4): `add`, `joined`, `left`, `members` in
/// `invite` and `to` on `offer`, `answer`, `candidate` and `cancel`; version 4
/// calls through an SFU (§6.5): `sfu` in `invite`, `sfu`, `sfu_feed`, error
/// `sfu_unavailable`; version 5 sign-ins bound to the server's owner (§3.1):
/// `owner` in `auth`.
pub const PROTOCOL_VERSION: u32 = 5;

/// The oldest protocol version a server still accepts: a version 2 client takes
/// part in one-to-one calls, and cannot be added to a group call.
pub const MIN_PROTOCOL_VERSION: u32 = 2;

/// The first protocol version with group calls (docs/protocol.md §6.4).
pub const GROUP_PROTOCOL_VERSION: u32 = 3;

/// The first protocol version with calls through an SFU (docs/protocol.md §6.5).
pub const SFU_PROTOCOL_VERSION: u32 = 4;

/// The first protocol version whose `auth` may be bound to the server's owner
/// (`owner`, docs/protocol.md §3.1). A client says hello with it only where it
/// binds its sign-in, and with [`SFU_PROTOCOL_VERSION`] elsewhere, so servers
/// older than 5 keep working with it.
pub const BOUND_AUTH_PROTOCOL_VERSION: u32 = 5;

/// Most members a call may have at once, invited ones included (docs/protocol.md
/// §6.4).
pub const MAX_CALL_MEMBERS: usize = 16;

/// Largest signaling frame (bytes of the JSON text) a conforming server accepts by
/// default; bigger frames get [`ErrorCode::TooLarge`] and the connection is closed.
pub const MAX_SIGNAL_FRAME_BYTES: usize = 64 * 1024;
