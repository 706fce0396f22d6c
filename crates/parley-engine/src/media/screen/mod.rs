//! Screen capture for screen sharing: the monitors and windows a user can share,
//! and [`ScreenSource`], a [`VideoSource`] that captures one of them at 5–30
//! frames/s chosen by how much the picture changes.
//!
//! Platform code sits behind [`ScreenBackend`]; one file per backend:
//! - `xcap_backend.rs`: X11 through XCB, Windows through GDI/DXGI, macOS through
//!   CoreGraphics (all via `xcap`);
//! - `portal_backend.rs` + `portal_token.rs` + `pipewire_stream.rs`: Wayland,
//!   through the desktop ScreenCast portal with a restore token, frames over
//!   PipeWire.
//!
//! [`backend`] picks the portal on a Wayland session (`XDG_SESSION_TYPE=wayland`,
//! or `WAYLAND_DISPLAY` set without `DISPLAY`); `PARLEY_SCREEN_BACKEND=portal` or
//! `=xcap` overrides the choice.

mod convert;
mod pacing;
#[cfg(all(feature = "screen", target_os = "linux"))]
mod pipewire_stream;
#[cfg(all(feature = "screen", target_os = "linux"))]
mod portal_backend;
#[cfg(all(feature = "screen", target_os = "linux"))]
mod portal_token;
#[cfg(all(feature = "screen", target_os = "linux"))]
pub use portal_token::restore_token_path;
#[cfg(all(
    feature = "screen",
    any(target_os = "linux", target_os = "windows", target_os = "macos")
))]
mod xcap_backend;

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

pub use convert::{rgba_to_i420, scale_rgba};
use pacing::ContentPacer;

use super::video::{I420Frame, VideoSource};
use super::{monotonic_us, MediaError};

/// The id of the one source a Wayland session lists: whatever the user picks in
/// the desktop's ScreenCast portal dialog.
pub const PORTAL_ID: &str = "portal";

/// Lowest capture rate, frames/s (a still screen).
pub const MIN_SCREEN_FPS: f64 = 5.0;
/// Highest capture rate, frames/s (video or scrolling on screen).
pub const MAX_SCREEN_FPS: f64 = 30.0;

/// A monitor or a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScreenKind {
    /// A whole monitor (screen).
    Monitor,
    /// One top-level window.
    Window,
}

/// Something that can be shared, as listed by [`list_screen_sources`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScreenSourceInfo {
    /// Stable for the life of the monitor or window: `monitor:<n>` or `window:<n>`
    /// with the platform's numeric id, or `portal` on Wayland (whatever the user
    /// picks in the desktop's dialog). Pass it back as [`ScreenTarget::Id`].
    pub id: String,
    /// Monitor or window.
    pub kind: ScreenKind,
    /// Monitor name or window title (with the application's name when the title is
    /// empty).
    pub name: String,
    /// Width in pixels (native, not scaled); 0 for `portal`, whose size is known
    /// only once the user has chosen.
    pub width: u32,
    /// Height in pixels; 0 for `portal`.
    pub height: u32,
    /// Whether this is the primary monitor (always `false` for windows).
    pub primary: bool,
}

/// An RGBA picture, 4 bytes per pixel, rows packed (`width × 4` bytes each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbaImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 4` bytes, R G B A.
    pub data: Vec<u8>,
}

/// What to share, as a user names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenTarget {
    /// The primary monitor (or the first one).
    Primary,
    /// A monitor by 0-based index in [`list_screen_sources`] order, by name, or by
    /// id (`portal` for the Wayland portal's choice).
    Monitor(String),
    /// The first window whose title contains this text (case-insensitive).
    Window(String),
    /// A source by [`ScreenSourceInfo::id`].
    Id(String),
}

impl FromStr for ScreenTarget {
    type Err = MediaError;

