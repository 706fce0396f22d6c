//! The connection doctor for the settings' Connection section.

use parley_engine::doctor::{self, DoctorOptions, DoctorReport};
use parley_engine::rtc::RtcConfig;
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::AppState;

/// Checks the server in use (the built-in one too) with the saved ICE servers:
/// sign-in time, public address and NAT type, TURN per transport, usable paths
/// and advice (`parley_engine::doctor`). Takes up to about 10 s.
///
/// Errors: `server_unreachable` when no server is running or configured.
#[tauri::command]
pub async fn check_connection(state: State<'_, AppState>) -> CmdResult<DoctorReport> {
    let (url, ice_servers) = {
        let inner = state.inner.lock().await;
        let url = inner
            .client
            .as_ref()
            .map(|c| c.connection().url)
            .or_else(|| inner.settings.server_url.clone())
            .filter(|u| !u.is_empty());
        (url, inner.settings.ice_servers.clone())
    };
    let url = url.ok_or_else(|| {
        CommandError::new("server_unreachable", "no signaling server to check yet")
    })?;
    let opts = DoctorOptions {
        server_url: url,
        key: state.profile.identity().signing_key().clone(),
        rtc: RtcConfig {
            ice_servers,
            ..Default::default()
        },
    };
    Ok(doctor::run(&opts).await)
}
