//! The crate's error type.

use std::net::SocketAddr;

/// Errors starting or configuring the signaling server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// Which value and why.
        reason: String,
    },
    /// A TOML configuration file could not be parsed.
    #[error("cannot parse configuration: {reason}")]
    ConfigParse {
        /// The parser's message.
        reason: String,
    },
    /// Another I/O failure (reading the bound address, ...).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
