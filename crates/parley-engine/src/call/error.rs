//! Why a call could not be made, or went on no longer: one typed error with a
//! stable [`CallError::code`] the app maps to a message, instead of matching text.

use parley_proto::PeerId;

/// A call (or data session) that was refused, failed or was asked the impossible.
///
/// [`CallError::code`] is stable and is what the app keys on (docs/ui-api.md);
/// the `Display` text is for people and may change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The callee is in another call (the server answered `busy`, docs/protocol.md §6).
    #[error("{peer} is busy")]
    Busy {
        /// Who was called.
        peer: PeerId,
    },
    /// The callee is not signed in to the server.
    #[error("{} is offline", name.as_deref().unwrap_or(peer.as_str()))]
    Offline {
        /// Who was called.
        peer: PeerId,
        /// Their display name, when known; the id is shown otherwise.
        name: Option<String>,
    },
    /// The callee declined.
    #[error("{peer} declined the call{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Declined {
        /// Who was called.
        peer: PeerId,
        /// The reason they gave, if any.
        reason: Option<String>,
    },
    /// The callee did not answer within [`super::RING_TIMEOUT_MS`] (ours or the
    /// server's ring timeout, docs/protocol.md §6).
    #[error("{peer} did not answer")]
    NoAnswer {
        /// Who was called.
        peer: PeerId,
    },
    /// The connection did not come up within [`super::CONNECT_TIMEOUT_MS`] of the
    /// accept.
    #[error("the connection did not come up in time")]
    ConnectTimeout,
    /// ICE or DTLS failed (RFC 8445 §8: no candidate pair worked, or the DTLS
    /// handshake failed).
    #[error("the connection failed (ICE or DTLS)")]
    ConnectionFailed,
    /// The connection was lost after it had been up, and neither ICE restarts
    /// nor the network brought it back within `link::LOST_AFTER`.
    #[error("the connection was lost ({restarts} ICE restarts did not bring it back)")]
    ConnectionLost {
        /// ICE restarts tried since the loss.
        restarts: u32,
    },
    /// The peer hung up with reason `unsupported codecs`: it supports none of the
    /// codecs we offered for some media section (docs/protocol.md §8.4).
    #[error(
        "{peer} refused the call: it supports none of the codecs we offered \
         for a media section (we send H.264 video and Opus audio)"
    )]
    PeerRefusedCodecs {
        /// The peer.
        peer: PeerId,
    },
    /// The other side cancelled or hung up before the call was answered.
    #[error("the call was ended before it was answered")]
    EndedBeforeAnswer,
    /// A command reached a call that has already ended.
    #[error("the call has ended")]
    Ended,
    /// A task of the call failed unexpectedly (a panic or a cancelled task).
    #[error("{what} task failed: {cause}")]
    TaskFailed {
        /// Which task: `call`, `screen capture`.
        what: &'static str,
        /// What the runtime said.
        cause: String,
    },
    /// The client (its task) has stopped; nothing more can be done with it.
    #[error("the client has stopped")]
    ClientStopped,
    /// Accept or decline of a call that no longer rings.
    #[error("that call is no longer ringing")]
    NotRinging,
    /// Something that needs a connected call (sharing the screen) before it is.
    #[error("share a screen once the call is connected")]
    NotConnected,
    /// Something that needs a call when there is none.
    #[error("not in a call")]
    NotInCall,
    /// A command for a transfer that is over or never was.
    #[error("that transfer is over")]
    NoSuchTransfer,
    /// A new call while one is running.
    #[error("already in a call")]
    AlreadyInCall,
}