    /// Parses the command-line form: empty or `primary`; `window:TITLE`;
    /// `monitor:<n>` / `window:<n>` ids are not accepted here (use [`ScreenTarget::Id`]);
    /// anything else is a monitor index or name.
    fn from_str(s: &str) -> Result<Self, MediaError> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("primary") {
            return Ok(ScreenTarget::Primary);
        }
        if let Some(title) = s.strip_prefix("window:") {
            if title.is_empty() {
                return Err(MediaError::Invalid("window: needs a title".into()));
            }
            return Ok(ScreenTarget::Window(title.to_owned()));
        }
        Ok(ScreenTarget::Monitor(s.to_owned()))
    }
}

impl fmt::Display for ScreenTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScreenTarget::Primary => f.write_str("the primary monitor"),
            ScreenTarget::Monitor(m) => write!(f, "monitor {m:?}"),
            ScreenTarget::Window(t) => write!(f, "the window titled {t:?}"),
            ScreenTarget::Id(id) => f.write_str(id),
        }
    }
}

/// A platform's capture code: enumerate sources and grab pictures of one.
pub trait ScreenBackend: Send {
    /// Monitors first (primary first), then visible windows, front to back.
    ///
    /// # Errors
    /// [`MediaError::Device`] when there is no display to capture (no X server,
    /// no portal, permission refused).
    fn sources(&self) -> Result<Vec<ScreenSourceInfo>, MediaError>;

    /// One picture of the source with this [`ScreenSourceInfo::id`], native size.
    /// The portal backend's first capture shows the desktop's dialog and waits,
    /// with no time limit, for the user's answer.
    ///
    /// # Errors
    /// [`MediaError::Device`] if it is gone or capture fails, or the user cancelled
    /// the dialog.
    fn capture(&self, id: &str) -> Result<RgbaImage, MediaError>;

    /// Whether a picker may capture this source for a thumbnail without asking the
    /// user anything (not so for the Wayland portal, whose capture opens a dialog).
    fn previewable(&self, _id: &str) -> bool {
        true
    }
}

/// Whether this process runs in a Wayland session, where only the desktop portal
/// may capture the screen.
#[cfg(all(feature = "screen", target_os = "linux"))]
fn use_portal() -> bool {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match var("PARLEY_SCREEN_BACKEND").as_deref() {
        Some("portal") => return true,
        Some("xcap") => return false,
        _ => {}
    }
    var("XDG_SESSION_TYPE").as_deref() == Some("wayland")
        || (var("WAYLAND_DISPLAY").is_some() && var("DISPLAY").is_none())
}

/// The backend for this platform.
///
/// # Errors
/// [`MediaError::NoDevice`] on a platform without screen capture (or without the
/// `screen` feature).
pub fn backend() -> Result<Box<dyn ScreenBackend>, MediaError> {
    #[cfg(all(
        feature = "screen",
        any(target_os = "linux", target_os = "windows", target_os = "macos")
    ))]
    {
        #[cfg(target_os = "linux")]
        if use_portal() {
            return Ok(Box::new(portal_backend::PortalBackend::default()));
        }
        Ok(Box::new(xcap_backend::XcapBackend))
    }
    #[cfg(not(all(
        feature = "screen",
        any(target_os = "linux", target_os = "windows", target_os = "macos")
    )))]
    {
        Err(MediaError::NoDevice { kind: "screen" })
    }
}

/// Everything that can be shared now: monitors, then windows.
///
/// # Errors
/// As [`ScreenBackend::sources`].
pub fn list_screen_sources() -> Result<Vec<ScreenSourceInfo>, MediaError> {
    backend()?.sources()
}

/// Resolves a user's [`ScreenTarget`] against the current sources.
///
/// # Errors
/// [`MediaError::NoDevice`] when nothing matches (the message names the target).
pub fn resolve(
    target: &ScreenTarget,
    sources: &[ScreenSourceInfo],
) -> Result<ScreenSourceInfo, MediaError> {
    let monitors = || sources.iter().filter(|s| s.kind == ScreenKind::Monitor);
    let found = match target {
        ScreenTarget::Primary => monitors().find(|s| s.primary).or_else(|| monitors().next()),
        ScreenTarget::Monitor(m) => match m.parse::<usize>() {
            Ok(i) => monitors().nth(i),
            Err(_) => monitors().find(|s| s.name == *m || s.id == *m),
        },
        ScreenTarget::Window(t) => {
            let t = t.to_lowercase();
            sources
                .iter()
                .find(|s| s.kind == ScreenKind::Window && s.name.to_lowercase().contains(&t))
        }
        ScreenTarget::Id(id) => sources.iter().find(|s| s.id == *id),
    };
    found.cloned().ok_or_else(|| {
        MediaError::Device(format!(
            "nothing to share matches {target} ({} sources found)",
            sources.len()
        ))
    })
}

