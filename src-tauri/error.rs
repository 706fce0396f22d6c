//! The one error type commands return to the UI: `{ code, message }` (docs/ui-api.md).

use serde::Serialize;

/// A command failure the UI can show and act on.
#[derive(Debug, Clone, Serialize)]
pub struct CommandError {
    /// Machine-readable: `invalid`, `not_found`, `offline`, `busy`, `no_device`,
    /// `permission_denied`, `transfer_failed`, `server_unreachable`, `internal`.
    pub code: &'static str,
    /// For display.
    pub message: String,
}

impl CommandError {
    /// A failure with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<parley_engine::Error> for CommandError {
    fn from(e: parley_engine::Error) -> Self {
        use parley_engine::Error as E;
        let code = match &e {
            E::Invalid(_) => "invalid",
            E::Signaling(_) | E::Refused { .. } => "server_unreachable",
            E::Media(_) => "no_device",
            E::Transfer(_) => "transfer_failed",
            E::Call(m) if m.contains("offline") => "offline",
            E::Call(m) if m.contains("busy") || m.contains("already in a call") => "busy",
            _ => "internal",
        };
        Self::new(code, e.to_string())
    }
}

impl From<parley_proto::ProtoError> for CommandError {
    fn from(e: parley_proto::ProtoError) -> Self {
        Self::new("invalid", e.to_string())
    }
}

/// Result of a command.
pub type CmdResult<T> = Result<T, CommandError>;
