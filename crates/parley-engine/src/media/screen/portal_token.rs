//! The ScreenCast portal's restore token, kept between runs so the desktop does
//! not ask again which screen to share (xdg-desktop-portal ScreenCast v4,
//! `restore_token` / `persist_mode`).
//!
//! One file, `$XDG_STATE_HOME/parley/screencast-restore-token`, mode 0600. A token
//! names the user's choice on this desktop, so it is per OS user, not per Parley
//! profile.

use std::io::Write;
use std::path::PathBuf;

/// Where the restore token lives: `$XDG_STATE_HOME/parley/screencast-restore-token`,
/// or `$HOME/.local/state/parley/…` when `XDG_STATE_HOME` is unset. `None` when
/// neither variable is set (then no token is kept and the desktop asks every time).
pub fn restore_token_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("parley").join("screencast-restore-token"))
}

/// The stored token, if there is a plausible one (printable ASCII, at most 256
/// bytes; portals hand out UUIDs).
pub(super) fn load() -> Option<String> {
    let text = std::fs::read_to_string(restore_token_path()?).ok()?;
    let token = text.trim();
    (!token.is_empty() && token.len() <= 256 && token.chars().all(|c| c.is_ascii_graphic()))
        .then(|| token.to_owned())
}

fn write_private(path: &std::path::Path, token: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A name of our own, so the app and parley-cli never write the same temp file.
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(token.as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Replaces the stored token (`None` forgets it). Failures are logged, and a token
/// that could not be replaced is removed, so a used one is not sent forever.
pub(super) fn store(token: Option<&str>) {
    let Some(path) = restore_token_path() else {
        return;
    };
    let result = match token {
        Some(t) => write_private(&path, t),
        None => Ok(()),
    };
    if token.is_none() || result.is_err() {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!("screen cast restore token {}: {e}", path.display());
            }
            _ => {}
        }
    }
    if let Err(e) = result {
        tracing::warn!("screen cast restore token {}: {e}", path.display());
    }
}