/// A small picture of a source for a picker, at most `max_width` pixels wide
/// (aspect kept).
///
/// # Errors
/// As [`ScreenBackend::capture`]; [`MediaError::Device`] for a source that cannot
/// be previewed without asking the user (the Wayland portal).
pub fn thumbnail(id: &str, max_width: u32) -> Result<RgbaImage, MediaError> {
    let backend = backend()?;
    if !backend.previewable(id) {
        return Err(MediaError::Device(format!("{id} has no preview")));
    }
    let full = backend.capture(id)?;
    Ok(scale_rgba(&full, max_width))
}

/// Captures a monitor or window as I420 video, self-paced at 5–30 frames/s: the
/// rate rises at once when the picture changes a lot (video, scrolling) and falls
/// back to 5 frames/s after a calm second, so a still slide costs little and a
/// moving one stays smooth. The frame size is fixed at the first capture (rounded
/// down to even); a window that later grows is cropped, one that shrinks is padded
/// with black.
pub struct ScreenSource {
    backend: Box<dyn ScreenBackend>,
    info: ScreenSourceInfo,
    width: u32,
    height: u32,
    pacer: ContentPacer,
    next_due: Instant,
    first: Option<I420Frame>,
}

impl ScreenSource {
    /// Opens `target` and captures one picture to learn its size. On Wayland this
    /// shows the desktop's dialog (unless a restore token spares it) and blocks
    /// until the user answers.
    ///
    /// # Errors
    /// [`MediaError::Device`] when nothing matches or capture fails;
    /// [`MediaError::Invalid`] for a source smaller than 2×2 pixels.
    pub fn open(target: &ScreenTarget) -> Result<Self, MediaError> {
        let backend = backend()?;
        let info = resolve(target, &backend.sources()?)?;
        let image = backend.capture(&info.id)?;
        let (width, height) = (image.width & !1, image.height & !1);
        if width == 0 || height == 0 {
            return Err(MediaError::Invalid(format!(
                "{} is {}x{} pixels",
                info.name, image.width, image.height
            )));
        }
        let mut pacer = ContentPacer::new(MIN_SCREEN_FPS, MAX_SCREEN_FPS);
        pacer.observe(&image);
        let first = rgba_to_i420(&image, width, height, monotonic_us())?;
        Ok(Self {
            backend,
            info,
            width,
            height,
            pacer,
            next_due: Instant::now(),
            first: Some(first),
        })
    }

    /// What is being shared.
    pub fn info(&self) -> &ScreenSourceInfo {
        &self.info
    }

    /// The current capture rate, frames/s.
    pub fn current_fps(&self) -> f64 {
        self.pacer.fps()
    }
}

impl VideoSource for ScreenSource {
    fn width(&self) -> u32 {
        self.width
    }
    fn height(&self) -> u32 {
        self.height
    }
    /// The highest rate ([`MAX_SCREEN_FPS`]); the actual rate varies with content.
    fn fps(&self) -> f64 {
        MAX_SCREEN_FPS
    }
    fn next_frame(&mut self) -> Result<I420Frame, MediaError> {
        if let Some(f) = self.first.take() {
            self.next_due = Instant::now() + self.pacer.interval();
            return Ok(f);
        }
        let now = Instant::now();
        if self.next_due > now {
            std::thread::sleep(self.next_due - now);
        }
        let image = self.backend.capture(&self.info.id)?;
        let captured = monotonic_us();
        self.pacer.observe(&image);
        // Schedule from the due time, not from now: capture time is part of the
        // interval, and a slow capture must not pile up delay.
        self.next_due = (self.next_due + self.pacer.interval()).max(Instant::now());
        rgba_to_i420(&image, self.width, self.height, captured)
    }
}
