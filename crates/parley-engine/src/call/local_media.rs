//! What this side sends: the camera, the microphone and the shared screen, each
//! captured and encoded once and written to the tracks of every connected peer
//! link ([`TrackSet`]), and the mute state. Capture starts when the first link
//! connects ([`LocalMedia::attach`]); links join and leave while it runs, and
//! sources can be swapped mid-call without renegotiation (each sender has its
//! own stop switch, see `devices`).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use parley_proto::PeerId;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::data::{Internal, Reporter};
use super::devices;
use super::fanout::{forward_keyframe_requests, TrackSet};
use super::media::{self, Counters, Mute, VideoRole};
use super::CallOptions;
use crate::media::{AudioSource, VideoSource};
use crate::rtc::LocalTrack;

/// The tracks one peer link sends on: the same three, in the same order, on
/// every link (docs/protocol.md §8.4), so the screen can start and stop mid-call
/// without renegotiation. A track without a source sends nothing.
#[derive(Clone)]
pub(super) struct LinkTracks {
    /// Video, track id `camera`.
    pub(super) camera: Arc<LocalTrack>,
    /// Audio, track id `microphone`.
    pub(super) microphone: Arc<LocalTrack>,
    /// Video, track id `screen`.
    pub(super) screen: Arc<LocalTrack>,
}

/// The screen being shared: its number (to ignore late news of an earlier share)
/// and the switch that stops its pipeline.
struct SharedScreen {
    generation: u64,
    stop: watch::Sender<bool>,
}

/// A link we send to: its tracks, and the switch that stops passing its
/// keyframe requests on.
struct Attached {
    tracks: LinkTracks,
    stop: watch::Sender<bool>,
}

/// The call's outgoing media. See the module doc.
pub(super) struct LocalMedia {
    /// Our mute state, read by the senders (muted audio sends silence, a muted
    /// camera black frames).
    pub(super) mute: Arc<Mute>,
    /// Frame and packet counters shared with the receivers (for the report).
    pub(super) counters: Arc<Counters>,
    /// The call's stop switch: every pipeline ends with the call.
    call_stop: watch::Receiver<bool>,
    /// Echo cancellation, noise suppression and gain control for a live
    /// microphone (`None`: all off).
    echo: Option<crate::media::EchoPath>,
    report: Reporter,
    camera_tracks: TrackSet,
    microphone_tracks: TrackSet,
    screen_tracks: TrackSet,
    /// The connected links we send to, by member.
    links: BTreeMap<PeerId, Attached>,
    /// Our publisher's tracks in the SFU, when the call's media goes there.
    sfu: Option<Attached>,
    camera: Option<devices::Running>,
    microphone: Option<devices::Running>,
    screen: Option<SharedScreen>,
    screen_generation: u64,
    tasks: Vec<JoinHandle<()>>,
}

impl LocalMedia {
    /// Nothing captured yet; pipelines stop with `call_stop`, and report to
    /// `report` (a shared screen that ended by itself); a live microphone
    /// goes through `echo`.
    pub(super) fn new(
        counters: Arc<Counters>,
        echo: Option<crate::media::EchoPath>,
        call_stop: watch::Receiver<bool>,
        report: Reporter,
    ) -> LocalMedia {
        LocalMedia {
            mute: Arc::new(Mute::default()),
            counters,
            echo,
            call_stop,
            report,
            camera_tracks: TrackSet::new(),
            microphone_tracks: TrackSet::new(),
            screen_tracks: TrackSet::new(),
            links: BTreeMap::new(),
            sfu: None,
            camera: None,
            microphone: None,
            screen: None,
            screen_generation: 0,
            tasks: Vec::new(),
        }
    }

    /// Whether any link is attached (capture has started).
    fn sending(&self) -> bool {
        !self.links.is_empty() || self.sfu.is_some()
    }

    /// Starts sending to `peer` on `tracks` (its link connected). The first link
    /// starts the camera and microphone in `opts`; a later one joins the running
    /// senders and gets a keyframe at once. A screen source in `opts` is left
    /// there for the caller to start with [`LocalMedia::start_screen`] (it
    /// announces the share).
    pub(super) fn attach(&mut self, peer: PeerId, tracks: LinkTracks, opts: &mut CallOptions) {
        if self.links.contains_key(&peer) {
            return;
        }
        let attached = self.add_tracks(tracks);
        self.links.insert(peer, attached);
        self.start_sources(opts);
    }

