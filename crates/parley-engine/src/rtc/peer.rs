//! The peer connection: JSEP offer/answer (RFC 8829), trickle ICE (RFC 8838), data
//! channels and tracks, over webrtc-rs.

use std::sync::Arc;
use std::time::Instant;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MIME_TYPE_OPUS};
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel as WDataChannel, RTCDataChannelInit};
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceGatheringState, RTCIceServer, RTCIceTransportPolicy,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSessionDescription, SettingEngineBuilder,
};

use super::congestion::{self, BandwidthEstimate, SendEstimate};
use super::data_channel::DataChannel;
use super::runtime::BufferedRuntime;
use super::sdp::{ice_credentials, with_msid_semantic};
use super::stats::{transport_stats, TransportStats};
use super::track::{LocalTrack, MediaKind, RemoteTrack};
use super::turn_stream::StreamTurnShims;
use super::{ConnectionState, IceCandidate, IceServer, RtcConfig};
use crate::channel::DcMessage;
use crate::Result;

/// Capacity of the peer connection's event queue, events.
pub const EVENT_QUEUE: usize = 256;

/// How long after ICE checks start a pair whose candidates include a server
/// reflexive, peer reflexive or relay candidate may be nominated, ms: until then a
/// better pair has its chance. webrtc-rs (like pion) waits 500, 1000 and 2000 ms
/// and never renominates; that made every relayed call take 2.3 s to set up
/// (BENCHMARKS.md, "Paths across NATs"). Ours still leave a direct pair several
/// round trips of a long-haul path (trickled candidate plus a check) before a
/// relay pair wins.
///
/// Peer reflexive pairs do not wait: in webrtc-rs 0.21.1 a remote candidate
/// first learnt from a check (it came before the trickled candidate, which is
/// the rule on a fast path) keeps that type when its signalled twin arrives,
/// and every later success on that address is credited to it
/// (docs/webrtc-rs-prflx-twin.md), so a wait only held back host-to-host
/// setups (one data channel open in three took 540 ms instead of 27 ms). A
/// peer reflexive pair answered from where the peer really is: a direct path.
pub const ACCEPTANCE_WAIT_MS: AcceptanceWaits = AcceptanceWaits {
    srflx: 250,
    prflx: 0,
    relay: 1000,
};

/// Interval between ICE connectivity checks of a candidate pair while ICE
/// checks, ms (RFC 8445 §6.1.4.2 leaves the pace to the agent; webrtc-rs 0.21.1
/// checks every 200 ms). A check lost or sent before the far side's NAT
/// opened (hole punching) is tried again after this, and the controlling side
/// nominates on its next check. [`ICE_CHECK_REQUESTS`] keeps the time before a
/// silent pair is given up at 1.4 s, as before; the cost is more STUN packets
/// while ICE checks (a few hundred bytes per pair per interval), none after.
pub const ICE_CHECK_INTERVAL_MS: u64 = 50;

/// Binding requests sent on a pair before it is given up as failed:
/// 1.4 s of [`ICE_CHECK_INTERVAL_MS`].
pub const ICE_CHECK_REQUESTS: u16 = (1_400 / ICE_CHECK_INTERVAL_MS) as u16;

/// Minimum waits before nominating pairs by candidate type, ms (host: none).
#[derive(Debug, Clone, Copy)]
pub struct AcceptanceWaits {
    /// Server reflexive.
    pub srflx: u64,
    /// Peer reflexive.
    pub prflx: u64,
    /// Relay.
    pub relay: u64,
}

/// The SRTP replay window, packets (RFC 3711 §3.3.2). A retransmission (RFC
/// 4585 NACK, sent again on the same SSRC and sequence number) arrives a round
/// trip and a queue late; behind webrtc-rs's default window of 64 packets it
/// was discarded as a replay, the receiver asked again and again, and the
/// sender's congestion controller counted every such retransmission as lost
/// (the estimate fell to its floor on a 1 Mbit/s link and stayed there).
/// libwebrtc uses 1024 too.
pub const SRTP_REPLAY_WINDOW: usize = 1024;

/// RTP payload type we offer for H.264 Constrained Baseline.
pub const H264_PAYLOAD_TYPE: u8 = 102;
/// RTP payload type we offer for Opus.
pub const OPUS_PAYLOAD_TYPE: u8 = 111;

