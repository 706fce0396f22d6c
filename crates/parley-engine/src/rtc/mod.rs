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

mod certificate;
mod congestion;
mod congestion_guard;
mod data_channel;
mod dtls_flights;
mod dtls_resend;
mod feedback_coverage;
mod frame_assembler;
mod keyframe;
mod peer;
mod probe;
mod read_tap;
mod runtime;
mod sdp;
mod stats;
mod track;
mod turn_stream;

pub use certificate::{DtlsCertificate, CERTIFICATE_FILE_NAME};
pub use congestion::{BandwidthEstimate, CongestionConfig, SendEstimate};
pub use data_channel::{DataChannel, DataChannelEvent};
pub use peer::{PeerConnection, RtcEvent};
pub use probe::{relay_allocation, stun_binding, StunBinding, STUN_TIMEOUT_MS};
pub use runtime::DEFAULT_SOCKET_BUFFER_BYTES;
pub use sdp::{check_offered_codecs, with_msid_semantic, MSID_SEMANTIC_LINE};
pub use stats::{CandidateType, TransportStats};
pub use track::{EncodedFrame, LocalTrack, MediaKind, RemoteTrack};
pub use turn_stream::{load_pem_certificates, parse_ice_url, IceUrlKind};

use std::net::SocketAddr;

/// A STUN or TURN server (W3C webrtc §4.2.4 `RTCIceServer`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IceServer {
    /// URLs such as `stun:host:3478` or `turn:host:3478?transport=udp`
    /// ([`check_ice_url`] says which this engine can use).
    pub urls: Vec<String>,
    /// TURN username (empty for STUN).
    #[serde(default)]
    pub username: String,
    /// TURN credential (empty for STUN).
    #[serde(default)]
    pub credential: String,
}

impl IceServer {
    /// Checks every URL with [`check_ice_url`].
    ///
    /// Errors: [`crate::Error::Invalid`] naming the first URL this engine cannot use
    /// and what to write instead.
    pub fn validate(&self) -> crate::Result<()> {
        self.urls.iter().try_for_each(|u| check_ice_url(u))
    }
}

/// Checks one ICE server URL: RFC 7064 `stun:host[:port]` or RFC 7065
/// `turn:host[:port][?transport=udp|tcp]` and `turns:host[:port][?transport=tcp]`,
/// as this engine can use them (TURN over TCP and TLS through our own shim, since
/// webrtc-rs 0.21.1 has only UDP). `stuns:` and TURN over DTLS are refused here
/// rather than accepted and then ignored.
///
/// Errors: [`crate::Error::Invalid`] with what is wrong and what would work.
pub fn check_ice_url(url: &str) -> crate::Result<()> {
    let invalid = |why: String| Err(crate::Error::Invalid(format!("ICE server {url:?}: {why}")));
    let (scheme, rest) = match url.split_once(':') {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => return invalid("starts with stun: or turn:".into()),
    };
    let (hostport, query) = match rest.split_once('?') {
        Some((hp, q)) => (hp, Some(q)),
        None => (rest, None),
    };
    match (scheme.as_str(), query) {
        ("stun", None) | ("turn", None) => {}
        ("turn", Some(q)) if q.eq_ignore_ascii_case("transport=udp") => {}
        ("turn", Some(q)) if q.eq_ignore_ascii_case("transport=tcp") => {}
        ("turns", None) => {}
        ("turns", Some(q)) if q.eq_ignore_ascii_case("transport=tcp") => {}
        ("turns", Some(q)) if q.eq_ignore_ascii_case("transport=udp") => {
            return invalid(
                "TURN over DTLS is not supported; use turns:HOST:5349 (TLS) or turn:HOST:3478"
                    .into(),
            )
        }
        ("stuns", _) => {
            return invalid("STUN over TLS is not supported; use stun:HOST:3478".into())
        }
        ("stun", Some(_)) => return invalid("a stun: URL takes no ?query".into()),
        ("turn" | "turns", Some(q)) => return invalid(format!("unknown parameter {q:?}")),
        _ => return invalid("starts with stun: or turn:".into()),
    }
    // host, host:port, [v6], [v6]:port
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => return invalid("an IPv6 address needs its closing ]".into()),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        return invalid("needs a host name or address after the scheme".into());
    }
    if let Some(p) = port {
        if !matches!(p.parse::<u16>(), Ok(1..)) {
            return invalid(format!("port {p:?} is not 1-65535"));
        }
    }
    Ok(())
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
    /// Our SCTP receive window, bytes: what the peer may have in flight to us
    /// on the association (the `a_rwnd` we advertise, RFC 9260 §3.3.2). Keep
    /// it at least the largest message (64 KiB): a window smaller than one
    /// message cannot reassemble it.
    pub sctp_receive_window_bytes: usize,
    /// Only relay candidates (W3C `iceTransportPolicy: "relay"`), to force TURN.
    pub relay_only: bool,
    /// CA certificates (DER) trusted for TURN over TLS (`turns:`) besides the
    /// system's, e.g. a company's own CA or a test CA.
    pub turn_tls_roots: Vec<Vec<u8>>,
    /// This device's DTLS certificate, kept in the profile so its fingerprint is
    /// stable; `None` makes a throwaway one per connection. Calls fill it from
    /// `CallOptions::profile` when it is unset.
    pub certificate: Option<DtlsCertificate>,
    /// Send-side congestion control (GCC over TWCC feedback, guarded as
    /// `congestion_guard` says), whose estimate the video encoders follow; on
    /// by default. `None` sends at the configured bitrates and only reports
    /// arrivals for the remote's estimator.
    pub congestion: Option<CongestionConfig>,
    /// Video retransmission on NACK (RFC 4585 §6.2.1): we ask for lost
    /// packets and resend what we are asked for. On by default; off (only to
    /// measure what it brings) we do neither, though the SDP still offers
    /// `nack`.
    pub nack: bool,
}

