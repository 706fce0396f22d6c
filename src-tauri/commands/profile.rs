//! First start, settings (and the Nearby switch), devices, the invite link.

use serde::Serialize;
use tauri::{AppHandle, State};

use super::client;
use crate::error::{CmdResult, CommandError};
use crate::runner::{emit_error, emit_state, restart_client};
use crate::settings::Settings;
use crate::state::{AppState, StateView};

/// The full state snapshot.
#[tauri::command]
pub async fn get_state(state: State<'_, AppState>) -> CmdResult<StateView> {
    let inner = state.inner.lock().await;
    Ok(state.view(&inner))
}

/// First start: stores the display name (the identity already exists).
#[tauri::command]
pub async fn setup_profile(
    app: AppHandle,
    state: State<'_, AppState>,
    name: String,
) -> CmdResult<StateView> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(CommandError::new(
            "invalid",
            "a name of 1 to 64 characters, please",
        ));
    }
    let (view, visible) = {
        let mut inner = state.inner.lock().await;
        inner.settings.display_name = name.to_owned();
        inner.settings.save(&state.profile)?;
        (state.view(&inner), inner.settings.nearby_visible)
    };
    // The client started before the name was chosen, and did not announce us.
    if let Ok(c) = client(&state).await {
        c.set_nearby_name(name).await;
        if visible {
            if let Err(e) = c.set_nearby_visible(true).await {
                emit_error(&app, e.code(), e.to_string());
            }
        }
    }
    emit_state(&app).await;
    Ok(view)
}

/// Stores new settings; reconnects when the server or ICE servers changed.
#[tauri::command]
pub async fn update_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> CmdResult<StateView> {
    let mut settings = settings;
    settings.server_url = settings.server_url.filter(|u| !u.trim().is_empty());
    if let Some(url) = &settings.server_url {
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(CommandError::new(
                "invalid",
                "the server URL starts with ws:// or wss://",
            ));
        }
    }
    // An ICE URL the engine cannot use is refused here, not dropped later.
    for server in &settings.ice_servers {
        server.validate()?;
    }
    let (reconnect, old) = {
        let mut inner = state.inner.lock().await;
        let reconnect = inner.settings.server_url != settings.server_url
            || inner.settings.ice_servers != settings.ice_servers
            || inner.settings.download_dir != settings.download_dir;
        let old = inner.settings.clone();
        settings.save(&state.profile)?;
        *state
            .media_settings
            .write()
            .unwrap_or_else(|p| p.into_inner()) = settings.clone();
        inner.settings = settings.clone();
        (reconnect, old)
    };
    if reconnect {
        tauri::async_runtime::spawn(restart_client(app.clone()));
    } else if let Ok(c) = client(&state).await {
        // A restarted client reads both from the settings.
        if old.display_name != settings.display_name {
            c.set_nearby_name(&settings.display_name).await;
        }
        if old.nearby_visible != settings.nearby_visible {
            if let Err(e) = c.set_nearby_visible(settings.nearby_visible).await {
                emit_error(&app, e.code(), e.to_string());
            }
        }
    }
    emit_state(&app).await;
    let inner = state.inner.lock().await;
    Ok(state.view(&inner))
}

/// Shows us to people on this network, or stops (docs/ui-api.md
/// `set_nearby_visible`): saved as `nearbyVisible` and applied to the running
/// client at once (a client started later reads the setting).
#[tauri::command]
pub async fn set_nearby_visible(
    app: AppHandle,
    state: State<'_, AppState>,
    visible: bool,
) -> CmdResult<StateView> {
    if let Ok(c) = client(&state).await {
        c.set_nearby_visible(visible).await?;
    }
    {
        let mut inner = state.inner.lock().await;
        inner.settings.nearby_visible = visible;
        inner.settings.save(&state.profile)?;
        state
            .media_settings
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .nearby_visible = visible;
    }
    emit_state(&app).await;
    let inner = state.inner.lock().await;
    Ok(state.view(&inner))
}

/// Device names for the settings.
#[derive(Serialize)]
pub struct Devices {
    cameras: Vec<String>,
    microphones: Vec<String>,
    speakers: Vec<String>,
}

/// Cameras, microphones and speakers present now.
#[tauri::command]
pub async fn list_devices() -> CmdResult<Devices> {
    use parley_engine::media;
    let (cameras, microphones, speakers) = tauri::async_runtime::spawn_blocking(|| {
        (
            crate::media::camera_names(),
            media::list_input_devices()
                .into_iter()
                .map(|d| d.name)
                .collect(),
            media::list_output_devices()
                .into_iter()
                .map(|d| d.name)
                .collect(),
        )
    })
    .await
    .map_err(|e| CommandError::new("internal", e.to_string()))?;
    Ok(Devices {
        cameras,
        microphones,
        speakers,
    })
}

/// `parley://add/<our id>`: others paste or open it to add us.
#[tauri::command]
pub async fn copy_invite_link(state: State<'_, AppState>) -> CmdResult<String> {
    Ok(state.profile.identity().id().invite_link())
}
