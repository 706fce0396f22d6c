//! Contacts: add, rename, remove (stored in the profile's SQLite database).

use tauri::{AppHandle, State};

use super::{client, peer};
use crate::error::{CmdResult, CommandError};
use crate::runner::emit_state;
use crate::state::{AppState, ContactView};

async fn changed(app: &AppHandle, state: &State<'_, AppState>) -> CmdResult<Vec<ContactView>> {
    if let Ok(c) = client(state).await {
        c.refresh_contacts().await;
    }
    emit_state(app).await;
    let inner = state.inner.lock().await;
    Ok(state.contacts(&inner))
}

/// Adds a contact by id (or `parley://add/<id>`).
#[tauri::command]
pub async fn add_contact(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    name: String,
) -> CmdResult<Vec<ContactView>> {
    let id = id.trim().trim_start_matches("parley://add/");
    let id = peer(id)?;
    let name = name.trim();
    state
        .profile
        .add_contact(&id, (!name.is_empty()).then_some(name))
        .map_err(|e| CommandError::new("invalid", e.to_string()))?;
    changed(&app, &state).await
}

/// Renames a contact.
#[tauri::command]
pub async fn rename_contact(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    name: String,
) -> CmdResult<Vec<ContactView>> {
    let id = peer(&id)?;
    let name = name.trim();
    if !state
        .profile
        .rename_contact(&id, (!name.is_empty()).then_some(name))?
    {
        return Err(CommandError::new("not_found", "no such contact"));
    }
    changed(&app, &state).await
}

/// Removes a contact.
#[tauri::command]
pub async fn remove_contact(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
) -> CmdResult<Vec<ContactView>> {
    let id = peer(&id)?;
    if !state.profile.remove_contact(&id)? {
        return Err(CommandError::new("not_found", "no such contact"));
    }
    changed(&app, &state).await
}

/// Marks a contact as verified (its safety number was compared) or not.
#[tauri::command]
pub async fn set_contact_verified(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    verified: bool,
) -> CmdResult<Vec<ContactView>> {
    let id = peer(&id)?;
    if !state.profile.set_contact_verified(&id, verified)? {
        return Err(CommandError::new("not_found", "no such contact"));
    }
    changed(&app, &state).await
}
