//! The crate's error type.

use crate::signal::ErrorCode;

/// Everything that can go wrong parsing, validating or verifying wire data.
///
/// Map an error to its wire code with [`ProtoError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The frame is not JSON, not an object, has no string `type`, or a known type
    /// is missing fields or has fields of the wrong shape.
    #[error("malformed frame: {reason}")]
    Malformed {
        /// What was wrong, for logs and error messages.
        reason: String,
    },
    /// A well-formed JSON object whose `type` this version does not know.
    #[error("unknown message type {type_name:?}")]
    UnknownType {
        /// The `type` value received.
        type_name: String,
    },
    /// A frame longer than the limit.
    #[error("frame of {bytes} bytes exceeds the limit of {max_bytes} bytes")]
    TooLarge {
        /// Length of the frame, bytes.
        bytes: usize,
        /// The limit, bytes.
        max_bytes: usize,
    },
    /// A string that should be a peer id (base64url-no-pad of a 32-byte Ed25519
    /// public key, 43 chars) is not one.
    #[error("invalid peer id: {reason}")]
    InvalidPeerId {
        /// Why it was refused.
        reason: String,
    },
    /// A call id that is empty, longer than 64 chars or has chars outside
    /// `[A-Za-z0-9_-]`.
    #[error("invalid call id {call_id:?}")]
    InvalidCallId {
        /// The refused call id.
        call_id: String,
    },
    /// A message whose fields parse but break a rule (too many watched ids, ...).
    #[error("invalid message: {reason}")]
    Invalid {
        /// Which rule was broken.
        reason: String,
    },
    /// A signature that is not valid base64url, not 64 bytes, or does not verify.
    #[error("signature verification failed: {reason}")]
    BadSignature {
        /// Why verification failed.
        reason: String,
    },
    /// A binary chunk frame shorter than its 57-byte header.
    #[error("chunk frame of {bytes} bytes is shorter than its header")]
    ChunkTooShort {
        /// Length of the frame received, bytes.
        bytes: usize,
    },
    /// A transfer id that is not 32 lowercase hex chars (16 bytes).
    #[error("invalid transfer id {transfer_id:?}")]
    InvalidTransferId {
        /// The refused transfer id.
        transfer_id: String,
    },
}

impl ProtoError {
    /// The wire [`ErrorCode`] a server (or peer) should answer this error with.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtoError::Malformed { .. } | ProtoError::ChunkTooShort { .. } => ErrorCode::Malformed,
            ProtoError::UnknownType { .. } => ErrorCode::UnknownType,
            ProtoError::TooLarge { .. } => ErrorCode::TooLarge,
            ProtoError::BadSignature { .. } => ErrorCode::AuthFailed,
            ProtoError::InvalidPeerId { .. }
            | ProtoError::InvalidCallId { .. }
            | ProtoError::Invalid { .. }
            | ProtoError::InvalidTransferId { .. } => ErrorCode::Invalid,
        }
    }

    pub(crate) fn malformed(reason: impl std::fmt::Display) -> Self {
        // serde_json quotes offending values: keep what is echoed back short.
        ProtoError::Malformed {
            reason: clip(&reason.to_string(), 4 * MAX_ECHOED_CHARS),
        }
    }
}

/// Longest piece of a peer's input quoted back in an error, chars: a reply must not
/// grow with the input (a client that sends large frames and does not read would
/// otherwise fill the server's socket with its own echoes).
pub(crate) const MAX_ECHOED_CHARS: usize = 64;

/// `s` cut to at most `max` chars, with "…" when cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((end, _)) => format!("{}…", &s[..end]),
    }
}

#[cfg(test)]
mod clip_tests {
    use super::*;

    #[test]
    fn echoes_are_clipped() {
        assert_eq!(clip("short", 64), "short");
        assert_eq!(clip("ééééé", 3), "ééé…");
        let long = format!("{{\"type\":\"{}\"}}", "x".repeat(60_000));
        let e = crate::ClientMessage::parse(&long).unwrap_err();
        assert!(e.to_string().len() < 200, "{e}");
    }
}
