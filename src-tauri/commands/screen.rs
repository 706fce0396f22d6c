//! Screen sharing: list what can be shared (with thumbnails), start, stop.

use base64::Engine as _;
use parley_engine::media::screen::{self, RgbaImage, ScreenKind};
use serde::Serialize;
use tauri::State;

use super::client;
use crate::error::{CmdResult, CommandError};
use crate::state::{AppState, CallView};

/// Thumbnail width in the picker, pixels.
const THUMBNAIL_WIDTH: u32 = 320;

/// A monitor or window the user can share (docs/ui-api.md `ScreenSource`).
#[derive(Debug, Serialize)]
pub struct ScreenSourceView {
    /// Pass back to `start_screen_share`.
    pub id: String,
    /// `monitor` or `window`.
    pub kind: ScreenKind,
    /// Monitor name or window title.
    pub name: String,
    /// Native width, pixels.
    pub width: u32,
    /// Native height, pixels.
    pub height: u32,
    /// `data:image/png;base64,…`, about 320 px wide; `None` if capture failed.
    pub thumbnail: Option<String>,
}

fn device_error(e: impl std::fmt::Display) -> CommandError {
    CommandError::new("device", e.to_string())
}

/// The picture as an opaque PNG data URL (captures of 24-bit X visuals carry a
/// zero alpha byte, so alpha is dropped).
fn png_data_url(image: &RgbaImage) -> Option<String> {
    let rgb: Vec<u8> = image
        .data
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, image.width, image.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().ok()?;
        w.write_image_data(&rgb).ok()?;
    }
    Some(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(out)
    ))
}

/// Monitors (primary first), then windows, each with a thumbnail.
#[tauri::command]
pub async fn list_screen_sources() -> CmdResult<Vec<ScreenSourceView>> {
    tauri::async_runtime::spawn_blocking(|| {
        let sources = screen::list_screen_sources().map_err(device_error)?;
        Ok(sources
            .into_iter()
            .map(|s| ScreenSourceView {
                thumbnail: screen::thumbnail(&s.id, THUMBNAIL_WIDTH)
                    .ok()
                    .and_then(|t| png_data_url(&t)),
                id: s.id,
                kind: s.kind,
                name: s.name,
                width: s.width,
                height: s.height,
            })
            .collect())
    })
    .await
    .map_err(|e| CommandError::new("internal", e.to_string()))?
}

/// Shares `source_id` in the current call.
#[tauri::command]
pub async fn start_screen_share(
    state: State<'_, AppState>,
    source_id: String,
) -> CmdResult<CallView> {
    let info = client(&state)
        .await?
        .share_screen(&source_id)
        .await
        .map_err(|e| match e {
            parley_engine::Error::Media(m) => device_error(m),
            other => other.into(),
        })?;
    Ok(state.call_view(info))
}

/// Stops sharing.
#[tauri::command]
pub async fn stop_screen_share(state: State<'_, AppState>) -> CmdResult<CallView> {
    let info = client(&state).await?.stop_screen_share().await?;
    Ok(state.call_view(info))
}
