//! Tauri commands: each a few lines over the engine (docs/ui-api.md).

pub mod call;
pub mod chat;
pub mod connection;
pub mod contacts;
pub mod files;
pub mod notify;
pub mod profile;
pub mod screen;

use parley_engine::client::Client;
use tauri::State;

use crate::error::{CmdResult, CommandError};
use crate::state::AppState;

/// The running client, or `server_unreachable`.
pub(crate) async fn client(state: &State<'_, AppState>) -> CmdResult<Client> {
    state.inner.lock().await.client.clone().ok_or_else(|| {
        CommandError::new(
            "server_unreachable",
            "not connected to a signaling server yet",
        )
    })
}

/// Parses a peer id from the UI.
pub(crate) fn peer(id: &str) -> CmdResult<parley_proto::PeerId> {
    Ok(parley_proto::PeerId::parse(id.trim())?)
}
