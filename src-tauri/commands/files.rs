//! Files: send (drop or dialog), accept, decline, cancel, show in folder.

use std::path::PathBuf;

use parley_engine::transfer::TransferCommand;
use tauri::State;

use super::{client, peer};
use crate::error::{CmdResult, CommandError};
use crate::state::AppState;

/// Offers files (folders expanded) to a contact; progress arrives as
/// `parley://transfer` events. This is what a drop on the window calls.
#[tauri::command]
pub async fn send_files(
    state: State<'_, AppState>,
    id: String,
    paths: Vec<String>,
) -> CmdResult<()> {
    let id = peer(&id)?;
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    client(&state).await?.send_files(id, paths).await?;
    Ok(())
}

/// Opens the native file chooser and sends what the user picks.
#[tauri::command]
pub async fn pick_and_send_files(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    let id = peer(&id)?;
    let picked = rfd::AsyncFileDialog::new().pick_files().await;
    let Some(files) = picked else { return Ok(()) };
    let paths = files.iter().map(|f| f.path().to_path_buf()).collect();
    client(&state).await?.send_files(id, paths).await?;
    Ok(())
}

/// Shows a received file in the system file manager.
#[tauri::command]
pub async fn show_in_folder(path: String) -> CmdResult<()> {
    tauri_plugin_opener::reveal_item_in_dir(&path)
        .map_err(|e| CommandError::new("not_found", e.to_string()))
}

/// Extensions (lowercase) of files the system would run rather than show:
/// "Open" refuses them, "Show in folder" still works. A peer chooses the names
/// of what it sends.
const PROGRAM_EXTENSIONS: &[&str] = &[
    "exe",
    "com",
    "bat",
    "cmd",
    "msi",
    "msp",
    "msix",
    "appx",
    "scr",
    "pif",
    "cpl",
    "lnk",
    "url",
    "scf",
    "hta",
    "js",
    "jse",
    "vbs",
    "vbe",
    "wsf",
    "wsh",
    "ps1",
    "psm1",
    "reg",
    "inf",
    "msc",
    "jar",
    "app",
    "command",
    "tool",
    "desktop",
    "sh",
    "run",
    "appimage",
    "dmg",
    "pkg",
    "deb",
    "rpm",
    "apk",
    "workflow",
    "action",
    "application",
    "gadget",
    "xbap",
];

/// Whether `path` names a program (by its extension, [`PROGRAM_EXTENSIONS`]).
fn is_program(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PROGRAM_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Opens a completed received file with the system's default app. Takes the
/// transfer's id rather than a path, so the page can only open what arrived.
///
/// Errors: `not_found` when no completed received transfer has this id, or its
/// file is no longer there; `invalid` for a program (it is not run: the user
/// can find it with "Show in folder"); `internal` when the system cannot open it.
#[tauri::command]
pub async fn open_transfer(state: State<'_, AppState>, transfer_id: String) -> CmdResult<()> {
    let path = {
        let inner = state.inner.lock().await;
        inner
            .transfers
            .get(&transfer_id)
            .filter(|t| t.state == "completed" && t.direction == "receiving")
            .and_then(|t| t.path.clone())
    };
    let path = path.ok_or_else(|| CommandError::new("not_found", "no such received file"))?;
    // A received folder opens in the file manager; not one whose name has an
    // extension (`x.app`, `x.prefPane`: the system may run a bundle).
    let p = std::path::Path::new(&path);
    if p.is_dir() && p.extension().is_some() {
        return Err(CommandError::new(
            "invalid",
            format!("{path} may be a program bundle: Parley does not open it (use Show in folder)"),
        ));
    }
    if !p.exists() {
        return Err(CommandError::new(
            "not_found",
            format!("{path} is no longer there"),
        ));
    }
    if is_program(std::path::Path::new(&path)) {
        return Err(CommandError::new(
            "invalid",
            format!("{path} is a program: Parley does not run programs it received (use Show in folder)"),
        ));
    }
    tauri_plugin_opener::open_path(&path, None::<&str>)
        .map_err(|e| CommandError::new("internal", format!("cannot open {path}: {e}")))
}

/// Accepts a file offered in the call; it goes to the download folder.
#[tauri::command]
pub async fn accept_transfer(state: State<'_, AppState>, transfer_id: String) -> CmdResult<()> {
    let command = TransferCommand::Accept { transfer_id };
    Ok(client(&state).await?.transfer(command).await?)
}

/// Declines a file offered in the call; the sender sees it declined.
#[tauri::command]
pub async fn decline_transfer(state: State<'_, AppState>, transfer_id: String) -> CmdResult<()> {
    let command = TransferCommand::Decline { transfer_id };
    Ok(client(&state).await?.transfer(command).await?)
}

/// Cancels a transfer either way (an unanswered offer to us is declined) and
/// tells the peer. Receiving: the partial file is deleted. Sending: the receiver
/// keeps what arrived, so sending the file again resumes.
#[tauri::command]
pub async fn cancel_transfer(state: State<'_, AppState>, transfer_id: String) -> CmdResult<()> {
    let command = TransferCommand::Cancel { transfer_id };
    Ok(client(&state).await?.transfer(command).await?)
}

#[cfg(test)]
mod tests {
    use super::is_program;
    use std::path::Path;

    #[test]
    fn programs_are_not_opened() {
        for name in [
            "setup.exe",
            "RUN.BAT",
            "a.b.lnk",
            "x.desktop",
            "tool.AppImage",
            "s.ps1",
        ] {
            assert!(is_program(Path::new(name)), "{name}");
        }
        for name in [
            "report.pdf",
            "photo.JPG",
            "random.bin",
            "notes",
            ".hidden",
            "a.exe.txt",
        ] {
            assert!(!is_program(Path::new(name)), "{name}");
        }
    }
}
