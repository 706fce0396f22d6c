//! The built-in "Echo test" contact: a second identity on the same signaling server
//! that answers its owner's calls and sends the owner's own camera, microphone and
//! chat back through a real second peer connection, so a new user can check camera,
//! microphone and connectivity on one machine.
//!
//! It only answers calls from its owner (anyone else is declined), so it cannot be
//! used as a relay by others on a shared server. Its identity is new at every start.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use parley_proto::{CallKind, ClientMessage, PeerId, ServerMessage};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::call::{AudioSink, Call, CallCommand, CallEvent, CallOptions, Direction, VideoSink};
use crate::identity::Identity;
use crate::media::{I420Frame, MediaError, VideoSource, FRAME_SAMPLES};
use crate::rtc::RtcConfig;
use crate::signaling::{SignalEvent, SignalingClient};
use crate::Result;

/// How long the echoed video waits for the first frame to learn its size, ms.
const FIRST_FRAME_WAIT_MS: u64 = 10_000;
/// How long the echoed video waits for a new frame before repeating the last, ms.
const FRAME_WAIT_MS: u64 = 1_000;
/// Audio held back at most before the oldest is dropped, samples (200 ms at 48 kHz).
const MAX_AUDIO_BACKLOG: usize = 9_600;
/// Signaling messages forwarded to the running echo call, messages.
const CALL_SIGNAL_QUEUE: usize = 256;

/// The running echo peer. Dropping it stops it.
pub struct EchoPeer {
    id: PeerId,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl EchoPeer {
    /// Connects a fresh identity to `server_url` and answers `owner`'s calls.
    ///
    /// Errors: the server is unreachable or refuses the identity.
    pub async fn start(server_url: &str, owner: PeerId, rtc: RtcConfig) -> Result<EchoPeer> {
        let identity = Identity::generate();
        let id = identity.id();
        let (sig, sig_rx) =
            SignalingClient::connect(server_url, identity.signing_key().clone()).await?;
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(sig, sig_rx, owner, rtc, stop_rx));
        Ok(EchoPeer { id, stop, task })
    }

    /// The echo contact's id (call it like any contact).
    pub fn id(&self) -> &PeerId {
        &self.id
    }
}

impl Drop for EchoPeer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

async fn run(
    sig: SignalingClient,
    mut sig_rx: mpsc::Receiver<SignalEvent>,
    owner: PeerId,
    rtc: RtcConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut current: Option<(String, mpsc::Sender<SignalEvent>)> = None;
    let (ended_tx, mut ended_rx) = mpsc::channel::<String>(4);
    loop {
        tokio::select! {
            _ = crate::stop::stopped(&mut stop) => break,
            Some(call_id) = ended_rx.recv() => {
                if current.as_ref().is_some_and(|(id, _)| *id == call_id) {
                    current = None;
                }
            }
            ev = sig_rx.recv() => {
                let Some(ev) = ev else { break };
                let SignalEvent::Message(msg) = &ev else { continue };
                if let ServerMessage::Invite { call_id, from, kind, .. } = msg {
                    if *from != owner || current.is_some() || *kind != CallKind::Media {
                        let reason = if *from != owner {
                            "the echo test answers only its owner"
                        } else if *kind != CallKind::Media {
                            "the echo test answers calls, not chat or files"
                        } else {
                            "busy"
                        };
                        let _ = sig
                            .send(ClientMessage::Decline {
                                call_id: call_id.clone(),
                                reason: Some(reason.into()),
                            })
                            .await;
                        continue;
                    }
                    let (tx, rx) = mpsc::channel(CALL_SIGNAL_QUEUE);
                    current = Some((call_id.clone(), tx));
                    tokio::spawn(echo_call(
                        sig.clone(),
                        rx,
                        call_id.clone(),
                        from.clone(),
                        rtc.clone(),
                        ended_tx.clone(),
                    ));
                    continue;
                }
                if let Some((id, tx)) = &current {
                    if msg.call_id() == Some(id.as_str()) {
                        let _ = tx.send(ev).await;
                    }
                }
            }
        }
    }
    sig.close();
}

