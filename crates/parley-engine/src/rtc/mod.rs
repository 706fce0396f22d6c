//! Our own interface over webrtc-rs 0.21 (pinned in Cargo.toml).
//!
//! Nothing outside this module names a `webrtc` or `rtc` type, so a webrtc-rs upgrade
//! (the crate is young and its API moves) touches only these files.
//!
//! - [`PeerConnection`]: offer/answer (RFC 8829 JSEP), trickle ICE candidates
//!   (RFC 8838), data channels (RFC 8831) and tracks; events arrive on a bounded
//!   channel as [`RtcEvent`].
//! - [`DataChannel`]: reliable ordered channel with send backpressure; implements
//!   [`crate::channel::MessageSink`].
//! - [`LocalTrack`] / [`RemoteTrack`]: send encoded samples, receive depacketized
//!   frames, keyframe requests (PLI) both ways.

mod data_channel;
mod keyframe;
mod peer;
mod runtime;
mod stats;
mod track;

pub use data_channel::{DataChannel, DataChannelEvent};
pub use peer::{PeerConnection, RtcEvent};
pub use runtime::DEFAULT_SOCKET_BUFFER_BYTES;
pub use stats::{CandidateType, TransportStats};
pub use track::{EncodedFrame, LocalTrack, MediaKind, RemoteTrack};

use std::net::SocketAddr;

/// A STUN or TURN server (W3C webrtc §4.2.4 `RTCIceServer`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IceServer {
    /// URLs such as `stun:host:3478` or `turn:host:3478?transport=udp`.
    /// webrtc-rs's TURN client speaks UDP only.
    pub urls: Vec<String>,
    /// TURN username (empty for STUN).
    #[serde(default)]
    pub username: String,
    /// TURN credential (empty for STUN).
    #[serde(default)]
    pub credential: String,
}

/// How to build a [`PeerConnection`].
#[derive(Debug, Clone)]
pub struct RtcConfig {
    /// STUN/TURN servers; empty in a call means those the signaling server handed
    /// out (`SignalingClient::ice_servers`), and with none of those, host
    /// candidates only.
    pub ice_servers: Vec<IceServer>,
    /// Local UDP addresses to bind. `0.0.0.0:0` means one socket per non-loopback
    /// interface; tests pass `127.0.0.1:0`.
    pub udp_bind: Vec<SocketAddr>,
    /// Requested kernel socket buffer per UDP socket, bytes.
    pub socket_buffer_bytes: usize,
    /// Per-data-channel send buffer limit, bytes: `send` waits above it.
    pub data_channel_send_buffer_bytes: usize,
    /// Only relay candidates (W3C `iceTransportPolicy: "relay"`), to force TURN.
    pub relay_only: bool,
}

impl Default for RtcConfig {
    fn default() -> Self {
        Self {
            ice_servers: Vec::new(),
            udp_bind: vec![SocketAddr::from(([0, 0, 0, 0], 0))],
            socket_buffer_bytes: DEFAULT_SOCKET_BUFFER_BYTES,
            data_channel_send_buffer_bytes: 4 * 1024 * 1024,
            relay_only: false,
        }
    }
}

/// A local ICE candidate to signal to the remote peer (W3C `RTCIceCandidateInit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    /// The `candidate:` attribute (RFC 8839 §5.1).
    pub candidate: String,
    /// The m-line's `mid`.
    pub sdp_mid: Option<String>,
    /// The m-line's index.
    pub sdp_mline_index: Option<u16>,
}

/// Connection state (W3C webrtc §4.3.3 `RTCPeerConnectionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Not yet connecting.
    New,
    /// ICE/DTLS in progress.
    Connecting,
    /// ICE and DTLS are up.
    Connected,
    /// Connectivity lost; may recover.
    Disconnected,
    /// ICE or DTLS failed.
    Failed,
    /// Closed locally.
    Closed,
}