/// Something that happened on the peer connection.
#[non_exhaustive]
pub enum RtcEvent {
    /// A local ICE candidate to send to the remote peer (trickle ICE).
    LocalCandidate(IceCandidate),
    /// Candidate gathering finished (RFC 8838 end-of-candidates).
    GatheringComplete,
    /// The connection state changed.
    State(ConnectionState),
    /// The remote peer opened a data channel; its messages arrive on the receiver.
    DataChannel(DataChannel, mpsc::Receiver<DcMessage>),
    /// A remote track started.
    Track(RemoteTrack),
}

impl std::fmt::Debug for RtcEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RtcEvent::LocalCandidate(c) => write!(f, "LocalCandidate({})", c.candidate),
            RtcEvent::GatheringComplete => write!(f, "GatheringComplete"),
            RtcEvent::State(s) => write!(f, "State({s:?})"),
            RtcEvent::DataChannel(d, _) => write!(f, "DataChannel({})", d.label()),
            RtcEvent::Track(t) => write!(f, "Track({:?})", t.kind()),
        }
    }
}

struct Handler {
    events: mpsc::Sender<RtcEvent>,
    /// Told the connection state, so the driver wakes fast while it sets up.
    pace: Arc<super::runtime::WakePace>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(init) => {
                // webrtc-rs leaves the mid empty; with BUNDLE every candidate
                // belongs to the first m-line, mid "0" (docs/protocol.md §4).
                let sdp_mid = init.sdp_mid.filter(|m| !m.is_empty());
                let first = sdp_mid.is_none();
                let _ = self
                    .events
                    .send(RtcEvent::LocalCandidate(IceCandidate {
                        candidate: init.candidate,
                        sdp_mid: sdp_mid.or_else(|| Some("0".to_owned())),
                        sdp_mline_index: init.sdp_mline_index.or(first.then_some(0)),
                    }))
                    .await;
            }
            Err(e) => tracing::warn!("local candidate: {e}"),
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.events.send(RtcEvent::GatheringComplete).await;
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let s = match state {
            RTCPeerConnectionState::New => ConnectionState::New,
            RTCPeerConnectionState::Connecting => ConnectionState::Connecting,
            RTCPeerConnectionState::Connected => ConnectionState::Connected,
            RTCPeerConnectionState::Disconnected => ConnectionState::Disconnected,
            RTCPeerConnectionState::Failed => ConnectionState::Failed,
            RTCPeerConnectionState::Closed => ConnectionState::Closed,
            _ => return,
        };
        // Setting up (again, after an ICE restart) is `Connecting`; a
        // `Disconnected` path only sends keepalives until it is restarted.
        match s {
            ConnectionState::Connecting => self.pace.connected(false),
            ConnectionState::Connected => self.pace.connected(true),
            ConnectionState::Failed | ConnectionState::Closed => self.pace.stopped(),
            ConnectionState::New | ConnectionState::Disconnected => {}
        }
        let _ = self.events.send(RtcEvent::State(s)).await;
    }

    async fn on_data_channel(&self, data_channel: Arc<dyn WDataChannel>) {
        let (dc, rx) = DataChannel::wrap(data_channel).await;
        let _ = self.events.send(RtcEvent::DataChannel(dc, rx)).await;
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let t = RemoteTrack::wrap(track).await;
        let _ = self.events.send(RtcEvent::Track(t)).await;
    }
}

fn codecs() -> (RTCRtpCodecParameters, RTCRtpCodecParameters) {
    let fb = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    };
    let video = RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_H264.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            // Constrained Baseline level 3.1, non-interleaved mode (RFC 6184 §8.1).
            sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
                .to_owned(),
            rtcp_feedback: vec![fb("nack", ""), fb("nack", "pli"), fb("ccm", "fir")],
        },
        payload_type: H264_PAYLOAD_TYPE,
    };
    let audio = RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type: OPUS_PAYLOAD_TYPE,
    };
    (video, audio)
}

/// Our servers in webrtc-rs's form.
fn rtc_ice_servers(servers: &[IceServer]) -> Vec<RTCIceServer> {
    servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone(),
            credential: s.credential.clone(),
        })
        .collect()
}

fn ms(v: u64) -> std::time::Duration {
    std::time::Duration::from_millis(v)
}

