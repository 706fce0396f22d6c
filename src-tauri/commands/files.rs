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

/// Cancels a transfer either way (an unanswered offer to us is declined); the
/// partial file is deleted and the peer is told.
#[tauri::command]
pub async fn cancel_transfer(state: State<'_, AppState>, transfer_id: String) -> CmdResult<()> {
    let command = TransferCommand::Cancel { transfer_id };
    Ok(client(&state).await?.transfer(command).await?)
}
