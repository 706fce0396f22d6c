//! Capture devices and playback for the app's calls, chosen from the settings.
//!
//! `PARLEY_VIDEO_FILE` (a Y4M file) and `PARLEY_AUDIO_FILE` (a WAV file) replace the
//! camera and microphone, looped: that is how tests and demos run on machines
//! without devices. Without a camera the app sends a test pattern; without a
//! microphone it sends no audio. Each fallback is told to the user (a
//! `parley://error` event with code `no_device`, `busy` or `permission_denied`),
//! never silent.

use parley_engine::call::AudioSink;
use parley_engine::client::MediaProvider;
use parley_engine::media::{
    self, AudioSource, CameraSource, MicSource, SpeakerSink, TestPatternSource, VideoSource,
    WavFileSource, Y4mFileSource,
};

use std::sync::{Arc, RwLock};

use crate::settings::Settings;

/// Camera capture request: 1280x720 at 30 frames/s, or the closest the camera
/// offers.
const CAMERA_MODE: (u32, u32, u32) = parley_engine::media::DEFAULT_CAMERA_MODE;
/// Test pattern when there is no camera: 640x360 at 15 frames/s.
const PATTERN_MODE: (u32, u32, f64) = (640, 360, 15.0);

/// Tells the user about a device problem: `(code, message)`, see docs/ui-api.md.
pub type DeviceNotice = Arc<dyn Fn(&'static str, String) + Send + Sync>;

/// Media for calls, per the settings at the time a device is opened (a call
/// starts, or the user switches devices in a call).
pub struct AppMedia {
    /// The current settings (shared with the app state).
    pub settings: Arc<RwLock<Settings>>,
    /// Where device problems go (the UI's error toasts).
    pub notice: DeviceNotice,
}

/// The error code for a device that exists but cannot be opened.
fn open_error_code(e: &dyn std::fmt::Display) -> &'static str {
    let text = e.to_string().to_ascii_lowercase();
    if text.contains("permission") || text.contains("access denied") || text.contains("eacces") {
        "permission_denied"
    } else if text.contains("busy") || text.contains("in use") || text.contains("ebusy") {
        "busy"
    } else {
        "no_device"
    }
}

impl AppMedia {
    /// Tells the user that a microphone or speaker moved mid-call (code
    /// `device_changed`).
    fn switch_notice(&self) -> impl Fn(&media::DeviceSwitch) + Send + 'static {
        let notice = self.notice.clone();
        move |s| notice("device_changed", s.to_string())
    }

    fn choice(&self, pick: impl Fn(&Settings) -> &Option<String>) -> Option<String> {
        let settings = self.settings.read().unwrap_or_else(|p| p.into_inner());
        pick(&settings).clone()
    }
}

/// Opens the audio device the settings chose: by its id when listed; by the
/// name saved when it is not (the default stands in until it appears); the
/// default when none is chosen.
fn open_audio<T>(
    chosen: Option<&str>,
    id: Option<&str>,
    preferring: impl Fn(&str) -> Result<T, media::MediaError>,
    device: impl Fn(Option<&str>) -> Result<T, media::MediaError>,
) -> Result<T, media::MediaError> {
    match (id, chosen) {
        (None, Some(name)) => preferring(name),
        (id, _) => device(id),
    }
}

/// The id of the audio device the settings name (by id or display name);
/// `None` (the default device) when they name none listed.
fn chosen_id<'a>(list: &'a [media::AudioDeviceInfo], name: &Option<String>) -> Option<&'a str> {
    let name = name.as_deref()?;
    let found = list.iter().find(|d| d.id == name || d.name == name);
    found.map(|d| d.id.as_str())
}

/// The camera name that picks the built-in test pattern (always offered, so a
/// machine without a camera can still send a picture on purpose).
pub const TEST_PATTERN_CAMERA: &str = "Test pattern";

/// `PARLEY_VIDEO_FILE`, if set: the file-backed camera.
fn video_file() -> Option<std::path::PathBuf> {
    std::env::var_os("PARLEY_VIDEO_FILE").map(Into::into)
}

/// How the file-backed camera is listed: `<file name> (file)`.
fn file_camera_name(path: &std::path::Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    format!("{name} (file)")
}

/// Cameras to offer, by name: the file-backed one (when `PARLEY_VIDEO_FILE` is
/// set), the cameras present, and the test pattern.
pub fn camera_names() -> Vec<String> {
    let mut names: Vec<String> = video_file().iter().map(|p| file_camera_name(p)).collect();
    names.extend(media::list_cameras().into_iter().map(|c| c.name));
    names.push(TEST_PATTERN_CAMERA.to_owned());
    names
}

