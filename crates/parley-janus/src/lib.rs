//! A small client for the [Janus WebRTC Server](https://janus.conf.meetecho.com/)
//! (1.1.x) and its VideoRoom plugin, over Janus's WebSocket transport
//! (subprotocol `janus-protocol`), with no Tauri or WebRTC stack of its own: it
//! carries the signaling (sessions, handles, VideoRoom requests, SDP offers and
//! answers, trickled ICE candidates); the media flows through whatever WebRTC
//! peer connection the caller runs.
//!
//! - [`client`]: [`JanusClient`] (one WebSocket), [`Session`] (kept alive every
//!   25 s), [`Handle`] (one plugin handle: requests, trickle, events).
//! - [`process`]: [`JanusProcess`] starts `/usr/bin/janus` with a generated
//!   configuration in a private temporary folder and waits until VideoRoom answers.
//! - [`cascade`]: remote publishers, one room's publisher made a publisher of a
//!   room on another Janus (scaling past one machine).
//!
//! Janus never gathers loopback ICE candidates (127.0.0.1 / ::1), so media only
//! flows when Janus runs where a non-loopback interface is up: the tests run it
//! in a network namespace with a veth pair ([`JanusConfig::wrapper`] = `ip netns
//! exec NS`).

pub mod cascade;
pub mod client;
pub mod process;

pub use client::{Candidate, Handle, HandleEvent, JanusClient, Jsep, Reply, Session};
pub use process::{JanusConfig, JanusProcess};

/// What can go wrong talking to (or starting) Janus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A local I/O error (configuration files, log, ports).
    #[error("I/O error: {0}")]
    Io(String),
    /// Janus did not come up; the text ends with the tail of its log.
    #[error("Janus did not start: {0}")]
    Start(String),
    /// The WebSocket connection could not be made or failed.
    #[error("WebSocket: {0}")]
    WebSocket(String),
    /// Janus answered `{"janus":"error","error":{"code":..,"reason":..}}`
    /// (e.g. 458 "No such session").
    #[error("Janus error {code}: {reason}")]
    Janus {
        /// Janus's error code.
        code: i64,
        /// Janus's reason text.
        reason: String,
    },
    /// The plugin answered with `{"error_code":..,"error":..}` in its data (e.g.
    /// VideoRoom 426 no such room, 429 missing element, 433 unauthorized).
    #[error("plugin error {code}: {reason}")]
    Plugin {
        /// The plugin's `error_code`.
        code: i64,
        /// The plugin's `error` text.
        reason: String,
    },
    /// The connection to Janus is gone.
    #[error("connection to Janus closed")]
    Closed,
    /// Janus did not answer this request (named) in time.
    #[error("no reply from Janus to {0} in time")]
    Timeout(&'static str),
    /// Janus answered with an unexpected shape.
    #[error("unexpected reply from Janus: {0}")]
    Protocol(String),
}

impl Error {
    /// The Janus or plugin error code, for [`Error::Janus`] and [`Error::Plugin`].
    pub fn code(&self) -> Option<i64> {
        match self {
            Error::Janus { code, .. } | Error::Plugin { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

/// This crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// A random secret: 32 random bytes, base64url without padding (43 characters).
/// For admin keys, room secrets and PINs.
pub fn random_key() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A random id in 1..2^53, exact as a JSON number everywhere (room and
/// participant ids).
pub fn random_id() -> u64 {
    use rand::Rng as _;
    rand::thread_rng().gen_range(1..(1u64 << 53))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_ids() {
        let key = random_key();
        assert_eq!(key.len(), 43);
        assert!(key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(key, random_key());
        for _ in 0..100 {
            let id = random_id();
            assert!((1..(1u64 << 53)).contains(&id));
        }
        assert_eq!(
            Error::Plugin {
                code: 426,
                reason: String::new()
            }
            .code(),
            Some(426)
        );
        assert_eq!(Error::Closed.code(), None);
    }
}
