//! Receiving from the SFU: one subscriber peer connection for the feeds of the
//! other members. Janus offers (one sendonly m-section per stream of each feed),
//! we answer; each arriving track is matched by its SSRC to the m-section, by
//! that to the feed and the feed's stream (`attached.streams`: `mid`, `feed_id`,
//! `feed_mid`, `type`), and decoded into the sinks of the feed's member.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parley_janus::client::{Handle, Jsep, Session};
use parley_proto::PeerId;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::sdp_map::{mid_of_ssrc, sections, Section};
use super::{forward_events, wait_connected, FeedSinks, SfuGrant};
use crate::call::media::{self, Counters, VideoRole};
use crate::call::TrackKind;
use crate::rtc::{ConnectionState, MediaKind, PeerConnection, RemoteTrack, RtcConfig};
use crate::Result;

/// Capacity of the queue of arriving remote tracks, tracks.
const TRACK_QUEUE: usize = 32;

/// One stream the SFU sends us: whose feed, and which of its tracks.
#[derive(Debug, Clone)]
struct Stream {
    feed: u64,
    /// The publisher's `mid` of it: "0" camera, "1" microphone, "2" screen
    /// (our publishers' order, docs/protocol.md §8.4).
    feed_mid: String,
}

/// The other members' media, received from the SFU.
pub struct SfuSubscriber {
    pc: PeerConnection,
    handle: Handle,
    state: watch::Receiver<ConnectionState>,
    stop: watch::Sender<bool>,
    counters: Arc<Counters>,
    tasks: Vec<JoinHandle<()>>,
}

impl SfuSubscriber {
    /// Subscribes to `feeds` (feed id → member) in `grant.room`, presenting the
    /// PIN and `private_id` (our publisher's: rooms with `require_pvtid` let only
    /// joined publishers subscribe). Each member's tracks go to the sinks `sinks`
    /// gives for that member (camera, screen, microphone).
    ///
    /// Errors: [`crate::Error::Sfu`] when Janus refuses (no such feed 428,
    /// unauthorized 433) or goes away; [`crate::Error::Rtc`] when its offer
    /// cannot be answered.
    pub async fn subscribe(
        session: &Session,
        grant: &SfuGrant,
        private_id: u64,
        feeds: &[(u64, PeerId)],
        rtc: &RtcConfig,
        sinks: FeedSinks,
    ) -> Result<Self> {
        let handle = session.attach_videoroom().await?;
        let streams: Vec<Value> = feeds.iter().map(|(f, _)| json!({"feed": f})).collect();
        let attached = handle
            .send(
                json!({"request": "join", "ptype": "subscriber", "room": grant.room,
                       "pin": grant.pin, "private_id": private_id, "use_msid": true,
                       "autoupdate": false, "streams": streams}),
                None,
            )
            .await?;
        let Some(offer) = attached.jsep.filter(|j| j.kind == "offer") else {
            return Err(crate::Error::Rtc(
                "the SFU sent no offer to subscribe".into(),
            ));
        };
        let by_mid = streams_by_mid(&attached.data);
        let sdp_sections = sections(&offer.sdp);
        let (pc, events) = PeerConnection::new(rtc).await?;
        let (state_tx, state) = watch::channel(ConnectionState::New);
        let (track_tx, track_rx) = mpsc::channel(TRACK_QUEUE);
        let mut tasks = vec![forward_events(
            events,
            handle.clone(),
            state_tx,
            Some(track_tx),
        )];
        let (stop, _) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let members: HashMap<u64, PeerId> = feeds.iter().cloned().collect();
        tasks.push(tokio::spawn(receive_tracks(
            track_rx,
            Routing {
                sections: sdp_sections,
                by_mid,
                members,
            },
            sinks,
            Arc::clone(&counters),
            stop.subscribe(),
        )));
        let answer = match pc.answer_offer(&offer.sdp).await {
            Ok(a) => a,
            Err(e) => {
                pc.close().await;
                tasks.iter().for_each(JoinHandle::abort);
                return Err(e);
            }
        };
        let started = handle
            .send(
                json!({"request": "start"}),
                Some(Jsep {
                    kind: "answer".into(),
                    sdp: answer,
                }),
            )
            .await;
        if let Err(e) = started {
            pc.close().await;
            tasks.iter().for_each(JoinHandle::abort);
            return Err(e.into());
        }
        Ok(Self {
            pc,
            handle,
            state,
            stop,
            counters,
            tasks,
        })
    }

