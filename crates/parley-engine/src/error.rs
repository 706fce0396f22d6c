//! The engine's error type: one enum, structured variants per area.

use std::path::PathBuf;

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the engine can fail with. Variants carry the data a caller needs to
/// show a useful message; misuse is an error value, never a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A data channel or the call that owned it is closed.
    #[error("the data channel is closed")]
    ChannelClosed,
    /// Filesystem error with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The profile database failed.
    #[error("profile database: {0}")]
    Storage(#[from] rusqlite::Error),
    /// Signaling failed (connect, auth, protocol).
    #[error("signaling: {0}")]
    Signaling(String),
    /// The signaling server answered with a typed error.
    #[error("server refused: {code}: {message}")]
    Refused {
        /// Error code from `parley_proto` (see docs/protocol.md).
        code: String,
        /// Human-readable message from the server.
        message: String,
    },
    /// WebRTC (peer connection, ICE, DTLS, SCTP) failed.
    #[error("webrtc: {0}")]
    Rtc(String),
    /// Media capture, codec or sink failure.
    #[error("media: {0}")]
    Media(#[from] crate::media::MediaError),
    /// A file transfer failed.
    #[error("transfer: {0}")]
    Transfer(#[from] crate::transfer::TransferError),
    /// The call ended or never started as asked; [`CallError::code`] says how.
    #[error("call: {0}")]
    Call(#[from] crate::call::CallError),
    /// The other side's session description was not signed by the peer we are in
    /// the call with, or ours was refused by it: someone between us (the signaling
    /// server or whoever controls it) altered the call (docs/protocol.md §6.3). No
    /// media or data flowed.
    #[error("the connection was tampered with: {0}")]
    Tampered(String),
    /// The other side's offer lists none of our codecs for one of its media
    /// sections, so there is nothing we could send there (docs/protocol.md §8.4:
    /// Parley sends H.264 video and Opus audio only). Nothing was applied; the peer
    /// got `hangup` with reason `unsupported codecs`.
    #[error("the caller offered no {kind} codec Parley supports (offered: {offered}); Parley needs {needed}")]
    UnsupportedCodecs {
        /// `video` or `audio`.
        kind: &'static str,
        /// The codecs that section offered (`rtpmap` names, comma-separated), or
        /// `none`.
        offered: String,
        /// The codec Parley needs there: `H.264` or `Opus`.
        needed: &'static str,
    },
    /// The SFU (Janus) refused a request or went away.
    #[error("sfu: {0}")]
    Sfu(#[from] parley_janus::Error),
    /// Invalid argument or state from the caller.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Nearby discovery (mDNS / DNS-SD, [`crate::nearby`]) could not start or
    /// change our announcement.
    #[error("nearby: {0}")]
    Nearby(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl Error {
    /// A stable machine-readable code for the app (docs/ui-api.md, "Error codes"):
    /// `invalid`, `server_unreachable` (signaling failed or the server refused),
    /// `no_device` (media), `transfer_failed`, `tampered`, `unsupported_codecs`,
    /// `sfu_unavailable` (the SFU refused or went away),
    /// a call's own code ([`CallError::code`](crate::call::CallError::code)), and
    /// `internal` for the rest (I/O, storage, WebRTC, a closed channel, nearby
    /// discovery).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid",
            Error::Signaling(_) | Error::Refused { .. } => "server_unreachable",
            Error::Media(_) => "no_device",
            Error::Transfer(_) => "transfer_failed",
            Error::Tampered(_) => "tampered",
            Error::UnsupportedCodecs { .. } => "unsupported_codecs",
            Error::Call(c) => c.code(),
            Error::Sfu(_) => "sfu_unavailable",
            Error::ChannelClosed
            | Error::Io { .. }
            | Error::Storage(_)
            | Error::Rtc(_)
            | Error::Nearby(_) => "internal",
        }
    }
}

impl From<webrtc::error::Error> for Error {
    fn from(e: webrtc::error::Error) -> Self {
        Error::Rtc(e.to_string())
    }
}