/// One echoed call: what arrives goes straight back.
async fn echo_call(
    sig: SignalingClient,
    sig_rx: mpsc::Receiver<SignalEvent>,
    call_id: String,
    from: PeerId,
    rtc: RtcConfig,
    ended: mpsc::Sender<String>,
) {
    let video = FrameMailbox::default();
    let audio = SampleQueue::default();
    let options = CallOptions {
        rtc,
        video_source: Some(Box::new(video.clone())),
        audio_source: Some(Box::new(audio.clone())),
        video_sinks: vec![Box::new(video)],
        audio_sinks: vec![Box::new(audio)],
        ..Default::default()
    };
    let direction = Direction::Incoming {
        call_id: call_id.clone(),
        from,
    };
    let mut call = Call::start(sig, sig_rx, direction, options);
    while let Some(ev) = call.next_event().await {
        match ev {
            CallEvent::ChatReceived { message, .. } => {
                let _ = call.command(CallCommand::Chat(message.text)).await;
            }
            CallEvent::Ended { .. } => break,
            _ => {}
        }
    }
    if let Err(e) = call.finish().await {
        tracing::info!("echo call: {e}");
    }
    let _ = ended.send(call_id).await;
}

/// The newest received frame, shared between the echo's video sink and source.
#[derive(Clone, Default)]
struct FrameMailbox {
    inner: Arc<(Mutex<MailboxState>, Condvar)>,
}

#[derive(Default)]
struct MailboxState {
    frame: Option<I420Frame>,
    fresh: bool,
    size: Option<(u32, u32)>,
}

impl FrameMailbox {
    fn size(&self) -> (u32, u32) {
        let (lock, cv) = &*self.inner;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (state, _) = cv
            .wait_timeout_while(guard, Duration::from_millis(FIRST_FRAME_WAIT_MS), |s| {
                s.size.is_none()
            })
            .unwrap_or_else(|p| p.into_inner());
        state.size.unwrap_or((320, 180))
    }
}

impl VideoSink for FrameMailbox {
    fn frame(&mut self, frame: &I420Frame) -> Result<()> {
        let (lock, cv) = &*self.inner;
        let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
        s.size.get_or_insert((frame.width, frame.height));
        s.frame = Some(frame.clone());
        s.fresh = true;
        cv.notify_all();
        Ok(())
    }
}

impl VideoSource for FrameMailbox {
    fn width(&self) -> u32 {
        self.size().0
    }
    fn height(&self) -> u32 {
        self.size().1
    }
    fn fps(&self) -> f64 {
        30.0
    }
    /// The next received frame (or the last one again after a second without any;
    /// black before the first), at the size of the first.
    fn next_frame(&mut self) -> std::result::Result<I420Frame, MediaError> {
        let (w, h) = self.size();
        let (lock, cv) = &*self.inner;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (mut s, _) = cv
            .wait_timeout_while(guard, Duration::from_millis(FRAME_WAIT_MS), |s| !s.fresh)
            .unwrap_or_else(|p| p.into_inner());
        s.fresh = false;
        // The owner's camera may change size (halved at a low bitrate):
        // scaled back to the size this source started with.
        let mut frame = match &s.frame {
            Some(f) => crate::media::scale(f, w, h),
            None => I420Frame::new_black(w, h),
        };
        frame.capture_us = crate::media::monotonic_us();
        Ok(frame)
    }
}

/// Received audio waiting to be sent back (mono 48 kHz).
#[derive(Clone, Default)]
struct SampleQueue {
    inner: Arc<(Mutex<VecDeque<f32>>, Condvar)>,
}

impl AudioSink for SampleQueue {
    fn samples(&mut self, samples: &[f32]) -> Result<()> {
        let (lock, cv) = &*self.inner;
        let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
        q.extend(samples.iter().copied());
        let excess = q.len().saturating_sub(MAX_AUDIO_BACKLOG);
        q.drain(..excess);
        cv.notify_all();
        Ok(())
    }
}

impl crate::media::AudioSource for SampleQueue {
    /// 20 ms of what arrived, or silence when nothing did within 20 ms.
    fn next_frame(&mut self) -> std::result::Result<Vec<f32>, MediaError> {
        let (lock, cv) = &*self.inner;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (mut q, _) = cv
            .wait_timeout_while(guard, Duration::from_millis(20), |q| {
                q.len() < FRAME_SAMPLES
            })
            .unwrap_or_else(|p| p.into_inner());
        if q.len() < FRAME_SAMPLES {
            return Ok(vec![0.0; FRAME_SAMPLES]);
        }
        Ok(q.drain(..FRAME_SAMPLES).collect())
    }
}
