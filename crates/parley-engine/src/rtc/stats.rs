//! Transport statistics distilled from the W3C stats report (webrtc-stats §7.2
//! `RTCIceCandidatePairStats`, §7.4 `RTCIceCandidateStats`).

use std::time::Instant;

use rtc::peer_connection::transport::RTCIceCandidatePair;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::statistics::stats::ice_candidate_pair::RTCIceCandidatePairStats;
use webrtc::peer_connection::{RTCStatsReportEntry, StatsSelector};

use super::turn_stream::StreamTurnShims;

/// ICE candidate type (RFC 8445 §5.1.1): how an address was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CandidateType {
    /// A local interface address.
    Host,
    /// Server reflexive: our address as a STUN server sees it.
    Srflx,
    /// Peer reflexive: learned from a connectivity check.
    Prflx,
    /// A TURN relay address.
    Relay,
    /// Not known yet.
    Unknown,
}

/// A summary of the selected candidate pair.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TransportStats {
    /// Current round-trip time from STUN consent checks, ms (None before a response).
    pub rtt_ms: Option<f64>,
    /// Local candidate type of the selected pair.
    pub local_candidate: Option<CandidateType>,
    /// Remote candidate type of the selected pair.
    pub remote_candidate: Option<CandidateType>,
    /// How we reach our TURN server when the local candidate is a relay: `udp`,
    /// `tcp` or `tls` (W3C webrtc-stats `relayProtocol`); `None` otherwise.
    pub relay_transport: Option<String>,
    /// Our address of the selected pair, `ip:port` (the relayed address for a
    /// relay candidate).
    pub local_address: Option<String>,
    /// The peer's address of the selected pair, `ip:port`.
    pub remote_address: Option<String>,
    /// Bytes sent on the selected pair.
    pub bytes_sent: u64,
    /// Bytes received on the selected pair.
    pub bytes_received: u64,
    /// The share of our audio packets the remote side lost, 0–1, from its
    /// latest RTCP receiver report (RFC 3550 §6.4.1 "fraction lost"; the worst
    /// of our audio streams); `None` before one arrives.
    pub remote_audio_fraction_lost: Option<f64>,
}

fn candidate_type(t: &webrtc::peer_connection::RTCIceCandidateType) -> CandidateType {
    use webrtc::peer_connection::RTCIceCandidateType as T;
    match t {
        T::Host => CandidateType::Host,
        T::Srflx => CandidateType::Srflx,
        T::Prflx => CandidateType::Prflx,
        T::Relay => CandidateType::Relay,
        _ => CandidateType::Unknown,
    }
}

/// `udp`, `tcp` or `tls` for a relay candidate: the transport of our shim when the
/// candidate came through one, else its stats' relay protocol, else read from the
/// TURN URL (`turns:` or `?transport=tcp`), else `udp`.
fn relay_transport(
    protocol: &rtc::peer_connection::transport::RTCIceServerTransportProtocol,
    url: &str,
    shims: &StreamTurnShims,
) -> String {
    use rtc::peer_connection::transport::RTCIceServerTransportProtocol as P;
    if let Some(t) = shims.transport_of(url) {
        return t.name().to_owned();
    }
    match protocol {
        P::Tcp => "tcp",
        P::Tls => "tls",
        P::Udp => "udp",
        _ if url.starts_with("turns:") => "tls",
        _ if url.contains("transport=tcp") => "tcp",
        _ => "udp",
    }
    .to_owned()
}

/// `ip:port` of a candidate (IPv6 in brackets).
fn address(c: &rtc::peer_connection::transport::RTCIceCandidate) -> String {
    if c.address.contains(':') {
        format!("[{}]:{}", c.address, c.port)
    } else {
        format!("{}:{}", c.address, c.port)
    }
}

/// The pair ICE selected, as webrtc-rs's ICE transport reports it (reached
/// through the SCTP transport: every Parley connection has data channels); `None`
/// before a pair is selected or SCTP is negotiated.
async fn selected_pair(
    pc: &dyn webrtc::peer_connection::PeerConnection,
) -> Option<RTCIceCandidatePair> {
    let sctp = pc.sctp().await?;
    let ice = sctp.transport().ice_transport();
    ice.get_selected_candidate_pair().await.ok().flatten()
}

