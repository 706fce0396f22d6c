//! Chat: history and sending.

use tauri::State;

use super::{client, peer};
use crate::error::CmdResult;
use crate::runner::ChatView;
use crate::state::AppState;

/// The last `limit` messages with a contact, oldest first.
#[tauri::command]
pub async fn chat_history(
    state: State<'_, AppState>,
    id: String,
    limit: Option<usize>,
) -> CmdResult<Vec<ChatView>> {
    let id = peer(&id)?;
    let rows = state.profile.chat_history(&id, limit.unwrap_or(200))?;
    Ok(rows
        .into_iter()
        .map(|c| ChatView {
            id: c.message.id,
            peer: c.peer,
            text: c.message.text,
            sent_at_ms: c.message.sent_at_ms,
            direction: match c.direction {
                parley_engine::storage::Direction::Sent => "sent",
                parley_engine::storage::Direction::Received => "received",
            },
            delivered: true,
        })
        .collect())
}

/// Sends a chat message (in the call with that contact); the message comes back as
/// a `parley://chat` event once sent.
#[tauri::command]
pub async fn send_chat(state: State<'_, AppState>, id: String, text: String) -> CmdResult<()> {
    let id = peer(&id)?;
    client(&state).await?.send_chat(id, text).await?;
    Ok(())
}
