//! Transport statistics distilled from the W3C stats report (webrtc-stats §7.2
//! `RTCIceCandidatePairStats`, §7.4 `RTCIceCandidateStats`).

use std::time::Instant;

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
    /// Bytes sent on the selected pair.
    pub bytes_sent: u64,
    /// Bytes received on the selected pair.
    pub bytes_received: u64,
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

/// Reads the selected (nominated, else busiest) candidate pair from `pc`'s stats.
pub(crate) async fn transport_stats(
    pc: &dyn webrtc::peer_connection::PeerConnection,
    shims: &StreamTurnShims,
) -> TransportStats {
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    let mut best: Option<&rtc::statistics::stats::ice_candidate_pair::RTCIceCandidatePairStats> =
        None;
    for entry in report.iter() {
        if let RTCStatsReportEntry::IceCandidatePair(pair) = entry {
            let better = match best {
                None => true,
                Some(b) => {
                    (pair.nominated, pair.bytes_received + pair.bytes_sent)
                        > (b.nominated, b.bytes_received + b.bytes_sent)
                }
            };
            if better {
                best = Some(pair);
            }
        }
    }
    let Some(pair) = best else {
        return TransportStats::default();
    };
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
    let local = find(&pair.local_candidate_id);
    let local_candidate = local.map(|c| candidate_type(&c.candidate_type));
    let relay_transport = local
        .filter(|_| local_candidate == Some(CandidateType::Relay))
        .map(|c| relay_transport(&c.relay_protocol, &c.url, shims));
    TransportStats {
        rtt_ms: (pair.current_round_trip_time > 0.0).then_some(pair.current_round_trip_time * 1e3),
        local_candidate,
        remote_candidate: find(&pair.remote_candidate_id)
            .map(|c| candidate_type(&c.candidate_type)),
        relay_transport,
        bytes_sent: pair.bytes_sent,
        bytes_received: pair.bytes_received,
    }
}
