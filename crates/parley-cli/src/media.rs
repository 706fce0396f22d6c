//! Building sources and sinks from the command line.

use anyhow::{bail, Context, Result};
use parley_engine::call::{AudioSink, CallOptions, RemoteSinks, TrackKind, VideoSink};

use crate::shared_sink::SharedSinks;
use parley_engine::media::screen::{ScreenSource, ScreenTarget};
use parley_engine::media::{self, AudioSource, VideoSource};
use parley_proto::PeerId;
use std::path::{Path, PathBuf};

use crate::args::CallArgs;

/// Default test pattern when no camera is present.
const DEFAULT_PATTERN: (u32, u32, f64) = (640, 360, 15.0);
/// Camera capture request: 1280x720 at 30 frames/s, or the closest the camera
/// offers.
const CAMERA_MODE: (u32, u32, u32) = media::DEFAULT_CAMERA_MODE;
/// Default tone when no microphone is present, Hz.
const DEFAULT_TONE_HZ: f64 = 440.0;

/// Parses `WxH@FPS`.
pub fn parse_pattern(s: &str) -> Result<(u32, u32, f64)> {
    let (size, fps) = s.split_once('@').unwrap_or((s, "15"));
    let (w, h) = size
        .split_once('x')
        .with_context(|| format!("--test-pattern {s:?}: expected WxH@FPS, e.g. 640x360@15"))?;
    let (w, h, fps): (u32, u32, f64) = (w.parse()?, h.parse()?, fps.parse()?);
    if w < 16 || h < 16 || w % 2 != 0 || h % 2 != 0 || !(1.0..=60.0).contains(&fps) {
        bail!("--test-pattern {s:?}: even sizes of at least 16 and 1–60 frames/s please");
    }
    Ok((w, h, fps))
}

/// The video source the options ask for; `auto` means camera 0 if there is one, else
/// the test pattern.
pub fn video_source(a: &CallArgs, auto: bool) -> Result<Option<Box<dyn VideoSource>>> {
    let source = plain_video_source(a, auto)?;
    Ok(match source {
        Some(s) if a.clock_stamp => Some(Box::new(media::ClockStampSource::new(s))),
        other => other,
    })
}

fn plain_video_source(a: &CallArgs, auto: bool) -> Result<Option<Box<dyn VideoSource>>> {
    if a.no_video {
        return Ok(None);
    }
    if let Some(path) = &a.video_file {
        let src = media::Y4mFileSource::open(path, true)
            .with_context(|| format!("--video-file {}", path.display()))?;
        return Ok(Some(Box::new(src)));
    }
    if let Some(p) = &a.test_pattern {
        let (w, h, fps) = parse_pattern(p)?;
        return Ok(Some(Box::new(media::TestPatternSource::new(w, h, fps)?)));
    }
    if let Some(n) = a.camera {
        let cam = media::CameraSource::open(n, CAMERA_MODE.0, CAMERA_MODE.1, CAMERA_MODE.2)
            .with_context(|| format!("--camera {n}"))?;
        return Ok(Some(Box::new(cam)));
    }
    if auto && !media::list_cameras().is_empty() {
        match media::CameraSource::open(0, CAMERA_MODE.0, CAMERA_MODE.1, CAMERA_MODE.2) {
            Ok(cam) => return Ok(Some(Box::new(cam))),
            Err(e) => eprintln!("note: camera 0 unusable ({e}); sending a test pattern"),
        }
    }
    let (w, h, fps) = DEFAULT_PATTERN;
    Ok(Some(Box::new(media::TestPatternSource::new(w, h, fps)?)))
}

/// The audio source the options ask for; `auto` means the default microphone if one
/// opens, else a tone.
pub fn audio_source(a: &CallArgs, auto: bool) -> Result<Option<Box<dyn AudioSource>>> {
    if a.no_audio {
        return Ok(None);
    }
    if let Some(path) = &a.audio_file {
        let src = media::WavFileSource::open(path, true)
            .with_context(|| format!("--audio-file {}", path.display()))?;
        return Ok(Some(Box::new(src)));
    }
    if a.tone {
        return Ok(Some(Box::new(media::ToneSource::new(DEFAULT_TONE_HZ, 0.3))));
    }
    if let Some(m) = &a.mic {
        let mic = open_mic(Some(m)).with_context(|| format!("--mic {m}"))?;
        return Ok(Some(Box::new(mic)));
    }
    if auto && !media::list_input_devices().is_empty() {
        match open_mic(None) {
            Ok(mic) => return Ok(Some(Box::new(mic))),
            Err(e) => eprintln!("note: microphone unusable ({e}); sending a tone"),
        }
    }
    Ok(Some(Box::new(media::ToneSource::new(DEFAULT_TONE_HZ, 0.3))))
}