/// Reads the selected candidate pair: its candidates' types from webrtc-rs's
/// selected pair, its RTT and byte counts from `pc`'s stats (the selected pair's
/// entry, else the nominated, else the busiest one).
///
/// The stats report alone is not enough: webrtc-rs files a remote candidate in it
/// only when it arrives as a trickled candidate, not when it comes in the SDP or
/// is peer reflexive (learned from a connectivity check), as with peers other
/// than Parley.
pub(crate) async fn transport_stats(
    pc: &dyn webrtc::peer_connection::PeerConnection,
    shims: &StreamTurnShims,
) -> TransportStats {
    let selected = selected_pair(pc).await;
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    let is_selected = |p: &RTCIceCandidatePairStats| {
        selected.as_ref().is_some_and(|s| {
            p.local_candidate_id == s.local().id && p.remote_candidate_id == s.remote().id
        })
    };
    let mut best: Option<&RTCIceCandidatePairStats> = None;
    for entry in report.iter() {
        if let RTCStatsReportEntry::IceCandidatePair(pair) = entry {
            let rank = |p: &RTCIceCandidatePairStats| {
                (is_selected(p), p.nominated, p.bytes_received + p.bytes_sent)
            };
            if best.is_none_or(|b| rank(pair) > rank(b)) {
                best = Some(pair);
            }
        }
    }
    // The pair names candidates by their own id ("candidate:…"); webrtc-rs files them
    // in the report under a prefixed id ("RTCLocalIceCandidate_candidate:…").
    let find = |id: &str| {
        report.iter().find_map(|e| match e {
            RTCStatsReportEntry::LocalCandidate(c) | RTCStatsReportEntry::RemoteCandidate(c)
                if e.id() == id || e.id().ends_with(&format!("_{id}")) =>
            {
                Some(c)
            }
            _ => None,
        })
    };
    let local = best.and_then(|p| find(&p.local_candidate_id));
    let local_candidate = selected
        .as_ref()
        .map(|s| candidate_type(&s.local().typ))
        .or_else(|| local.map(|c| candidate_type(&c.candidate_type)));
    let remote_candidate = selected
        .as_ref()
        .map(|s| candidate_type(&s.remote().typ))
        .or_else(|| {
            best.and_then(|p| find(&p.remote_candidate_id))
                .map(|c| candidate_type(&c.candidate_type))
        });
    // The report's entry knows the relay protocol and URL; the pair's candidate
    // only the URL.
    let relay_transport = (local_candidate == Some(CandidateType::Relay))
        .then(|| match (local, &selected) {
            (Some(c), _) => Some(relay_transport(&c.relay_protocol, &c.url, shims)),
            (None, Some(s)) => {
                let c = s.local();
                Some(relay_transport(
                    &c.relay_protocol,
                    c.url.as_deref().unwrap_or(""),
                    shims,
                ))
            }
            (None, None) => None,
        })
        .flatten();
    let remote_audio_fraction_lost = report
        .iter()
        .filter_map(|e| match e {
            // webrtc-rs files the entry, at 0 % lost, as soon as the stream is
            // negotiated; only a receiver report (which also measures a
            // round trip) makes it news.
            RTCStatsReportEntry::RemoteInboundRtp(r)
                if r.received_rtp_stream_stats.rtp_stream_stats.kind == RtpCodecKind::Audio
                    && r.round_trip_time_measurements > 0 =>
            {
                Some(r.fraction_lost)
            }
            _ => None,
        })
        .reduce(f64::max);
    TransportStats {
        remote_audio_fraction_lost,
        rtt_ms: best
            .filter(|p| p.current_round_trip_time > 0.0)
            .map(|p| p.current_round_trip_time * 1e3),
        local_candidate,
        remote_candidate,
        relay_transport,
        local_address: selected.as_ref().map(|s| address(s.local())),
        remote_address: selected.as_ref().map(|s| address(s.remote())),
        bytes_sent: best.map_or(0, |p| p.bytes_sent),
        bytes_received: best.map_or(0, |p| p.bytes_received),
    }
}
