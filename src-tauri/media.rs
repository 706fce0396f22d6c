//! Capture devices and playback for the app's calls, chosen from the settings.
//!
//! `PARLEY_VIDEO_FILE` (a Y4M file) and `PARLEY_AUDIO_FILE` (a WAV file) replace the
//! camera and microphone, looped: that is how tests and demos run on machines
//! without devices. Without a camera the app sends a test pattern; without a
//! microphone it sends no audio.

use parley_engine::call::AudioSink;
use parley_engine::client::MediaProvider;
use parley_engine::media::{
    self, AudioSource, CameraSource, MicSource, SpeakerSink, TestPatternSource, VideoSource,
    WavFileSource, Y4mFileSource,
};

use crate::settings::Settings;

/// Camera capture request: 640x480 at 30 frames/s.
const CAMERA_MODE: (u32, u32, u32) = (640, 480, 30);
/// Test pattern when there is no camera: 640x360 at 15 frames/s.
const PATTERN_MODE: (u32, u32, f64) = (640, 360, 15.0);

/// Media for calls, per the settings at the time the call starts.
pub struct AppMedia {
    /// The settings snapshot.
    pub settings: Settings,
}

fn index_of<T>(list: &[T], name: &Option<String>, name_of: impl Fn(&T) -> &str) -> Option<usize> {
    let name = name.as_deref()?;
    list.iter().position(|d| name_of(d) == name)
}

impl MediaProvider for AppMedia {
    fn video_source(&self) -> parley_engine::Result<Option<Box<dyn VideoSource>>> {
        if let Ok(path) = std::env::var("PARLEY_VIDEO_FILE") {
            return Ok(Some(Box::new(Y4mFileSource::open(path, true)?)));
        }
        let cams = media::list_cameras();
        if !cams.is_empty() {
            let idx = index_of(&cams, &self.settings.camera, |c| &c.name)
                .map(|i| cams[i].index)
                .unwrap_or(cams[0].index);
            let (w, h, fps) = CAMERA_MODE;
            match CameraSource::open(idx, w, h, fps) {
                Ok(cam) => return Ok(Some(Box::new(cam))),
                Err(e) => tracing::warn!("camera {idx}: {e}; sending a test pattern"),
            }
        }
        let (w, h, fps) = PATTERN_MODE;
        Ok(Some(Box::new(TestPatternSource::new(w, h, fps)?)))
    }

    fn audio_source(&self) -> parley_engine::Result<Option<Box<dyn AudioSource>>> {
        if let Ok(path) = std::env::var("PARLEY_AUDIO_FILE") {
            return Ok(Some(Box::new(WavFileSource::open(path, true)?)));
        }
        let mics = media::list_input_devices();
        if mics.is_empty() {
            return Ok(None);
        }
        let idx = index_of(&mics, &self.settings.microphone, |d| &d.name).map(|i| mics[i].index);
        match MicSource::open(idx) {
            Ok(mic) => Ok(Some(Box::new(mic))),
            Err(e) => {
                tracing::warn!("microphone: {e}; sending no audio");
                Ok(None)
            }
        }
    }

    fn audio_sinks(&self) -> Vec<Box<dyn AudioSink>> {
        let outs = media::list_output_devices();
        if outs.is_empty() {
            return Vec::new();
        }
        let idx = index_of(&outs, &self.settings.speaker, |d| &d.name).map(|i| outs[i].index);
        match SpeakerSink::open(idx) {
            Ok(s) => vec![Box::new(s)],
            Err(e) => {
                tracing::warn!("speaker: {e}; remote audio is not played");
                Vec::new()
            }
        }
    }
}
