//! Local (sending) and remote (receiving) media tracks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::media::Sample;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use tokio::sync::{Mutex, OnceCell};
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal as _, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::rtp_transceiver::RtpSender;

use super::frame_assembler::FrameAssembler;
use super::keyframe::is_keyframe_request;
use crate::{Error, Result};

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// An Opus track.
    Audio,
    /// An H.264 track.
    Video,
}

/// A track we send: encoded samples in, RTP out (packetized per RFC 6184 for H.264,
/// RFC 7587 for Opus).
pub struct LocalTrack {
    pub(crate) track: Arc<TrackLocalStaticSample>,
    pub(crate) sender: Arc<dyn RtpSender>,
    pub(crate) ssrc: u32,
    pub(crate) kind: MediaKind,
    payload_type: OnceCell<u8>,
    estimate: super::SendEstimate,
}

impl LocalTrack {
    pub(crate) fn new(
        track: Arc<TrackLocalStaticSample>,
        sender: Arc<dyn RtpSender>,
        ssrc: u32,
        kind: MediaKind,
        estimate: super::SendEstimate,
    ) -> Self {
        Self {
            track,
            sender,
            ssrc,
            kind,
            payload_type: OnceCell::new(),
            estimate,
        }
    }

    /// The congestion controller's estimate for the connection this track is
    /// sent on (`None` when congestion control is off).
    pub fn bandwidth_estimate(&self) -> Option<super::BandwidthEstimate> {
        self.estimate.get()
    }

    /// Audio or video.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    async fn payload_type(&self) -> Result<u8> {
        self.payload_type
            .get_or_try_init(|| async {
                let params = self.sender.get_parameters().await?;
                params
                    .rtp_parameters
                    .codecs
                    .first()
                    .map(|c| c.payload_type)
                    .ok_or_else(|| Error::Rtc("no codec negotiated for the track".into()))
            })
            .await
            .copied()
    }

    /// Sends one encoded sample: an H.264 access unit in Annex B form, or one Opus
    /// packet. `duration` is the sample's length (frame interval; 20 ms for Opus), which
    /// advances the RTP timestamp.
    ///
    /// Errors: [`Error::Rtc`] before negotiation completes or after the connection closed.
    pub async fn write_sample(&self, data: Bytes, duration: Duration) -> Result<()> {
        let pt = self.payload_type().await?;
        let sample = Sample {
            data,
            duration,
            ..Sample::new(Instant::now())
        };
        self.track
            .sample_writer(self.ssrc, pt)
            .write_sample(&sample)
            .await?;
        Ok(())
    }

    /// Waits for the next keyframe request (PLI or FIR) from the receiver. Returns
    /// `None` when the track is unbound (call over).
    pub async fn next_keyframe_request(&self) -> Option<()> {
        loop {
            match self.track.poll().await? {
                TrackLocalEvent::OnRtcpPacket(packets)
                    if packets.iter().any(|p| is_keyframe_request(p.as_ref())) =>
                {
                    return Some(())
                }
                _ => continue,
            }
        }
    }
}

/// One reassembled encoded frame from a remote video track.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    /// The access unit, Annex B (start-code delimited NAL units).
    pub data: Bytes,
    /// RTP timestamp, 90 kHz.
    pub rtp_timestamp: u32,
    /// Packets were lost before this frame: the decoder's reference may be broken
    /// until the next keyframe, so ask for one.
    pub loss_before: bool,
}

/// One RTP packet's media payload (for audio, which is one Opus frame per packet).
#[derive(Debug, Clone)]
pub struct RtpPayload {
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp (48 kHz for Opus).
    pub timestamp: u32,
    /// The payload.
    pub payload: Bytes,
}

/// A track we receive.
pub struct RemoteTrack {
    inner: Arc<dyn TrackRemote>,
    kind: MediaKind,
    ssrc: u32,
    frames: Mutex<FrameAssembler>,
}

/// Most packets the video reassembly holds while it waits for a missing one.
const VIDEO_MAX_LATE_PACKETS: u16 = 512;
/// How long reassembly waits for a missing packet, ms.
const VIDEO_MAX_DELAY_MS: u64 = 300;

impl RemoteTrack {
    pub(crate) async fn wrap(inner: Arc<dyn TrackRemote>) -> Self {
        let kind = match inner.kind().await {
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio => MediaKind::Audio,
            _ => MediaKind::Video,
        };
        let ssrc = inner.ssrcs().await.first().copied().unwrap_or(0);
        let frames = FrameAssembler::new(
            Duration::from_millis(VIDEO_MAX_DELAY_MS),
            usize::from(VIDEO_MAX_LATE_PACKETS),
        );
        Self {
            inner,
            kind,
            ssrc,
            frames: Mutex::new(frames),
        }
    }

    /// Audio or video.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// The SSRC of its media (RFC 3550 §8), 0 when not known yet.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The track's id as the sender named it (W3C `MediaStreamTrack.id`).
    pub async fn id(&self) -> String {
        self.inner.track_id().await.to_string()
    }

    /// The next RTP packet's payload; `None` when the track has ended.
    pub async fn next_packet(&self) -> Option<RtpPayload> {
        loop {
            match self.inner.poll().await? {
                TrackRemoteEvent::OnRtpPacket(p) => {
                    return Some(RtpPayload {
                        seq: p.header.sequence_number,
                        timestamp: p.header.timestamp,
                        payload: p.payload,
                    })
                }
                TrackRemoteEvent::OnEnded => return None,
                _ => continue,
            }
        }
    }

    /// The next complete H.264 access unit, depacketized (RFC 6184: single NAL, STAP-A,
    /// FU-A) as soon as its last packet is in ([`FrameAssembler`]); `None` when the
    /// track has ended.
    pub async fn next_frame(&self) -> Option<EncodedFrame> {
        let mut frames = self.frames.lock().await;
        loop {
            if let Some(f) = frames.pop(Instant::now()) {
                return Some(EncodedFrame {
                    data: f.data,
                    rtp_timestamp: f.rtp_timestamp,
                    loss_before: f.loss_before,
                });
            }
            // A frame waiting for a missing packet is given up at its
            // deadline even if no packet comes (a still screen, a starved
            // link sends a few frames a second), so the next frame and the
            // keyframe request are not held up until one does. `poll` is a
            // channel receive: nothing is lost when the sleep wins.
            let event = match frames.deadline() {
                Some(at) => tokio::select! {
                    ev = self.inner.poll() => ev?,
                    () = tokio::time::sleep_until(at.into()) => continue,
                },
                None => self.inner.poll().await?,
            };
            match event {
                TrackRemoteEvent::OnRtpPacket(p) => {
                    let h = &p.header;
                    frames.push(
                        Instant::now(),
                        h.sequence_number,
                        h.timestamp,
                        h.marker,
                        p.payload,
                    );
                }
                TrackRemoteEvent::OnEnded => return None,
                _ => continue,
            }
        }
    }

    /// Asks the sender for a keyframe with an RTCP PLI (RFC 4585 §6.3.1).
    pub async fn request_keyframe(&self) -> Result<()> {
        self.inner
            .write_rtcp(vec![Box::new(PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: self.ssrc,
            })])
            .await?;
        Ok(())
    }
}