/// Builds webrtc-rs's peer connection and starts its driver.
async fn build(
    cfg: &RtcConfig,
    ice_servers: Vec<RTCIceServer>,
    mdns: MulticastDnsMode,
    events: &mpsc::Sender<RtcEvent>,
    estimate: &SendEstimate,
) -> Result<Arc<dyn webrtc::peer_connection::PeerConnection>> {
    let (video, audio) = codecs();
    let mut media = MediaEngine::default();
    media.register_codec(video, RtpCodecKind::Video)?;
    media.register_codec(audio, RtpCodecKind::Audio)?;
    let registry = congestion::registry(&mut media, cfg.congestion, cfg.nack, estimate)?;
    let mut config = RTCConfigurationBuilder::new().with_ice_servers(ice_servers);
    if cfg.relay_only {
        config = config.with_ice_transport_policy(RTCIceTransportPolicy::Relay);
    }
    if let Some(cert) = &cfg.certificate {
        config = config.with_certificates(vec![cert.to_rtc()?]);
    }
    let include_loopback = cfg.udp_bind.iter().any(|a| a.ip().is_loopback());
    let settings = SettingEngineBuilder::new()
        .with_include_loopback_candidate(include_loopback)
        .with_multicast_dns_mode(mdns)
        .with_ice_connection_attempts(Some(ms(ICE_CHECK_INTERVAL_MS)), Some(ICE_CHECK_REQUESTS))
        .with_srflx_acceptance_min_wait(Some(ms(ACCEPTANCE_WAIT_MS.srflx)))
        .with_prflx_acceptance_min_wait(Some(ms(ACCEPTANCE_WAIT_MS.prflx)))
        .with_relay_acceptance_min_wait(Some(ms(ACCEPTANCE_WAIT_MS.relay)))
        // An ICE restart (RFC 8445 §9) starts from nothing: the old generation's
        // local candidates are dropped and, in webrtc-rs 0.21.1, this same switch
        // makes both sides rebind their UDP sockets and enumerate the interfaces
        // again. Without it a restart keeps the sockets, so a peer whose address
        // went away (a laptop that changed networks) can never come back, and no
        // new candidate is reported (the agent takes the same ones as duplicates).
        .with_discard_local_candidates_during_ice_restart(true)
        .with_srtp_replay_protection_window(SRTP_REPLAY_WINDOW)
        .with_sctp_max_receive_buffer_size(
            u32::try_from(cfg.sctp_receive_window_bytes).unwrap_or(u32::MAX),
        )
        .build();
    let pace = Arc::new(super::runtime::WakePace::default());
    let pc = PeerConnectionBuilder::new()
        .with_configuration(config.build())
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        .with_runtime(BufferedRuntime::new(
            cfg.socket_buffer_bytes,
            Arc::clone(&pace),
        ))
        .with_handler(Arc::new(Handler {
            events: events.clone(),
            pace,
        }))
        .with_udp_addrs(cfg.udp_bind.clone())
        .with_data_channel_send_buffer_limit(cfg.data_channel_send_buffer_bytes)
        .build()
        .await?;
    Ok(Arc::new(pc))
}

/// A WebRTC peer connection. Dropping it does not close it: call [`close`](Self::close).
#[derive(Clone)]
pub struct PeerConnection {
    pc: Arc<dyn webrtc::peer_connection::PeerConnection>,
    video_codec: RTCRtpCodec,
    audio_codec: RTCRtpCodec,
    /// TURN over TCP/TLS for webrtc-rs; stops when the last clone is dropped.
    turn_shims: Arc<StreamTurnShims>,
    /// Where the congestion controller publishes (empty while it is off).
    estimate: SendEstimate,
}

impl PeerConnection {
    /// Builds a peer connection and starts its driver. Events arrive on the returned
    /// receiver (capacity [`EVENT_QUEUE`]); read it promptly.
    ///
    /// TURN URLs over TCP or TLS are served by local shims (see `turn_stream`).
    ///
    /// Errors: [`Error::Rtc`] if sockets cannot be bound or the configuration is
    /// invalid; [`Error::Invalid`] if an extra TURN CA certificate cannot be parsed.
    pub async fn new(cfg: &RtcConfig) -> Result<(Self, mpsc::Receiver<RtcEvent>)> {
        // TURN over TCP and TLS through local shims that webrtc-rs sees as UDP TURN.
        let (servers, turn_shims) =
            StreamTurnShims::start(&cfg.ice_servers, &cfg.turn_tls_roots).await?;
        let ice_servers = rtc_ice_servers(&servers);
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        // webrtc-rs opens an mDNS socket to resolve peers' `.local` candidates; on a
        // host without a multicast route that fails ("No such device") and takes
        // the whole connection with it. Such a host cannot use mDNS anyway.
        let estimate = SendEstimate::default();
        let mdns = MulticastDnsMode::QueryOnly;
        let pc = match build(cfg, ice_servers.clone(), mdns, &tx, &estimate).await {
            Ok(pc) => pc,
            Err(e) => {
                tracing::debug!("peer connection with mDNS: {e}; again without it");
                let mdns = MulticastDnsMode::Disabled;
                build(cfg, ice_servers, mdns, &tx, &estimate).await?
            }
        };
        let (video, audio) = codecs();
        Ok((
            Self {
                pc,
                video_codec: video.rtp_codec,
                audio_codec: audio.rtp_codec,
                turn_shims: Arc::new(turn_shims),
                estimate,
            },
            rx,
        ))
    }

