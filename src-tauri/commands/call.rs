//! Calls: start, accept, decline, hang up, mute, switch devices; video channels.

use parley_engine::call::TrackKind;
use parley_engine::client::DeviceKind;
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{AppHandle, State};

use super::{client, peer};
use crate::error::{CmdResult, CommandError};
use crate::runner::emit_state;
use crate::state::{AppState, CallView};
use crate::video_out;

/// The contact `id`, parsed. Errors: `invalid` id; `offline` as the server last
/// reported it.
async fn online_peer(state: &AppState, id: &str) -> CmdResult<parley_proto::PeerId> {
    let id = peer(id)?;
    let online = state
        .inner
        .lock()
        .await
        .presence
        .get(&id)
        .copied()
        .unwrap_or(false);
    if !online {
        return Err(CommandError::new("offline", "this contact is offline"));
    }
    Ok(id)
}

/// Calls a contact.
#[tauri::command]
pub async fn start_call(state: State<'_, AppState>, id: String) -> CmdResult<CallView> {
    let id = online_peer(&state, &id).await?;
    let info = client(&state).await?.call(id).await?;
    Ok(state.call_view(info))
}

/// Accepts the ringing incoming call.
#[tauri::command]
pub async fn accept_call(state: State<'_, AppState>, call_id: String) -> CmdResult<CallView> {
    let info = client(&state).await?.accept(&call_id).await?;
    Ok(state.call_view(info))
}

/// Declines the ringing incoming call.
#[tauri::command]
pub async fn decline_call(state: State<'_, AppState>, call_id: String) -> CmdResult<()> {
    client(&state).await?.decline(&call_id).await;
    Ok(())
}

/// Ends or cancels the current call.
#[tauri::command]
pub async fn hangup(state: State<'_, AppState>) -> CmdResult<()> {
    client(&state).await?.hangup().await;
    Ok(())
}

/// Mutes the microphone / turns the camera off.
#[tauri::command]
pub async fn set_muted(
    state: State<'_, AppState>,
    audio: bool,
    video: bool,
) -> CmdResult<CallView> {
    let info = client(&state).await?.set_muted(audio, video).await?;
    Ok(state.call_view(info))
}

/// Picks the camera, microphone or speaker `name` (saved in the settings) and
/// switches the current call over to it; outside a call the next call uses it.
/// Errors: `invalid` for an unknown kind, `no_device` when it cannot be opened.
#[tauri::command]
pub async fn switch_device(
    app: AppHandle,
    state: State<'_, AppState>,
    kind: DeviceKind,
    name: String,
) -> CmdResult<()> {
    {
        let mut inner = state.inner.lock().await;
        let mut settings = inner.settings.clone();
        let slot = match kind {
            DeviceKind::Camera => &mut settings.camera,
            DeviceKind::Microphone => &mut settings.microphone,
            DeviceKind::Speaker => &mut settings.speaker,
        };
        *slot = Some(name);
        settings.save(&state.profile)?;
        *state
            .media_settings
            .write()
            .unwrap_or_else(|p| p.into_inner()) = settings.clone();
        inner.settings = settings;
    }
    client(&state).await?.switch_device(kind).await?;
    emit_state(&app).await;
    Ok(())
}

/// Attaches the UI's video channels: remote camera, local preview and the peer's
/// shared screen flow until the window goes away.
#[tauri::command]
pub async fn attach_video(
    state: State<'_, AppState>,
    remote: Channel<InvokeResponseBody>,
    local: Channel<InvokeResponseBody>,
    screen: Channel<InvokeResponseBody>,
) -> CmdResult<()> {
    let c = client(&state).await?;
    let mut inner = state.inner.lock().await;
    for pump in inner.video_pumps.drain(..) {
        pump.abort();
    }
    inner
        .video_pumps
        .push(video_out::pump(c.remote_video.clone(), remote));
    inner
        .video_pumps
        .push(video_out::pump(c.local_video.clone(), local));
    inner
        .video_pumps
        .push(video_out::pump(c.remote_screen.clone(), screen));
    Ok(())
}

/// Invites the contact `id` into the current call (it rings; the call becomes a
/// group call when it joins). Errors: `offline`; `not_in_call` /
/// `not_connected`; `invalid` when it is already in the call.
#[tauri::command]
pub async fn invite_to_call(state: State<'_, AppState>, id: String) -> CmdResult<CallView> {
    let id = online_peer(&state, &id).await?;
    let info = client(&state).await?.invite(id).await?;
    Ok(state.call_view(info))
}

fn track_kind(track: &str) -> CmdResult<TrackKind> {
    match track {
        "camera" => Ok(TrackKind::Camera),
        "screen" => Ok(TrackKind::Screen),
        other => Err(CommandError::new(
            "invalid",
            format!("no video track {other:?} (camera or screen)"),
        )),
    }
}

/// Attaches a grid tile's channel to the decoded `track` (`camera` or
/// `screen`) of the member `peer`; frames flow (as with [`attach_video`]) until
/// [`detach_member_video`] or another attach for the same tile. Errors:
/// `invalid` for a bad id or track.
#[tauri::command]
pub async fn attach_member_video(
    state: State<'_, AppState>,
    peer: String,
    track: String,
    channel: Channel<InvokeResponseBody>,
) -> CmdResult<()> {
    let id = super::peer(&peer)?;
    let kind = track_kind(&track)?;
    let c = client(&state).await?;
    let pump = video_out::pump(c.member_video.get(&id, kind), channel);
    let mut inner = state.inner.lock().await;
    if let Some(old) = inner.member_pumps.insert((id, track), pump) {
        old.abort();
    }
    Ok(())
}

/// Stops the frames of a tile attached with [`attach_member_video`].
#[tauri::command]
pub async fn detach_member_video(
    state: State<'_, AppState>,
    peer: String,
    track: String,
) -> CmdResult<()> {
    let id = super::peer(&peer)?;
    if let Some(old) = state.inner.lock().await.member_pumps.remove(&(id, track)) {
        old.abort();
    }
    Ok(())
}