/// Default [`RtcConfig::data_channel_send_buffer_bytes`]: 1 MiB, the peer's
/// SCTP receive window (webrtc-rs 0.21's default), so no more than that waits in
/// the association's one first-in, first-out send queue, where a chat or control
/// message queues behind file data. With 4 MiB a chat round trip during a
/// transfer on loopback took 27 ms at p95, with 1 MiB 7–9 ms, at the same
/// throughput (`parley-bench`, BENCHMARKS.md).
pub const DEFAULT_DATA_CHANNEL_SEND_BUFFER_BYTES: usize = 1024 * 1024;

/// Default [`RtcConfig::sctp_receive_window_bytes`]: 1 MiB, webrtc-rs 0.21's.
pub const DEFAULT_SCTP_RECEIVE_WINDOW_BYTES: usize = 1024 * 1024;

impl Default for RtcConfig {
    fn default() -> Self {
        Self {
            ice_servers: Vec::new(),
            udp_bind: vec![SocketAddr::from(([0, 0, 0, 0], 0))],
            socket_buffer_bytes: DEFAULT_SOCKET_BUFFER_BYTES,
            data_channel_send_buffer_bytes: DEFAULT_DATA_CHANNEL_SEND_BUFFER_BYTES,
            sctp_receive_window_bytes: DEFAULT_SCTP_RECEIVE_WINDOW_BYTES,
            relay_only: false,
            turn_tls_roots: Vec::new(),
            certificate: None,
            congestion: Some(CongestionConfig::default()),
            nack: true,
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

#[cfg(test)]
mod tests {
    use super::check_ice_url;

    #[test]
    fn ice_urls_the_engine_can_use() {
        for ok in [
            "stun:stun.example.org",
            "stun:198.51.100.1:3478",
            "turn:turn.example.org:3478",
            "turn:turn.example.org:3478?transport=udp",
            "turn:turn.example.org:3478?transport=tcp",
            "turns:turn.example.org:5349",
            "turns:turn.example.org?transport=tcp",
            "TURN:[2001:db8::1]:3478",
            "stun:[2001:db8::1]",
        ] {
            assert!(check_ice_url(ok).is_ok(), "{ok} refused");
        }
        for (bad, says) in [
            ("turns:t.example.org:5349?transport=udp", "DTLS"),
            ("stuns:s.example.org", "TLS"),
            ("http://s.example.org", "starts with"),
            ("stun:", "host"),
            ("turn:t.example.org:0", "port"),
            ("turn:t.example.org:99999", "port"),
            ("turn:t.example.org?foo=1", "unknown parameter"),
            ("turn:[2001:db8::1:3478", "closing"),
        ] {
            let err = check_ice_url(bad).expect_err(bad).to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