    /// Starts sending to the SFU on our publisher's `tracks`, as to a link
    /// ([`LocalMedia::attach`]); the call's media then goes only there once the
    /// links are [`detach`](LocalMedia::detach)ed.
    pub(super) fn attach_sfu(&mut self, tracks: LinkTracks, opts: &mut CallOptions) {
        if self.sfu.is_some() {
            return;
        }
        self.sfu = Some(self.add_tracks(tracks));
        self.start_sources(opts);
    }

    /// Stops sending to the SFU (it failed; the links take the media again).
    pub(super) fn detach_sfu(&mut self) {
        if let Some(sfu) = self.sfu.take() {
            self.remove_tracks(sfu);
        }
    }

    /// Adds `tracks` to the running senders, with their keyframe requests
    /// passed on to the encoders.
    fn add_tracks(&mut self, tracks: LinkTracks) -> Attached {
        let (stop, stop_rx) = devices::linked_stop(&self.call_stop, &mut self.tasks);
        for (track, set) in [
            (&tracks.camera, &self.camera_tracks),
            (&tracks.screen, &self.screen_tracks),
        ] {
            let forward =
                forward_keyframe_requests(Arc::clone(track), set.clone(), stop_rx.clone());
            self.tasks.push(forward);
        }
        self.camera_tracks.add(Arc::clone(&tracks.camera));
        self.microphone_tracks.add(Arc::clone(&tracks.microphone));
        self.screen_tracks.add(Arc::clone(&tracks.screen));
        Attached { tracks, stop }
    }

    /// Takes `attached`'s tracks out of the senders.
    fn remove_tracks(&mut self, attached: Attached) {
        self.camera_tracks.remove(&attached.tracks.camera);
        self.microphone_tracks.remove(&attached.tracks.microphone);
        self.screen_tracks.remove(&attached.tracks.screen);
        let _ = attached.stop.send(true);
    }

    /// Starts the camera and microphone in `opts`, if they are still there.
    fn start_sources(&mut self, opts: &mut CallOptions) {
        if let Some(source) = opts.video_source.take() {
            self.start_camera(source, opts.video_bitrate_bps);
        }
        if let Some(source) = opts.audio_source.take() {
            self.start_microphone(source, opts.audio);
        }
    }

    /// Stops sending to `peer` (it left); the senders go on for the others.
    pub(super) fn detach(&mut self, peer: &PeerId) {
        if let Some(link) = self.links.remove(peer) {
            self.remove_tracks(link);
        }
    }

    fn start_camera(&mut self, source: Box<dyn VideoSource>, bitrate_bps: Option<u32>) {
        // Never two encoders on one track set (a camera switched while no link
        // was attached, then a link attaching).
        if let Some(old) = self.camera.take() {
            let _ = old.stop.send(true);
        }
        let (stop, stop_rx) = devices::linked_stop(&self.call_stop, &mut self.tasks);
        let tasks = media::spawn_video_sender(
            VideoRole::Camera,
            self.camera_tracks.clone(),
            source,
            bitrate_bps,
            stop_rx,
            Arc::clone(&self.counters),
            Arc::clone(&self.mute),
        );
        self.camera = Some(devices::Running { stop, tasks });
    }

    fn start_microphone(&mut self, source: Box<dyn AudioSource>, audio: super::AudioOptions) {
        if let Some(old) = self.microphone.take() {
            let _ = old.stop.send(true);
        }
        let (stop, stop_rx) = devices::linked_stop(&self.call_stop, &mut self.tasks);
        let tasks = media::spawn_audio_sender(
            self.microphone_tracks.clone(),
            source,
            media::AudioEncoding {
                bitrate_bps: super::DEFAULT_AUDIO_BITRATE_BPS,
                options: audio,
                echo: self.echo.clone(),
            },
            stop_rx,
            Arc::clone(&self.counters),
            Arc::clone(&self.mute),
        );
        self.microphone = Some(devices::Running { stop, tasks });
    }

    /// Replaces the camera (before the connection: the one the call will start).
    pub(super) async fn switch_camera(
        &mut self,
        source: Box<dyn VideoSource>,
        opts: &mut CallOptions,
    ) {
        if !self.sending() {
            opts.video_source = Some(source);
            return;
        }
        if let Some(old) = self.camera.take() {
            old.stop().await;
        }
        tracing::info!(
            "camera switched ({}x{} at {} frames/s)",
            source.width(),
            source.height(),
            source.fps()
        );
        self.start_camera(source, opts.video_bitrate_bps);
    }