    /// Creates an offer, sets it as the local description and returns the SDP to
    /// send (and sign): webrtc-rs's text plus `a=msid-semantic`, which webrtc-rs
    /// leaves out of offers ([`with_msid_semantic`] says why only the sent text).
    ///
    /// With `ice_restart` the offer carries a new ICE ufrag and password, and once
    /// the answer is applied ICE gathers and checks again (an ICE restart, RFC 8445
    /// §9; W3C webrtc §4.4.3.2 `iceRestart`); media and data channels stay.
    pub async fn create_offer(&self, ice_restart: bool) -> Result<String> {
        let options = ice_restart.then_some(RTCOfferOptions { ice_restart });
        let offer = self.pc.create_offer(options).await?;
        let sdp = with_msid_semantic(&offer.sdp);
        self.pc.set_local_description(offer).await?;
        Ok(sdp)
    }

    /// Replaces the STUN/TURN servers for the next ICE gathering, e.g. with TURN
    /// credentials the signaling server refreshed (W3C webrtc `setConfiguration`;
    /// only the servers change).
    ///
    /// webrtc-rs 0.21.1 keeps the gathering under way and applies the servers
    /// when the next gathering starts (at the next local description), so call
    /// this just before an ICE restart's offer or answer: the restart binds new
    /// sockets and gathers (and allocates on TURN) with these servers. Not before
    /// another negotiation: webrtc-rs would then re-sign the live TURN
    /// allocations with the new username, which a TURN server may refuse (RFC
    /// 8656 §5: 441 Wrong Credentials). Candidates gathered before stay as
    /// they are. TCP and TLS TURN URLs go through the shims as in
    /// [`PeerConnection::new`], a server already served keeping its shim. An empty
    /// list changes nothing (webrtc-rs keeps the servers it has).
    ///
    /// Errors: [`crate::Error::Rtc`] when the connection is closed, webrtc-rs
    /// refuses a server (a TURN URL without username or credential) or a new
    /// shim's socket cannot be bound; [`crate::Error::Invalid`] if an extra TURN
    /// CA certificate cannot be parsed.
    pub async fn set_ice_servers(&self, servers: &[IceServer]) -> Result<()> {
        if servers.is_empty() {
            return Ok(());
        }
        let ice_servers = rtc_ice_servers(&self.turn_shims.map(servers)?);
        let current = self.pc.get_configuration().await;
        // webrtc-rs refuses another bundle or RTCP mux policy and takes the
        // transport policy as given, so those are the current ones; the empty
        // certificates, peer identity and candidate pool size mean "unchanged".
        let config = RTCConfigurationBuilder::new()
            .with_ice_servers(ice_servers)
            .with_ice_transport_policy(current.ice_transport_policy())
            .with_bundle_policy(current.bundle_policy())
            .with_rtcp_mux_policy(current.rtcp_mux_policy())
            .build();
        self.pc.set_configuration(config).await?;
        Ok(())
    }

    /// Whether applying the remote offer `offer_sdp` restarts ICE (RFC 8445 §9):
    /// its ICE ufrag or password differ from those of the remote description in
    /// effect. `false` for the first offer, or when either lacks them.
    pub async fn offer_restarts_ice(&self, offer_sdp: &str) -> bool {
        let Some(current) = self.pc.current_remote_description().await else {
            return false;
        };
        match (ice_credentials(&current.sdp), ice_credentials(offer_sdp)) {
            (Some(now), Some(offered)) => now != offered,
            _ => false,
        }
    }

