//! The call's media pipelines: capture → encode → track, and track → decode → sinks.
//!
//! Capture and codecs run on dedicated threads (they block and burn CPU); the RTP side
//! runs on tokio. Queues between them are bounded and small: when the network or a
//! sink lags, frames are dropped (and a keyframe requested) rather than buffered.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::bitrate::{self, SendBudget};
use super::fanout::TrackSet;
use crate::media::{
    half_size, opus_has_fec, scale, AudioSource, ContentHint, H264Decoder, H264Encoder, I420Frame,
    JitterBuffer, JitterOut, OpusDecoder, OpusEncoder, VideoSource,
};
use crate::media::{EchoPath, FarEnd, MediaError};
use crate::rtc::RemoteTrack;
use crate::Result;

/// Encoded frames waiting between the encoder thread and the RTP writer, frames.
const ENCODED_QUEUE: usize = 4;
/// Encoded frames waiting between the RTP reader and the decoder thread, frames.
const DECODE_QUEUE: usize = 8;
/// A gap between two decoded frames at least this long counts as a freeze, ms
/// (issue 15's measure; W3C webrtc-stats `freezeCount` uses a relative one).
pub(super) const FREEZE_MS: u64 = 500;
/// Opus frame length, ms (RFC 7587 allows 2.5–120; 20 is the WebRTC norm).
const OPUS_FRAME_MS: u64 = 20;

/// Receives decoded remote video frames (I420).
pub trait VideoSink: Send {
    /// Called for every decoded frame, on the decoder thread; keep it quick.
    fn frame(&mut self, frame: &I420Frame) -> Result<()>;
    /// Called once when the call ends (flush files here).
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Receives decoded remote audio: mono f32 samples at 48 kHz, 20 ms (960) per call.
pub trait AudioSink: Send {
    /// Called every 20 ms of playout, loss-concealed where packets were lost.
    fn samples(&mut self, samples: &[f32]) -> Result<()>;
    /// Called once when the call ends.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
    /// For a sink heard in the room (a speaker), whose sound the microphone
    /// may pick up again: hands `far` every sample as it is played, and
    /// returns true. Recorders keep the default: false (`far` is dropped).
    fn tap_played(&mut self, far: FarEnd) -> bool {
        drop(far);
        false
    }
}

impl VideoSink for crate::media::Y4mRecorder {
    fn frame(&mut self, frame: &I420Frame) -> Result<()> {
        Ok(self.write(frame)?)
    }
    fn finish(&mut self) -> Result<()> {
        Ok(crate::media::Y4mRecorder::finish(self)?)
    }
}

impl AudioSink for crate::media::WavRecorder {
    fn samples(&mut self, samples: &[f32]) -> Result<()> {
        Ok(self.write(samples)?)
    }
    fn finish(&mut self) -> Result<()> {
        Ok(crate::media::WavRecorder::finish(self)?)
    }
}

impl AudioSink for crate::media::SpeakerSink {
    fn samples(&mut self, samples: &[f32]) -> Result<()> {
        Ok(self.push(samples)?)
    }
    fn tap_played(&mut self, far: FarEnd) -> bool {
        match crate::media::SpeakerSink::tap_played(self, far) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("speaker: {e}; echo cancellation does not hear it");
                false
            }
        }
    }
}

/// Counters the pipelines update and the report reads.
#[derive(Default)]
pub(super) struct Counters {
    pub frames_sent: AtomicU64,
    pub frames_received: AtomicU64,
    pub audio_sent: AtomicU64,
    pub audio_received: AtomicU64,
    /// Audio packets that never arrived (recovered or concealed).
    pub audio_lost: AtomicU64,
    /// Lost audio packets recovered from the next one's in-band FEC.
    pub audio_recovered: AtomicU64,
    /// Lost audio packets concealed (Opus PLC: 20 ms each).
    pub audio_concealed: AtomicU64,
    /// The audio jitter buffer's target delay now, ms.
    pub jitter_delay_ms: AtomicU64,
    /// The worst loss the members report for our audio (RTCP receiver
    /// reports, RFC 3550 §6.4.1), percent plus one: 0 until one reports. The
    /// Opus encoder's FEC follows it.
    pub remote_audio_loss: AtomicU32,
    /// Size of the last decoded remote frame, `width << 32 | height`.
    pub remote_size: AtomicU64,
    /// Screen frames encoded and sent.
    pub screen_sent: AtomicU64,
    /// Remote screen frames decoded.
    pub screen_received: AtomicU64,
    /// Size of the last decoded remote screen frame, `width << 32 | height`.
    pub remote_screen_size: AtomicU64,
    /// Longest time between two decoded remote camera frames, ms (a freeze, or
    /// an outage of the link).
    pub max_frame_gap_ms: AtomicU64,
    /// Longest gap between two decoded remote camera frames since the last live
    /// statistics sample took it, ms.
    pub recent_frame_gap_ms: AtomicU64,
    /// Remote camera freezes so far: gaps of at least [`FREEZE_MS`] between
    /// two decoded frames.
    pub freezes: AtomicU64,
    /// The video encoders' targets from the congestion controller's estimate.
    pub budget: SendBudget,
}

