//! Screen capture through `xcap`: X11 (XCB) and Wayland (desktop portal) on Linux,
//! GDI/DXGI on Windows, CoreGraphics on macOS.
//!
//! Only numeric ids are kept between calls (the platform handles are not `Send` on
//! every OS), so each capture looks its monitor or window up again; that costs
//! well under a millisecond next to the capture itself.

use xcap::{Monitor, Window};

use super::{RgbaImage, ScreenBackend, ScreenKind, ScreenSourceInfo};
use crate::media::MediaError;

const MONITOR: &str = "monitor:";
const WINDOW: &str = "window:";

fn device(what: &str, e: impl std::fmt::Display) -> MediaError {
    MediaError::Device(format!("screen capture ({what}): {e}"))
}

/// The `xcap` backend (stateless).
pub(super) struct XcapBackend;

impl ScreenBackend for XcapBackend {
    fn sources(&self) -> Result<Vec<ScreenSourceInfo>, MediaError> {
        let mut out = Vec::new();
        for m in Monitor::all().map_err(|e| device("monitors", e))? {
            let (Ok(id), Ok(width), Ok(height)) = (m.id(), m.width(), m.height()) else {
                continue;
            };
            let name = m
                .friendly_name()
                .ok()
                .filter(|n| !n.is_empty())
                .or_else(|| m.name().ok())
                .unwrap_or_else(|| format!("Screen {}", out.len() + 1));
            out.push(ScreenSourceInfo {
                id: format!("{MONITOR}{id}"),
                kind: ScreenKind::Monitor,
                name,
                width,
                height,
                primary: m.is_primary().unwrap_or(false),
            });
        }
        // Primary first; the rest keep the platform's order.
        out.sort_by_key(|s| !s.primary);
        // Windows need a window manager's client list on X11; without one (a bare
        // Xvfb) there are simply no windows to offer, monitors still work.
        match Window::all() {
            Ok(windows) => {
                for w in windows {
                    if w.is_minimized().unwrap_or(false) {
                        continue;
                    }
                    let (Ok(id), Ok(width), Ok(height)) = (w.id(), w.width(), w.height()) else {
                        continue;
                    };
                    if width < 2 || height < 2 {
                        continue;
                    }
                    let title = w.title().unwrap_or_default();
                    let name = if title.is_empty() {
                        w.app_name().unwrap_or_default()
                    } else {
                        title
                    };
                    if name.is_empty() {
                        continue;
                    }
                    out.push(ScreenSourceInfo {
                        id: format!("{WINDOW}{id}"),
                        kind: ScreenKind::Window,
                        name,
                        width,
                        height,
                        primary: false,
                    });
                }
            }
            Err(e) => tracing::debug!("no window list: {e}"),
        }
        if out.is_empty() {
            return Err(MediaError::Device(
                "screen capture: no monitor found (is a display available?)".into(),
            ));
        }
        Ok(out)
    }

    fn capture(&self, id: &str) -> Result<RgbaImage, MediaError> {
        let image = if let Some(n) = id.strip_prefix(MONITOR) {
            let n: u32 = n.parse().map_err(|_| device("id", id))?;
            Monitor::all()
                .map_err(|e| device("monitors", e))?
                .into_iter()
                .find(|m| m.id().ok() == Some(n))
                .ok_or_else(|| device("monitor", format!("{id} is gone")))?
                .capture_image()
                .map_err(|e| device("monitor", e))?
        } else if let Some(n) = id.strip_prefix(WINDOW) {
            let n: u32 = n.parse().map_err(|_| device("id", id))?;
            Window::all()
                .map_err(|e| device("windows", e))?
                .into_iter()
                .find(|w| w.id().ok() == Some(n))
                .ok_or_else(|| device("window", format!("{id} is gone")))?
                .capture_image()
                .map_err(|e| device("window", e))?
        } else {
            return Err(device("id", format!("unknown source {id:?}")));
        };
        let (width, height) = image.dimensions();
        Ok(RgbaImage {
            width,
            height,
            data: image.into_raw(),
        })
    }
}