    /// Waits until the peer connection from the SFU is up, at most `within`.
    ///
    /// Errors: [`crate::Error::Rtc`] when it failed or timed out.
    pub async fn wait_connected(&mut self, within: Duration) -> Result<()> {
        wait_connected(&mut self.state, within).await
    }

    /// Video frames received and decoded so far, all feeds together.
    pub fn frames_received(&self) -> u64 {
        self.counters
            .frames_received
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes received from the SFU so far (everything on the peer connection),
    /// bytes.
    pub async fn bytes_received(&self) -> u64 {
        self.pc.transport_stats().await.bytes_received
    }

    /// Stops receiving, leaves and closes the peer connection; sinks are finished.
    pub async fn close(self) {
        self.stop.send_replace(true);
        // Janus may not answer a leave (a feed that is gone): do not wait long.
        let leave = self.handle.send(json!({"request": "leave"}), None);
        let _ = tokio::time::timeout(super::LEAVE_WITHIN, leave).await;
        self.pc.close().await;
        // The receivers finish their sinks once stopped; give them a moment.
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }
}

/// `attached.streams` (or `updated.streams`) by subscriber `mid`.
fn streams_by_mid(data: &Value) -> HashMap<String, Stream> {
    let mut out = HashMap::new();
    for s in data["streams"].as_array().into_iter().flatten() {
        let (Some(mid), Some(feed)) = (s["mid"].as_str(), s["feed_id"].as_u64()) else {
            continue;
        };
        let feed_mid = s["feed_mid"].as_str().unwrap_or_default().to_owned();
        out.insert(mid.to_owned(), Stream { feed, feed_mid });
    }
    out
}

/// How an arriving track finds its member and kind.
struct Routing {
    sections: Vec<Section>,
    by_mid: HashMap<String, Stream>,
    members: HashMap<u64, PeerId>,
}

impl Routing {
    /// The member and kind of the track with media SSRC `ssrc`.
    fn route(&self, ssrc: u32, kind: MediaKind) -> Option<(PeerId, TrackKind)> {
        let stream = self.by_mid.get(mid_of_ssrc(&self.sections, ssrc)?)?;
        let peer = self.members.get(&stream.feed)?.clone();
        let track = match (kind, stream.feed_mid.as_str()) {
            (MediaKind::Audio, _) => TrackKind::Microphone,
            (MediaKind::Video, "2") => TrackKind::Screen,
            (MediaKind::Video, _) => TrackKind::Camera,
        };
        Some((peer, track))
    }
}

async fn receive_tracks(
    mut tracks: mpsc::Receiver<RemoteTrack>,
    routing: Routing,
    mut sinks: FeedSinks,
    counters: Arc<Counters>,
    stop: watch::Receiver<bool>,
) {
    let mut running = Vec::new();
    // Audio sinks are never swapped here; the sender stays for the call.
    let mut swaps = Vec::new();
    while let Some(track) = tracks.recv().await {
        let Some((peer, kind)) = routing.route(track.ssrc(), track.kind()) else {
            tracing::warn!(
                ssrc = track.ssrc(),
                "a track from the SFU for no known feed"
            );
            continue;
        };
        tracing::debug!(%peer, ?kind, "track from the SFU");
        match kind {
            TrackKind::Microphone => {
                let (swap_tx, swap_rx) = mpsc::channel(1);
                swaps.push(swap_tx);
                running.extend(media::spawn_audio_receiver(
                    track,
                    sinks.audio(&peer),
                    crate::call::AudioOptions::default(),
                    None,
                    swap_rx,
                    Arc::clone(&counters),
                    stop.clone(),
                ));
            }
            video => {
                let role = match video {
                    TrackKind::Screen => VideoRole::Screen,
                    _ => VideoRole::Camera,
                };
                running.extend(media::spawn_video_receiver(
                    role,
                    track,
                    sinks.video(&peer, video),
                    Arc::clone(&counters),
                    None,
                    stop.clone(),
                ));
            }
        }
    }
    for t in running {
        let _ = t.await;
    }
}