/// Which of the call's two video tracks a pipeline serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VideoRole {
    /// The camera track (track id `camera`).
    Camera,
    /// The shared screen (track id `screen`).
    Screen,
}

impl Counters {
    fn video_sent(&self, role: VideoRole) -> &AtomicU64 {
        match role {
            VideoRole::Camera => &self.frames_sent,
            VideoRole::Screen => &self.screen_sent,
        }
    }
    fn video_received(&self, role: VideoRole) -> (&AtomicU64, &AtomicU64) {
        match role {
            VideoRole::Camera => (&self.frames_received, &self.remote_size),
            VideoRole::Screen => (&self.screen_received, &self.remote_screen_size),
        }
    }
}

/// What the local user has muted; the sender threads read it for every frame.
#[derive(Default)]
pub(super) struct Mute {
    pub audio: AtomicBool,
    pub video: AtomicBool,
}

/// Capture and encode video once and send it on every track of `tracks` until
/// `stop` or the source ends; a frame counts as sent once, however many links it
/// went to. The first handle is the capture/encode thread: it ends when the
/// source does.
///
/// The encoder follows the lowest congestion-control estimate among the tracks'
/// connections (see `bitrate`), never above `bitrate_bps` (`None`: the
/// camera's default for its size, [`bitrate::default_camera_bitrate_bps`],
/// read off the source on the encoder's thread, since a source may block
/// until it knows its size); a camera on a slow link sends every other frame.
pub(super) fn spawn_video_sender(
    role: VideoRole,
    tracks: TrackSet,
    mut source: Box<dyn VideoSource>,
    bitrate_bps: Option<u32>,
    stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
    mute: Arc<Mute>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let video_mute = Arc::clone(&mute);
    let (tx, mut rx) = mpsc::channel::<(Bytes, Duration)>(ENCODED_QUEUE);
    let kf = tracks.clone();
    let thread_stop = stop;
    let counters_enc = Arc::clone(&counters);
    let encoder_thread = tokio::task::spawn_blocking(move || {
        let fps = source.fps().max(1.0);
        let frame_dur = Duration::from_secs_f64(1.0 / fps);
        let content = match role {
            VideoRole::Camera => ContentHint::Camera,
            VideoRole::Screen => ContentHint::Screen,
        };
        let (w, h) = (source.width(), source.height());
        let bitrate_bps =
            bitrate_bps.unwrap_or_else(|| bitrate::default_camera_bitrate_bps(w, h, fps));
        let mut encoder = match H264Encoder::with_content(w, h, fps, bitrate_bps, content) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("video encoder: {e}");
                return;
            }
        };
        let mut last_capture_us = None;
        // Every other frame is left out at low bitrates; their time goes to the next.
        let (mut halved, mut skip_next, mut carried) = (false, false, Duration::ZERO);
        // Lower still, the camera is sent at half size (a new encoder: the
        // keyframe it starts with carries the new size).
        let mut small = false;
        while !*thread_stop.borrow() {
            let mut frame = match source.next_frame() {
                Ok(f) => f,
                Err(e) => {
                    tracing::info!("{role:?} source ended: {e}");
                    break;
                }
            };
            // Variable-rate sources (screens) advance RTP time by the real gap.
            let dur = match last_capture_us.replace(frame.capture_us) {
                Some(prev) if frame.capture_us > prev => {
                    Duration::from_micros(frame.capture_us - prev).min(Duration::from_secs(1))
                }
                _ => frame_dur,
            };
            let target = bitrate::video_target(
                kf.bandwidth_estimate_bps(),
                role,
                counters_enc.budget.screen_active.load(Ordering::Relaxed),
                bitrate_bps,
            )
            .max(counters_enc.budget.floor(role));
            encoder.set_bitrate(target);
            counters_enc.budget.record(role, target);
            if role == VideoRole::Camera {
                let was = halved;
                halved = bitrate::halve_frame_rate(target, fps, halved);
                if halved != was {
                    // Rate control spreads the bitrate over the frames it gets.
                    encoder.set_frame_rate(if halved { fps / 2.0 } else { fps });
                }
                skip_next = halved && !skip_next;
                if skip_next {
                    carried += dur;
                    continue;
                }
                let sent_fps = if halved { fps / 2.0 } else { fps };
                let want = bitrate::halve_size(target, bitrate_bps, (w, h), (fps, halved), small);
                if want != small {
                    let (ew, eh) = if want { half_size(w, h) } else { (w, h) };
                    match H264Encoder::with_content(ew, eh, sent_fps, target, content) {
                        Ok(e) => {
                            tracing::info!(width = ew, height = eh, target, "camera size");
                            (encoder, small) = (e, want);
                        }
                        // Kept at the old size (its encoder goes on).
                        Err(e) => tracing::warn!("video encoder at {ew}x{eh}: {e}"),
                    }
                }
                if small {
                    let (ew, eh) = half_size(w, h);
                    frame = scale(&frame, ew, eh);
                }
            }
            let dur = dur + std::mem::take(&mut carried);
            if role == VideoRole::Camera && video_mute.video.load(Ordering::Relaxed) {
                // Camera off: keep the stream alive with black frames (cheap to encode).
                frame = I420Frame::new_black(frame.width, frame.height);
            }
            if kf.take_keyframe_request() {
                encoder.request_keyframe();
            }
            match encoder.encode(&frame) {
                // Rate control skipped the frame: its time goes to the next.
                Ok(au) if au.is_empty() => carried += dur,
                Ok(au) => {
                    if tx.blocking_send((Bytes::from(au), dur)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!("encode: {e}");
                    carried += dur;
                }
            }
        }
        // Not sending any more: the stats say so.
        counters_enc.budget.record(role, 0);
    });
    let writer = tokio::spawn(async move {
        while let Some((au, dur)) = rx.recv().await {
            if tracks.write(au, dur).await {
                counters.video_sent(role).fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    vec![encoder_thread, writer]
}

/// How the microphone's audio is encoded.
pub(super) struct AudioEncoding {
    /// Opus target bitrate, bits/s.
    pub bitrate_bps: u32,
    /// FEC and DTX.
    pub options: super::AudioOptions,
    /// Echo cancellation and the rest, for a source that hears the room.
    pub echo: Option<EchoPath>,
}

/// Capture and encode audio once and send it on every track of `tracks` until
/// `stop` or the source ends.
pub(super) fn spawn_audio_sender(
    tracks: TrackSet,
    mut source: Box<dyn AudioSource>,
    encoding: AudioEncoding,
    stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
    mute: Arc<Mute>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let AudioEncoding {
        bitrate_bps,
        options,
        echo,
    } = encoding;
    // Only a live microphone hears the room.
    let echo = echo.filter(|_| source.captures_room());
    let (tx, mut rx) = mpsc::channel::<Bytes>(ENCODED_QUEUE * 4);
    let loss_counters = Arc::clone(&counters);
    let encoder_thread = tokio::task::spawn_blocking(move || {
        let mut encoder = match OpusEncoder::new(bitrate_bps)
            .and_then(|mut e| e.set_fec(options.fec).map(|()| e))
            .and_then(|mut e| e.set_dtx(options.dtx).map(|()| e))
        {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("audio encoder: {e}");
                return;
            }
        };
        // Until a receiver reports, the 5 % the encoder starts with.
        let mut loss = 0;
        let mut stalls = 0u64;
        while !*stop.borrow() {
            let reported = loss_counters.remote_audio_loss.load(Ordering::Relaxed);
            if options.fec && reported != 0 && reported != loss {
                loss = reported;
                if let Err(e) = encoder.set_packet_loss_pct((loss - 1).min(100) as u8) {
                    tracing::warn!("{e}");
                }
            }
            let asked = Instant::now();
            let mut pcm = match source.next_frame() {
                Ok(f) => {
                    stalls = 0;
                    f
                }
                // A device that stalls (a sound server still starting, a
                // device busy for a moment) is waited for: the call sends
                // silence for the time it took, rather than no audio for
                // good. A device gone fails at once: 20 ms of silence each
                // time, so the call goes on (without our voice).
                Err(MediaError::Device(e)) => {
                    if stalls == 0 {
                        tracing::warn!("microphone: {e}; sending silence meanwhile");
                    }
                    stalls += 1;
                    let waited = asked.elapsed().as_millis() as u64;
                    if waited < OPUS_FRAME_MS {
                        std::thread::sleep(Duration::from_millis(OPUS_FRAME_MS - waited));
                    }
                    let frames = (waited / OPUS_FRAME_MS).clamp(1, 100);
                    let silence = vec![0.0; crate::media::FRAME_SAMPLES];
                    for _ in 1..frames {
                        if let Ok(pkt) = encoder.encode(&silence) {
                            if tx.blocking_send(Bytes::from(pkt)).is_err() {
                                return;
                            }
                        }
                    }
                    silence
                }
                Err(e) => {
                    tracing::info!("audio source ended: {e}");
                    break;
                }
            };
            if let Some(echo) = &echo {
                if let Err(e) = echo.capture(&mut pcm) {
                    tracing::debug!("audio processing: {e}");
                }
            }
            if mute.audio.load(Ordering::Relaxed) {
                pcm.iter_mut().for_each(|s| *s = 0.0);
            }
            match encoder.encode(&pcm) {
                Ok(pkt) => {
                    if tx.blocking_send(Bytes::from(pkt)).is_err() {
                        break;
                    }
                }
                Err(e) => tracing::warn!("opus encode: {e}"),
            }
        }
    });
    let writer = tokio::spawn(async move {
        while let Some(pkt) = rx.recv().await {
            let dur = Duration::from_millis(OPUS_FRAME_MS);
            if tracks.write(pkt, dur).await {
                counters.audio_sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    vec![encoder_thread, writer]
}

/// Receive, decode and hand remote video to `sinks`. Sends the instant of the first
/// decoded frame on `first_frame`, if given.
pub(super) fn spawn_video_receiver(
    role: VideoRole,
    track: RemoteTrack,
    mut sinks: Vec<Box<dyn VideoSink>>,
    counters: Arc<Counters>,
    first_frame: Option<mpsc::Sender<Instant>>,
    mut stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let track = Arc::new(track);
    let (tx, mut rx) = mpsc::channel::<Bytes>(DECODE_QUEUE);
    let (pli_tx, mut pli_rx) = mpsc::channel::<()>(1);
    let decoder_thread = tokio::task::spawn_blocking(move || {
        let mut decoder = match H264Decoder::new() {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("video decoder: {e}");
                return;
            }
        };
        let mut first_frame = first_frame;
        let (received, size) = counters.video_received(role);
        let mut last_frame: Option<Instant> = None;
        while let Some(au) = rx.blocking_recv() {
            match decoder.decode(&au) {
                Ok(Some(frame)) => {
                    received.fetch_add(1, Ordering::Relaxed);
                    let now = Instant::now();
                    if let (VideoRole::Camera, Some(last)) = (role, last_frame) {
                        let gap = now.saturating_duration_since(last).as_millis() as u64;
                        counters.max_frame_gap_ms.fetch_max(gap, Ordering::Relaxed);
                        counters
                            .recent_frame_gap_ms
                            .fetch_max(gap, Ordering::Relaxed);
                        if gap >= FREEZE_MS {
                            counters.freezes.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    last_frame = Some(now);
                    size.store(
                        u64::from(frame.width) << 32 | u64::from(frame.height),
                        Ordering::Relaxed,
                    );
                    if let Some(tx) = first_frame.take() {
                        let _ = tx.try_send(Instant::now());
                    }
                    for sink in sinks.iter_mut() {
                        if let Err(e) = sink.frame(&frame) {
                            tracing::warn!("video sink: {e}");
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!("decode: {e}; asking for a keyframe");
                    let _ = pli_tx.try_send(());
                }
            }
        }
        for sink in sinks.iter_mut() {
            if let Err(e) = sink.finish() {
                tracing::warn!("video sink finish: {e}");
            }
        }
    });
    let reader_track = Arc::clone(&track);
    let reader = tokio::spawn(async move {
        // Ask for a keyframe at once: the first one may have gone out before this
        // track existed on our side.
        let _ = reader_track.request_keyframe().await;
        let mut last_pli = Instant::now();
        loop {
            tokio::select! {
                frame = reader_track.next_frame() => {
                    let Some(frame) = frame else { break };
                    let mut want_pli = frame.loss_before;
                    if tx.try_send(frame.data).is_err() {
                        // Decoder behind: this frame is lost to it, so the next
                        // delta frames would be garbage without a new keyframe.
                        want_pli = true;
                    }
                    if want_pli && last_pli.elapsed() > Duration::from_millis(200) {
                        last_pli = Instant::now();
                        let _ = reader_track.request_keyframe().await;
                    }
                }
                _ = crate::stop::stopped(&mut stop) => break,
                Some(()) = pli_rx.recv() => {
                    if last_pli.elapsed() > Duration::from_millis(200) {
                        last_pli = Instant::now();
                        let _ = reader_track.request_keyframe().await;
                    }
                }
            }
        }
    });
    vec![decoder_thread, reader]
}

/// Receive remote audio through a jitter buffer, decode (with Opus loss concealment)
/// and hand 20 ms frames to `sinks`, or to the sinks that arrive on `swap` (the
/// previous ones are finished).
pub(super) fn spawn_audio_receiver(
    track: RemoteTrack,
    mut sinks: Vec<Box<dyn AudioSink>>,
    options: super::AudioOptions,
    echo: Option<EchoPath>,
    mut swap: mpsc::Receiver<Vec<Box<dyn AudioSink>>>,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let (tx, mut rx) = mpsc::channel::<(u16, u32, Vec<u8>)>(64);
    let playout_counters = Arc::clone(&counters);
    let reader = tokio::spawn(async move {
        loop {
            let p = tokio::select! {
                p = track.next_packet() => p,
                _ = crate::stop::stopped(&mut stop) => None,
            };
            let Some(p) = p else { break };
            counters.audio_received.fetch_add(1, Ordering::Relaxed);
            if tx
                .send((p.seq, p.timestamp, p.payload.to_vec()))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let playout = tokio::spawn(async move {
        let mut decoder = match OpusDecoder::new() {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("opus decoder: {e}");
                return;
            }
        };
        let mut jitter = JitterBuffer::adaptive();
        tap_played(&echo, &mut sinks);
        let start = Instant::now();
        let now_ms = || start.elapsed().as_millis() as u64;
        let mut tick = tokio::time::interval(Duration::from_millis(OPUS_FRAME_MS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut started = false;
        let mut played = false;
        let mut open = true;
        let mut swap_open = true;
        loop {
            tokio::select! {
                new = swap.recv(), if swap_open => match new {
                    Some(new) => {
                        finish_all(&mut sinks);
                        sinks = new;
                        tap_played(&echo, &mut sinks);
                    }
                    None => swap_open = false,
                },
                p = rx.recv(), if open => match p {
                    Some((seq, ts, payload)) => {
                        jitter.push(seq, ts, payload, now_ms());
                        started = true;
                    }
                    None => open = false,
                },
                _ = tick.tick() => {
                    if !started {
                        if !open { break; }
                        continue;
                    }
                    let c = &playout_counters;
                    c.jitter_delay_ms.store(jitter.target_delay_ms(), Ordering::Relaxed);
                    let out = match jitter.pop(now_ms()) {
                        Some(JitterOut::Packet(p)) => {
                            played = true;
                            decoder.decode(Some(&p))
                        }
                        Some(JitterOut::Lost) => {
                            c.audio_lost.fetch_add(1, Ordering::Relaxed);
                            let next = jitter
                                .peek_next()
                                .filter(|p| options.fec && opus_has_fec(p));
                            match next.map(|p| decoder.decode_fec(p)) {
                                Some(Ok(pcm)) => {
                                    c.audio_recovered.fetch_add(1, Ordering::Relaxed);
                                    Ok(pcm)
                                }
                                _ => {
                                    c.audio_concealed.fetch_add(1, Ordering::Relaxed);
                                    decoder.decode(None)
                                }
                            }
                        }
                        None if !open => break,
                        // Waiting for a packet held but not yet due (the
                        // delay grew): play on, concealed, so what follows
                        // keeps its time.
                        None if played && !jitter.is_empty() => {
                            c.audio_concealed.fetch_add(1, Ordering::Relaxed);
                            decoder.decode(None)
                        }
                        None => continue,
                    };
                    match out {
                        Ok(pcm) => {
                            for sink in sinks.iter_mut() {
                                if let Err(e) = sink.samples(&pcm) {
                                    tracing::warn!("audio sink: {e}");
                                }
                            }
                        }
                        Err(e) => tracing::debug!("opus decode: {e}"),
                    }
                }
            }
        }
        finish_all(&mut sinks);
    });
    vec![reader, playout]
}

/// Gives every sink of `sinks` that plays aloud its own far end of `echo`.
pub(in crate::call) fn tap_played(echo: &Option<EchoPath>, sinks: &mut [Box<dyn AudioSink>]) {
    if let Some(echo) = echo {
        for sink in sinks.iter_mut() {
            sink.tap_played(echo.far_end());
        }
    }
}

fn finish_all(sinks: &mut [Box<dyn AudioSink>]) {
    for sink in sinks.iter_mut() {
        if let Err(e) = sink.finish() {
            tracing::warn!("audio sink finish: {e}");
        }
    }
}
