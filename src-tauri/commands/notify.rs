//! OS notifications (an incoming call while the user looks elsewhere), through
//! tauri-plugin-notification: the freedesktop notification service over D-Bus on
//! Linux, toasts on Windows, the notification center on macOS.

use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;

use crate::error::{CmdResult, CommandError};

/// Longest title or body shown, chars (longer text is cut).
const MAX_CHARS: usize = 200;

/// Shows an OS notification with `title` and `body` (text the UI already
/// localized; each cut to 200 chars).
///
/// Errors: `device` when the platform has no notification service (e.g. no D-Bus
/// session): the UI's own incoming-call screen and ringtone still show.
#[tauri::command]
pub async fn show_notification(app: AppHandle, title: String, body: String) -> CmdResult<()> {
    let cut = |s: String| s.chars().take(MAX_CHARS).collect::<String>();
    app.notification()
        .builder()
        .title(cut(title))
        .body(cut(body))
        .show()
        .map_err(|e| CommandError::new("device", format!("cannot show a notification: {e}")))
}