impl CallError {
    /// The stable machine-readable code (docs/ui-api.md, "Error codes"):
    ///
    /// | code | variants |
    /// |---|---|
    /// | `busy` | [`Busy`](Self::Busy), [`AlreadyInCall`](Self::AlreadyInCall) (the UI reads it as "you are in a call") |
    /// | `offline` | [`Offline`](Self::Offline) |
    /// | `declined` | [`Declined`](Self::Declined) |
    /// | `timeout` | [`NoAnswer`](Self::NoAnswer), [`ConnectTimeout`](Self::ConnectTimeout) |
    /// | `failed` | [`ConnectionFailed`](Self::ConnectionFailed), [`ConnectionLost`](Self::ConnectionLost), [`PeerRefusedCodecs`](Self::PeerRefusedCodecs) |
    /// | `ended` | [`EndedBeforeAnswer`](Self::EndedBeforeAnswer), [`Ended`](Self::Ended) |
    /// | `not_ringing`, `not_connected`, `not_in_call` | the variant of that name |
    /// | `not_found` | [`NoSuchTransfer`](Self::NoSuchTransfer) |
    /// | `stopped` | [`ClientStopped`](Self::ClientStopped) |
    /// | `internal` | [`TaskFailed`](Self::TaskFailed) |
    pub fn code(&self) -> &'static str {
        match self {
            Self::Busy { .. } | Self::AlreadyInCall => "busy",
            Self::Offline { .. } => "offline",
            Self::Declined { .. } => "declined",
            Self::NoAnswer { .. } | Self::ConnectTimeout => "timeout",
            Self::ConnectionFailed
            | Self::ConnectionLost { .. }
            | Self::PeerRefusedCodecs { .. } => "failed",
            Self::EndedBeforeAnswer | Self::Ended => "ended",
            Self::NotRinging => "not_ringing",
            Self::NotConnected => "not_connected",
            Self::NotInCall => "not_in_call",
            Self::NoSuchTransfer => "not_found",
            Self::ClientStopped => "stopped",
            Self::TaskFailed { .. } => "internal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn peer() -> PeerId {
        crate::identity::Identity::generate().id()
    }

    /// Every variant's code and text. The texts are what end-to-end tests and
    /// users see ("is offline", "declined", "did not answer"): a change here is a
    /// change they see.
    #[test]
    fn codes_and_messages_are_stable() {
        let p = peer();
        let cases: Vec<(CallError, &str, String)> = vec![
            (
                CallError::Busy { peer: p.clone() },
                "busy",
                format!("{p} is busy"),
            ),
            (
                CallError::Offline {
                    peer: p.clone(),
                    name: None,
                },
                "offline",
                format!("{p} is offline"),
            ),
            (
                CallError::Offline {
                    peer: p.clone(),
                    name: Some("Bob".into()),
                },
                "offline",
                "Bob is offline".into(),
            ),
            (
                CallError::Declined {
                    peer: p.clone(),
                    reason: None,
                },
                "declined",
                format!("{p} declined the call"),
            ),
            (
                CallError::Declined {
                    peer: p.clone(),
                    reason: Some("in a meeting".into()),
                },
                "declined",
                format!("{p} declined the call: in a meeting"),
            ),
            (
                CallError::NoAnswer { peer: p.clone() },
                "timeout",
                format!("{p} did not answer"),
            ),
            (
                CallError::ConnectTimeout,
                "timeout",
                "the connection did not come up in time".into(),
            ),
            (
                CallError::ConnectionFailed,
                "failed",
                "the connection failed (ICE or DTLS)".into(),
            ),
            (
                CallError::ConnectionLost { restarts: 3 },
                "failed",
                "the connection was lost (3 ICE restarts did not bring it back)".into(),
            ),
            (
                CallError::PeerRefusedCodecs { peer: p.clone() },
                "failed",
                format!(
                    "{p} refused the call: it supports none of the codecs we offered for a \
                     media section (we send H.264 video and Opus audio)"
                ),
            ),
            (
                CallError::EndedBeforeAnswer,
                "ended",
                "the call was ended before it was answered".into(),
            ),
            (CallError::Ended, "ended", "the call has ended".into()),
            (
                CallError::TaskFailed {
                    what: "call",
                    cause: "panicked".into(),
                },
                "internal",
                "call task failed: panicked".into(),
            ),
            (
                CallError::ClientStopped,
                "stopped",
                "the client has stopped".into(),
            ),
            (
                CallError::NotRinging,
                "not_ringing",
                "that call is no longer ringing".into(),
            ),
            (
                CallError::NotConnected,
                "not_connected",
                "share a screen once the call is connected".into(),
            ),
            (CallError::NotInCall, "not_in_call", "not in a call".into()),
            (
                CallError::NoSuchTransfer,
                "not_found",
                "that transfer is over".into(),
            ),
            (CallError::AlreadyInCall, "busy", "already in a call".into()),
        ];
        for (e, code, text) in cases {
            assert_eq!(e.code(), code, "{e:?}");
            assert_eq!(e.to_string(), text, "{e:?}");
            let wrapped = Error::from(e);
            assert_eq!(wrapped.code(), code);
            assert_eq!(wrapped.to_string(), format!("call: {text}"));
        }
    }
}
