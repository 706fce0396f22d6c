//! The one error type commands return to the UI: `{ code, message }` (docs/ui-api.md).

use serde::Serialize;

/// A command failure the UI can show and act on.
#[derive(Debug, Clone, Serialize)]
pub struct CommandError {
    /// Machine-readable: [`parley_engine::Error::code`]'s codes (`invalid`,
    /// `offline`, `busy`, `declined`, `timeout`, `failed`, `ended`, `not_found`,
    /// `no_device`, `transfer_failed`, `server_unreachable`, …) and the app's own
    /// (`permission_denied`, `device`); docs/ui-api.md lists them all.
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
        Self::new(e.code(), e.to_string())
    }
}

impl From<parley_proto::ProtoError> for CommandError {
    fn from(e: parley_proto::ProtoError) -> Self {
        Self::new("invalid", e.to_string())
    }
}

/// Result of a command.
pub type CmdResult<T> = Result<T, CommandError>;