    /// Applies a remote offer, creates the answer, sets it locally and returns the
    /// SDP to send (and sign; with `a=msid-semantic` as for offers, which webrtc-rs
    /// already writes in answers).
    pub async fn answer_offer(&self, offer_sdp: &str) -> Result<String> {
        let offer = RTCSessionDescription::offer(offer_sdp.to_owned())?;
        self.pc.set_remote_description(offer).await?;
        let answer = self.pc.create_answer(None).await?;
        let sdp = with_msid_semantic(&answer.sdp);
        self.pc.set_local_description(answer).await?;
        Ok(sdp)
    }

    /// Our current local description (the pending one during a negotiation), with
    /// the candidates gathered so far in it and `a=msid-semantic` added as in
    /// [`PeerConnection::create_offer`]; `None` before the first one.
    pub async fn local_description(&self) -> Option<String> {
        let desc = self.pc.local_description().await?;
        Some(with_msid_semantic(&desc.sdp))
    }

    /// Withdraws our offer that the other side has not answered: the signaling
    /// state goes back to stable (RFC 9429 §5.7, rollback; W3C webrtc §4.4.1.6).
    /// The polite side of an offer collision does this before it answers the other
    /// offer (W3C webrtc §10.7, perfect negotiation). Transceivers we added with a
    /// track are kept.
    ///
    /// Errors: [`crate::Error::Rtc`] when there is no local offer to withdraw.
    pub async fn rollback(&self) -> Result<()> {
        self.pc
            .set_local_description(RTCSessionDescription::rollback(None)?)
            .await?;
        Ok(())
    }

    /// Applies the remote answer to our offer.
    pub async fn apply_answer(&self, answer_sdp: &str) -> Result<()> {
        let answer = RTCSessionDescription::answer(answer_sdp.to_owned())?;
        self.pc.set_remote_description(answer).await?;
        Ok(())
    }

    /// Adds a remote ICE candidate. Call after the remote description is set; an empty
    /// candidate string means end-of-candidates and is ignored.
    pub async fn add_ice_candidate(&self, c: IceCandidate) -> Result<()> {
        if c.candidate.is_empty() {
            return Ok(());
        }
        self.pc
            .add_ice_candidate(RTCIceCandidateInit {
                candidate: c.candidate,
                sdp_mid: c.sdp_mid,
                sdp_mline_index: c.sdp_mline_index,
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    /// Creates a reliable, ordered data channel (negotiated in-band with DCEP,
    /// RFC 8832). Wait for it with [`DataChannel::wait_open`] before sending.
    pub async fn create_data_channel(
        &self,
        label: &str,
    ) -> Result<(DataChannel, mpsc::Receiver<DcMessage>)> {
        let dc = self
            .pc
            .create_data_channel(label, Some(RTCDataChannelInit::default()))
            .await?;
        Ok(DataChannel::wrap(dc).await)
    }

    /// Adds a sending track of `kind` (H.264 or Opus) named `track_id` in stream
    /// `stream_id`. Add tracks before creating the offer or answer.
    pub async fn add_track(
        &self,
        kind: MediaKind,
        stream_id: &str,
        track_id: &str,
    ) -> Result<LocalTrack> {
        let (codec, rtp_kind) = match kind {
            MediaKind::Video => (self.video_codec.clone(), RtpCodecKind::Video),
            MediaKind::Audio => (self.audio_codec.clone(), RtpCodecKind::Audio),
        };
        let ssrc = rand::random::<u32>();
        let track = Arc::new(TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                stream_id.to_owned(),
                track_id.to_owned(),
                track_id.to_owned(),
                rtp_kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec,
                    ..Default::default()
                }],
            ),
        )?);
        let sender = self
            .pc
            .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await?;
        Ok(LocalTrack::new(
            track,
            sender,
            ssrc,
            kind,
            self.estimate.clone(),
        ))
    }

    /// The congestion controller's current estimate of what this connection may
    /// send, or `None` when [`RtcConfig::congestion`] is off.
    pub fn bandwidth_estimate(&self) -> Option<BandwidthEstimate> {
        self.estimate.get()
    }

    /// The selected candidate pair's RTT, types and byte counts.
    pub async fn transport_stats(&self) -> TransportStats {
        transport_stats(self.pc.as_ref(), &self.turn_shims).await
    }

    /// Closes the connection: DTLS close_notify, SCTP shutdown, sockets released.
    pub async fn close(&self) {
        if let Err(e) = self.pc.close().await {
            tracing::debug!("close: {e}");
        }
    }
}