    /// Replaces the microphone (before the connection: the one the call will start).
    pub(super) async fn switch_microphone(
        &mut self,
        source: Box<dyn AudioSource>,
        opts: &mut CallOptions,
    ) {
        if !self.sending() {
            opts.audio_source = Some(source);
            return;
        }
        if let Some(old) = self.microphone.take() {
            old.stop().await;
        }
        tracing::info!("microphone switched");
        self.start_microphone(source, opts.audio);
    }

    /// Mutes or unmutes the microphone (`audio`) and the camera (`video`).
    pub(super) fn set_muted(&self, audio: bool, video: bool) {
        self.mute.audio.store(audio, Ordering::Relaxed);
        self.mute.video.store(video, Ordering::Relaxed);
    }

    /// Starts sending `source` on the screen track (stopping an earlier share).
    /// Before any link is connected the source is handed back: the caller keeps
    /// it for [`LocalMedia::attach`] time.
    pub(super) fn start_screen(
        &mut self,
        source: Box<dyn VideoSource>,
        bitrate_bps: u32,
    ) -> Result<(), Box<dyn VideoSource>> {
        if !self.sending() {
            return Err(source);
        }
        self.stop_screen();
        self.screen_generation += 1;
        let generation = self.screen_generation;
        // The share also ends with the call.
        let (stop, stop_rx) = devices::linked_stop(&self.call_stop, &mut self.tasks);
        let mut handles = media::spawn_video_sender(
            VideoRole::Screen,
            self.screen_tracks.clone(),
            source,
            Some(bitrate_bps),
            stop_rx,
            Arc::clone(&self.counters),
            Arc::clone(&self.mute),
        );
        let encoder = handles.remove(0);
        let internal = self.report.clone();
        self.tasks.push(tokio::spawn(async move {
            let _ = encoder.await;
            let _ = internal.send(Internal::ScreenSourceEnded(generation)).await;
        }));
        self.tasks.extend(handles);
        self.screen = Some(SharedScreen { generation, stop });
        self.set_screen_active(true);
        Ok(())
    }

    /// Stops the screen pipeline; whether a screen was being shared.
    pub(super) fn stop_screen(&mut self) -> bool {
        self.set_screen_active(false);
        match self.screen.take() {
            Some(share) => {
                let _ = share.stop.send(true);
                true
            }
            None => false,
        }
    }

    /// While `on`, the video encoders keep at least the targets they have now:
    /// a file we send moves on the data channel, whose congestion control
    /// reacts only to loss and fills the bottleneck's queue; the estimate,
    /// which backs off from that queue, would hand the file the whole link
    /// and leave the call a frame a second. The file's data channel backs off
    /// instead.
    pub(super) fn protect_video(&self, on: bool) {
        let budget = &self.counters.budget;
        let keep = |now: &std::sync::atomic::AtomicU32, floor: &std::sync::atomic::AtomicU32| {
            let value = if on {
                match floor.load(Ordering::Relaxed) {
                    0 => now.load(Ordering::Relaxed),
                    kept => kept,
                }
            } else {
                0
            };
            floor.store(value, Ordering::Relaxed);
        };
        keep(&budget.camera_bps, &budget.camera_floor_bps);
        keep(&budget.screen_bps, &budget.screen_floor_bps);
    }

    /// Tells the camera's encoder whether a screen shares the link (it then
    /// takes the smaller part of the bitrate).
    fn set_screen_active(&self, active: bool) {
        let budget = &self.counters.budget;
        budget.screen_active.store(active, Ordering::Relaxed);
        if !active {
            budget.screen_bps.store(0, Ordering::Relaxed);
        }
    }

    /// Whether share number `generation` is the one running now.
    pub(super) fn is_current_screen(&self, generation: u64) -> bool {
        self.screen.as_ref().map(|s| s.generation) == Some(generation)
    }

    /// Drops the tracks and hands over the tasks the call's end waits for (the
    /// shared screen's and the stop links; the senders stop with the call's stop
    /// switch and are not waited for).
    pub(super) fn into_tasks(self) -> Vec<JoinHandle<()>> {
        self.tasks
    }
}
