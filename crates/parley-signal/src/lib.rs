//! Parley signaling server: authenticates peers by Ed25519 challenge, tracks
//! presence, and relays call setup (invite, SDP, ICE candidates) only between the
//! two parties of a call it has seen set up. It never sees media or data-channel
//! content, except that with an SFU ([`start_with_sfu`]) it opens a room for a
//! group call and hands its members their access: the SFU (e.g. Janus) then
//! terminates the call's media. The wire protocol is `parley_proto::signal`,
//! documented in `docs/protocol.md`.
//!
//! Embed it with [`start`] or [`start_with_sfu`]; the `parley-signal` binary
//! wraps the same calls.

mod accept;
mod config;
mod conn;
mod error;
mod hub;
mod ice;
mod iplimit;
mod ratelimit;
mod server;
pub mod sfu;
mod sfu_task;
mod tls;

pub use config::{
    FileConfig, ServerConfig, DEFAULT_CALL_GRACE_SECS, DEFAULT_MAX_CONNECTIONS_PER_IP,
    DEFAULT_MAX_FAILED_AUTHS_PER_IP, DEFAULT_RING_TIMEOUT_SECS, DEFAULT_SFU_FROM, MIN_FRAME_BYTES,
};
pub use error::SignalError;
pub use ice::{turn_rest_credential, IceConfig, TurnSecret, DEFAULT_TURN_TTL, MIN_TURN_TTL};
pub use iplimit::AUTH_FAILURE_WINDOW;
pub use server::{start, start_with_sfu, ServerHandle, OUTBOUND_QUEUE_CAPACITY};
pub use sfu_task::SFU_COMMAND_QUEUE;
pub use tls::server_config as tls_server_config;