impl MediaProvider for AppMedia {
    fn video_source(&self) -> parley_engine::Result<Option<Box<dyn VideoSource>>> {
        let choice = self.choice(|s| &s.camera);
        let (w, h, fps) = PATTERN_MODE;
        let pattern = || -> parley_engine::Result<Option<Box<dyn VideoSource>>> {
            Ok(Some(Box::new(TestPatternSource::new(w, h, fps)?)))
        };
        if choice.as_deref() == Some(TEST_PATTERN_CAMERA) {
            return pattern();
        }
        let cams = media::list_cameras();
        let file = video_file();
        let chosen_file = file.as_deref().map(file_camera_name);
        let chosen = choice
            .as_deref()
            .filter(|c| Some(*c) != chosen_file.as_deref());
        let present = chosen.and_then(|c| cams.iter().find(|cam| cam.name == c));
        if let (Some(name), None) = (chosen, present) {
            let instead = match (&chosen_file, cams.first()) {
                (Some(f), _) => f.clone(),
                (None, Some(cam)) => cam.name.clone(),
                (None, None) => TEST_PATTERN_CAMERA.to_owned(),
            };
            (self.notice)(
                "no_device",
                format!("Camera “{name}” is not connected; using “{instead}” instead."),
            );
        }
        if let (Some(path), None) = (&file, present) {
            return Ok(Some(Box::new(Y4mFileSource::open(path, true)?)));
        }
        let Some(cam) = present.or(cams.first()) else {
            if chosen.is_none() {
                (self.notice)(
                    "no_device",
                    "No camera found; sending a test pattern.".to_owned(),
                );
            }
            return pattern();
        };
        let (cw, ch, cfps) = CAMERA_MODE;
        match CameraSource::open(cam.index, cw, ch, cfps) {
            Ok(source) => Ok(Some(Box::new(source))),
            Err(e) => {
                tracing::warn!("camera {}: {e}; sending a test pattern", cam.index);
                (self.notice)(
                    open_error_code(&e),
                    format!(
                        "Camera “{}” cannot be opened ({e}); sending a test pattern instead.",
                        cam.name
                    ),
                );
                pattern()
            }
        }
    }

    fn audio_source(&self) -> parley_engine::Result<Option<Box<dyn AudioSource>>> {
        if let Ok(path) = std::env::var("PARLEY_AUDIO_FILE") {
            return Ok(Some(Box::new(WavFileSource::open(path, true)?)));
        }
        let mics = media::list_input_devices();
        if mics.is_empty() {
            return Ok(None);
        }
        let chosen = self.choice(|s| &s.microphone);
        let id = chosen_id(&mics, &chosen);
        match open_audio(
            chosen.as_deref(),
            id,
            MicSource::open_preferring,
            MicSource::open_device,
        ) {
            Ok(mic) => {
                mic.on_switch(self.switch_notice());
                Ok(Some(Box::new(mic)))
            }
            Err(e) => {
                tracing::warn!("microphone: {e}; sending no audio");
                (self.notice)(
                    open_error_code(&e),
                    format!("The microphone cannot be opened ({e}); the call goes on without sound from you."),
                );
                Ok(None)
            }
        }
    }

    fn audio_processing(&self) -> media::ProcessingConfig {
        let s = self.settings.read().unwrap_or_else(|p| p.into_inner());
        media::ProcessingConfig {
            echo_cancellation: s.echo_cancellation,
            noise_suppression: s.noise_suppression,
            gain_control: s.gain_control,
        }
    }

    fn audio_sinks(&self) -> Vec<Box<dyn AudioSink>> {
        let outs = media::list_output_devices();
        if outs.is_empty() {
            return Vec::new();
        }
        let chosen = self.choice(|s| &s.speaker);
        let id = chosen_id(&outs, &chosen);
        match open_audio(
            chosen.as_deref(),
            id,
            SpeakerSink::open_preferring,
            SpeakerSink::open_device,
        ) {
            Ok(s) => {
                s.on_switch(self.switch_notice());
                vec![Box::new(s)]
            }
            Err(e) => {
                tracing::warn!("speaker: {e}; remote audio is not played");
                (self.notice)(
                    open_error_code(&e),
                    format!("The speakers cannot be opened ({e}); you will not hear the call."),
                );
                Vec::new()
            }
        }
    }
}
