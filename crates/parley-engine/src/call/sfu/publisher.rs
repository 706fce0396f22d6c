//! Publishing to the SFU: join the room as this member's feed, offer our three
//! tracks (camera, microphone, screen; docs/protocol.md §8.4) and send on them.

use std::sync::Arc;
use std::time::Duration;

use parley_janus::client::{Handle, Jsep, Session};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{forward_events, wait_connected, SfuGrant};
use crate::call::fanout::{forward_keyframe_requests, TrackSet};
use crate::call::local_media::LinkTracks;
use crate::call::media::{self, Counters, Mute, VideoRole};
use crate::call::start::add_tracks;
use crate::media::{AudioSource, VideoSource};
use crate::rtc::{ConnectionState, PeerConnection, RtcConfig};
use crate::Result;

/// Our feed in an SFU room. Dropping it leaves media running until
/// [`close`](Self::close).
pub struct SfuPublisher {
    pc: PeerConnection,
    handle: Handle,
    tracks: LinkTracks,
    private_id: u64,
    /// The feeds publishing when we joined (`joined.publishers[].id`).
    publishers_at_join: Vec<u64>,
    state: watch::Receiver<ConnectionState>,
    stop: watch::Sender<bool>,
    counters: Arc<Counters>,
    mute: Arc<Mute>,
    tasks: Vec<JoinHandle<()>>,
}

impl SfuPublisher {
    /// Joins `grant.room` on `session` as publisher `grant.feed` (with the PIN and
    /// token), then publishes: our offer with the three tracks, Janus's answer.
    ///
    /// Errors: [`crate::Error::Sfu`] when Janus refuses (a wrong PIN is 433
    /// unauthorized, a missing one 429, a feed id in use 436) or goes away;
    /// [`crate::Error::Rtc`] when the peer connection cannot be made or the
    /// answer applied.
    pub async fn publish(session: &Session, grant: &SfuGrant, rtc: &RtcConfig) -> Result<Self> {
        let handle = session.attach_videoroom().await?;
        let joined = handle
            .send(
                json!({"request": "join", "ptype": "publisher", "room": grant.room,
                       "pin": grant.pin, "token": grant.token, "id": grant.feed}),
                None,
            )
            .await?;
        let private_id = joined.data["private_id"].as_u64().unwrap_or(0);
        let publishers_at_join = feed_ids(&joined.data["publishers"]);
        let (pc, events) = PeerConnection::new(rtc).await?;
        let tracks = add_tracks(&pc).await?;
        let (state_tx, state) = watch::channel(ConnectionState::New);
        let tasks = vec![forward_events(events, handle.clone(), state_tx, None)];
        let offer = pc.create_offer(false).await?;
        let published = handle
            .send(
                json!({"request": "publish", "audiocodec": "opus", "videocodec": "h264",
                       "descriptions": [{"mid": "0", "description": "camera"},
                                        {"mid": "2", "description": "screen"}]}),
                Some(Jsep {
                    kind: "offer".into(),
                    sdp: offer,
                }),
            )
            .await;
        let answer = match published {
            Ok(r) => r.jsep,
            Err(e) => {
                pc.close().await;
                tasks.iter().for_each(JoinHandle::abort);
                return Err(e.into());
            }
        };
        let Some(answer) = answer.filter(|j| j.kind == "answer") else {
            pc.close().await;
            tasks.iter().for_each(JoinHandle::abort);
            return Err(crate::Error::Rtc("the SFU did not answer our offer".into()));
        };
        pc.apply_answer(&answer.sdp).await?;
        let (stop, _) = watch::channel(false);
        Ok(Self {
            pc,
            handle,
            tracks,
            private_id,
            publishers_at_join,
            state,
            stop,
            counters: Arc::new(Counters::default()),
            mute: Arc::new(Mute::default()),
            tasks,
        })
    }

    /// The private id Janus gave our publisher: a subscriber of this member
    /// presents it (rooms with `require_pvtid`).
    pub fn private_id(&self) -> u64 {
        self.private_id
    }

    /// The feeds that were publishing in the room when we joined it.
    pub fn publishers_at_join(&self) -> &[u64] {
        &self.publishers_at_join
    }

    /// Our three tracks (camera, microphone, screen), for the call's local
    /// media to send on as on a peer link's.
    pub(in crate::call) fn tracks(&self) -> LinkTracks {
        self.tracks.clone()
    }

    /// The next event Janus reports about our publisher handle unasked (the
    /// room's `publishers` that went up, `unpublished`, `leaving`, a
    /// `hangup`); `None` once the connection to Janus is gone.
    pub async fn next_event(&self) -> Option<parley_janus::client::HandleEvent> {
        self.handle.next_event().await
    }

    /// Waits until the peer connection to the SFU is up, at most `within`.
    ///
    /// Errors: [`crate::Error::Rtc`] when it failed or timed out.
    pub async fn wait_connected(&mut self, within: Duration) -> Result<()> {
        wait_connected(&mut self.state, within).await
    }

    /// Captures, encodes and sends `video` on the camera track (at
    /// `video_bitrate_bps`, bits/s) and `audio` on the microphone track, until
    /// [`close`](Self::close). Keyframe requests Janus passes on (a new
    /// subscriber, a lost packet) reach the encoder.
    pub fn send(
        &mut self,
        video: Option<Box<dyn VideoSource>>,
        audio: Option<Box<dyn AudioSource>>,
        video_bitrate_bps: u32,
    ) {
        if let Some(source) = video {
            let set = TrackSet::new();
            set.add(Arc::clone(&self.tracks.camera));
            let stop = self.stop.subscribe();
            self.tasks.push(forward_keyframe_requests(
                Arc::clone(&self.tracks.camera),
                set.clone(),
                stop.clone(),
            ));
            self.tasks.extend(media::spawn_video_sender(
                VideoRole::Camera,
                set,
                source,
                Some(video_bitrate_bps),
                stop,
                Arc::clone(&self.counters),
                Arc::clone(&self.mute),
            ));
        }
        if let Some(source) = audio {
            let set = TrackSet::new();
            set.add(Arc::clone(&self.tracks.microphone));
            self.tasks.extend(media::spawn_audio_sender(
                set,
                source,
                media::AudioEncoding {
                    bitrate_bps: crate::call::DEFAULT_AUDIO_BITRATE_BPS,
                    options: crate::call::AudioOptions::default(),
                    echo: None,
                },
                self.stop.subscribe(),
                Arc::clone(&self.counters),
                Arc::clone(&self.mute),
            ));
        }
    }

    /// Video frames encoded and sent so far.
    pub fn frames_sent(&self) -> u64 {
        self.counters
            .frames_sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes sent to the SFU so far (all of the peer connection's packets: media,
    /// RTCP, ICE, DTLS), bytes.
    pub async fn bytes_sent(&self) -> u64 {
        self.pc.transport_stats().await.bytes_sent
    }

    /// Stops sending, leaves the room and closes the peer connection.
    pub async fn close(self) {
        self.stop.send_replace(true);
        // Janus may not answer a leave (a feed that is gone): do not wait long.
        let leave = self.handle.send(json!({"request": "leave"}), None);
        let _ = tokio::time::timeout(super::LEAVE_WITHIN, leave).await;
        self.pc.close().await;
        for t in self.tasks {
            t.abort();
        }
    }
}

/// The `id`s of a VideoRoom `publishers` list (`[{"id": F, "streams": [...]}, ...]`).
pub(crate) fn feed_ids(publishers: &serde_json::Value) -> Vec<u64> {
    publishers
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_u64())
        .collect()
}
