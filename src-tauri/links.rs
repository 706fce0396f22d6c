//! Invite links `parley://add/<id>` and the one running app per profile.
//!
//! The OS opens a link by starting `parley <link>` (the desktop entry declares
//! `x-scheme-handler/parley`). When Parley already runs with that profile, the
//! single-instance plugin hands the arguments to it over D-Bus (Linux) and the new
//! process exits; the deep-link plugin turns them into an open-URL event. Either
//! way the link ends here: the window comes to the front and the UI opens the
//! add-contact dialog with the id filled in (`parley://invite`, `take_invite`).

use std::path::Path;
use std::sync::Mutex;

use parley_proto::PeerId;
use sha2::{Digest, Sha256};
use tauri::{AppHandle, Emitter, Manager};

use crate::runner::emit_error;

/// Longest link shown back in an error, chars (a hostile link can be long).
const MAX_LINK_SHOWN: usize = 120;

/// A link's id waiting for the UI (it may arrive before the page listens).
#[derive(Default)]
pub struct PendingInvite(pub Mutex<Option<String>>);

/// The single-instance D-Bus id for `profile_dir` (Linux): the app identifier
/// plus a hash of the folder, so two profiles run side by side (as in the tests)
/// while a second start with the same profile goes to the running app. Each
/// dot-separated part is a valid D-Bus name element.
pub fn instance_id(identifier: &str, profile_dir: Option<&Path>) -> String {
    match profile_dir {
        None => identifier.to_owned(),
        Some(dir) => {
            let hash = Sha256::digest(dir.to_string_lossy().as_bytes());
            format!("{identifier}.p{}", hex::encode(&hash[..8]))
        }
    }
}

/// Brings the main window to the front (a second start, a link).
pub fn focus(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Handles one link from the OS: a valid invite goes to the UI, anything else is
/// shown as an `invalid` error naming the link.
pub fn open(app: &AppHandle, url: &str) {
    focus(app);
    match PeerId::from_invite_link(url) {
        Ok(id) => {
            tracing::info!(%id, "invite link");
            if let Some(pending) = app.try_state::<PendingInvite>() {
                *pending.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.to_string());
            }
            let _ = app.emit("parley://invite", id.as_str());
        }
        Err(e) => {
            let shown: String = url.chars().take(MAX_LINK_SHOWN).collect();
            emit_error(app, "invalid", format!("{shown}: {e}"));
        }
    }
}

/// The id of the last invite link not yet taken by the UI, once.
#[tauri::command]
pub fn take_invite(pending: tauri::State<'_, PendingInvite>) -> Option<String> {
    pending.0.lock().unwrap_or_else(|p| p.into_inner()).take()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_differ_per_profile_and_are_valid_dbus_names() {
        let a = instance_id("app.parley.desktop", Some(Path::new("/tmp/a/profile")));
        let b = instance_id("app.parley.desktop", Some(Path::new("/tmp/b/profile")));
        assert_ne!(a, b);
        assert_eq!(
            instance_id("app.parley.desktop", None),
            "app.parley.desktop"
        );
        for id in [a, b] {
            for part in id.split('.') {
                assert!(!part.is_empty() && !part.starts_with(|c: char| c.is_ascii_digit()));
                assert!(part.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'));
            }
        }
    }
}