/// A device named on the command line: a number in `parley-cli devices` is
/// that device's id; anything else is an id or name as given.
fn device_key(given: &str, list: Vec<media::AudioDeviceInfo>) -> String {
    match given.parse::<usize>() {
        Ok(n) => list
            .into_iter()
            .find(|d| d.index == n)
            .map_or_else(|| given.to_owned(), |d| d.id),
        Err(_) => given.to_owned(),
    }
}

/// Prints a device move (`device: …` on stdout, one line; a closed stdout
/// is no reason to stop the device's thread).
fn say_switch(s: &media::DeviceSwitch) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "device: {s}");
}

/// Opens the microphone `given` names (the default when `None`); its moves
/// between devices are printed.
fn open_mic(given: Option<&str>) -> Result<media::MicSource, media::MediaError> {
    let key = given.map(|g| device_key(g, media::list_input_devices()));
    let mic = media::MicSource::open_device(key.as_deref())?;
    mic.on_switch(say_switch);
    Ok(mic)
}

/// Opens the speaker `given` names (the default when `None`); its moves
/// between devices are printed.
fn open_speaker(given: Option<&str>) -> Result<media::SpeakerSink, media::MediaError> {
    let key = given.map(|g| device_key(g, media::list_output_devices()));
    let out = media::SpeakerSink::open_device(key.as_deref())?;
    out.on_switch(say_switch);
    Ok(out)
}

/// The sinks of a call: remote camera video, remote audio, remote shared screen.
pub type Sinks = (
    Vec<Box<dyn VideoSink>>,
    Vec<Box<dyn AudioSink>>,
    Vec<Box<dyn VideoSink>>,
);

/// Recorders and players for the remote media.
pub fn sinks(a: &CallArgs) -> Result<Sinks> {
    let mut video: Vec<Box<dyn VideoSink>> = Vec::new();
    let mut audio: Vec<Box<dyn AudioSink>> = Vec::new();
    let mut screen: Vec<Box<dyn VideoSink>> = Vec::new();
    if a.clock_stamp {
        video.push(Box::new(crate::latency::LatencySink));
    }
    if let Some(path) = &a.record_screen {
        // The nominal rate in the header; screens arrive at 5–30 frames/s.
        let rec = media::Y4mRecorder::create(path, 15)
            .with_context(|| format!("--record-screen {}", path.display()))?;
        screen.push(Box::new(rec));
    }
    if let Some(path) = a.record_video.as_ref().filter(|p| !is_per_member(p)) {
        let rec = media::Y4mRecorder::create(path, 15)
            .with_context(|| format!("--record-video {}", path.display()))?;
        video.push(Box::new(rec));
    }
    if let Some(path) = a.record_audio.as_ref().filter(|p| !is_per_member(p)) {
        let rec = media::WavRecorder::create(path)
            .with_context(|| format!("--record-audio {}", path.display()))?;
        audio.push(Box::new(rec));
    }
    // With per-member audio each member gets its own stream (MemberSinks).
    let per_member_audio = a.record_audio.as_ref().is_some_and(|p| is_per_member(p));
    if a.play_audio && !per_member_audio {
        let out = open_speaker(a.speaker.as_deref()).context("--play-audio")?;
        audio.push(Box::new(out));
    }
    Ok((video, audio, screen))
}

/// Placeholder in `--record-video` / `--record-audio` for a member's id.
const PEER_PLACEHOLDER: &str = "{peer}";

/// Whether a recording path names one file per member: `{peer}` in it, or a
/// folder (an existing one, or a path ending in `/`).
fn is_per_member(path: &Path) -> bool {
    let text = path.to_string_lossy();
    text.contains(PEER_PLACEHOLDER) || text.ends_with('/') || path.is_dir()
}

/// Where `peer`'s recording goes for a per-member `path`: `{peer}` replaced by
/// its id, or `FOLDER/<id>.<ext>`.
fn member_path(path: &Path, peer: &PeerId, ext: &str) -> PathBuf {
    let text = path.to_string_lossy();
    if text.contains(PEER_PLACEHOLDER) {
        PathBuf::from(text.replace(PEER_PLACEHOLDER, peer.as_str()))
    } else {
        path.join(format!("{peer}.{ext}"))
    }
}

