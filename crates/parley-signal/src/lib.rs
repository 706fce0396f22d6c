//! Parley signaling server: authenticates peers by Ed25519 challenge, tracks
//! presence, and relays call setup (invite, SDP, ICE candidates) only between the
//! two parties of a call it has seen set up. It never sees media or data-channel
//! content. The wire protocol is `parley_proto::signal`, documented in
//! `docs/protocol.md`.
//!
//! Embed it with [`start`]; the `parley-signal` binary wraps the same call.

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
mod tls;

pub use config::{
    FileConfig, ServerConfig, DEFAULT_CALL_GRACE_SECS, DEFAULT_MAX_CONNECTIONS_PER_IP,
    DEFAULT_MAX_FAILED_AUTHS_PER_IP, DEFAULT_RING_TIMEOUT_SECS, MIN_FRAME_BYTES,
};
pub use error::SignalError;
pub use ice::{turn_rest_credential, IceConfig, TurnSecret, DEFAULT_TURN_TTL, MIN_TURN_TTL};
pub use iplimit::AUTH_FAILURE_WINDOW;
pub use server::{start, ServerHandle, OUTBOUND_QUEUE_CAPACITY};
pub use tls::server_config as tls_server_config;