/// Where each member's media goes when `--record-video` or `--record-audio`
/// names one file per member; what is not per member goes to the fixed sinks,
/// for the first member that asks (as without it). With `--play-audio` and
/// per-member audio, every member gets its own speaker stream (the system
/// mixes them).
pub struct MemberSinks {
    video: Option<PathBuf>,
    audio: Option<PathBuf>,
    /// `Some(device)` with --play-audio.
    play: Option<Option<String>>,
    fixed_video: Vec<Box<dyn VideoSink>>,
    fixed_audio: Vec<Box<dyn AudioSink>>,
    screen: Vec<Box<dyn VideoSink>>,
    /// Each member's recordings, one file however often its sinks are asked
    /// for (a call that moves to the SFU asks again).
    video_recs: SharedSinks<PeerId, media::Y4mRecorder>,
    audio_recs: SharedSinks<PeerId, media::WavRecorder>,
}

impl RemoteSinks for MemberSinks {
    fn video(&mut self, peer: &PeerId, track: TrackKind) -> Vec<Box<dyn VideoSink>> {
        if track == TrackKind::Screen {
            return std::mem::take(&mut self.screen);
        }
        let Some(pattern) = &self.video else {
            return std::mem::take(&mut self.fixed_video);
        };
        let path = member_path(pattern, peer, "y4m");
        let rec = self.video_recs.get(peer.clone(), || {
            media::Y4mRecorder::create(&path, 15)
                .map_err(|e| eprintln!("warning: cannot record {}: {e}", path.display()))
                .ok()
        });
        rec.map(|r| Box::new(r) as Box<dyn VideoSink>)
            .into_iter()
            .collect()
    }

    fn audio(&mut self, peer: &PeerId) -> Vec<Box<dyn AudioSink>> {
        let Some(pattern) = &self.audio else {
            return std::mem::take(&mut self.fixed_audio);
        };
        let mut sinks: Vec<Box<dyn AudioSink>> = Vec::new();
        let path = member_path(pattern, peer, "wav");
        let rec = self.audio_recs.get(peer.clone(), || {
            media::WavRecorder::create(&path)
                .map_err(|e| eprintln!("warning: cannot record {}: {e}", path.display()))
                .ok()
        });
        if let Some(rec) = rec {
            sinks.push(Box::new(rec));
        }
        if let Some(device) = &self.play {
            match open_speaker(device.as_deref()) {
                Ok(out) => sinks.push(Box::new(out)),
                Err(e) => eprintln!("warning: cannot play {peer}'s audio: {e}"),
            }
        }
        sinks
    }
}

/// The per-member sinks the recording options ask for, taking the fixed sinks
/// from `opts`; `None` when every recording is a single file.
pub fn member_sinks(a: &CallArgs, opts: &mut CallOptions) -> Option<Box<dyn RemoteSinks>> {
    let per_member = |p: &Option<PathBuf>| p.clone().filter(|p| is_per_member(p));
    let (video, audio) = (per_member(&a.record_video), per_member(&a.record_audio));
    if video.is_none() && audio.is_none() {
        return None;
    }
    Some(Box::new(MemberSinks {
        play: (a.play_audio && audio.is_some()).then(|| a.speaker.clone()),
        video,
        audio,
        fixed_video: std::mem::take(&mut opts.video_sinks),
        fixed_audio: std::mem::take(&mut opts.audio_sinks),
        screen: std::mem::take(&mut opts.screen_sinks),
        video_recs: SharedSinks::default(),
        audio_recs: SharedSinks::default(),
    }))
}

/// After the call: says which Y4M recordings were not written because no frame
/// arrived (the recorder removes its file then, rather than leave an invalid one).
pub fn report_missing_recordings(a: &CallArgs) {
    let video = a.record_video.clone().filter(|p| !is_per_member(p));
    for (path, what) in [(&video, "video"), (&a.record_screen, "shared screen")] {
        if let Some(path) = path {
            if !path.exists() {
                eprintln!("warning: no {what} arrived; {} not written", path.display());
            }
        }
    }
}

/// The screen named by --share-screen, opened (so a missing display fails before
/// the call).
pub fn screen_source(a: &CallArgs) -> Result<Option<Box<dyn VideoSource>>> {
    let Some(target) = &a.share_screen else {
        return Ok(None);
    };
    let target: ScreenTarget = target.parse().context("--share-screen")?;
    let src = ScreenSource::open(&target).with_context(|| format!("--share-screen {target}"))?;
    eprintln!(
        "sharing {} ({}x{})",
        src.info().name,
        src.width(),
        src.height()
    );
    Ok(Some(Box::new(src)))
}
