//! Probes for the connection doctor: one STUN Binding transaction (RFC 8489 §6,
//! with RFC 5780's OTHER-ADDRESS) and one TURN allocation as a call makes it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rtc::stun::addr::MappedAddress;
use rtc::stun::attributes::ATTR_OTHER_ADDRESS;
use rtc::stun::fingerprint::FINGERPRINT;
use rtc::stun::message::{
    Getter as _, Message, Setter, TransactionId, BINDING_REQUEST, BINDING_SUCCESS,
};
use rtc::stun::xoraddr::XorMappedAddress;
use tokio::net::UdpSocket;

use super::{IceServer, PeerConnection, RtcConfig, RtcEvent};
use crate::{Error, Result};

/// When a Binding request is sent again without an answer, ms after the first
/// (RFC 8489 §6.2.1 retransmission, shortened: the doctor waits 3 s in all).
const RETRANSMIT_MS: [u64; 4] = [0, 250, 750, 1750];
/// How long a Binding transaction waits in all, ms.
pub const STUN_TIMEOUT_MS: u64 = 3_000;

/// What a STUN server answered to a Binding request.
#[derive(Debug, Clone, PartialEq)]
pub struct StunBinding {
    /// Our address as the server saw it (XOR-MAPPED-ADDRESS, RFC 8489 §14.2).
    pub mapped: SocketAddr,
    /// The server's other address for NAT behaviour tests (OTHER-ADDRESS,
    /// RFC 5780 §7.4), if it has one.
    pub other: Option<SocketAddr>,
    /// Request to response, ms (from the last transmission).
    pub rtt_ms: f64,
}

/// Sends a Binding request from `socket` to `server` and waits for the answer,
/// retransmitting over [`STUN_TIMEOUT_MS`].
///
/// Errors: [`Error::Rtc`] when no answer came in time (UDP blocked, or no STUN
/// server there) or the socket failed.
pub async fn stun_binding(socket: &UdpSocket, server: SocketAddr) -> Result<StunBinding> {
    let tid = TransactionId::new();
    // Built in a block: the setters are not Send and must not live across an await.
    let request = {
        let mut request = Message::new();
        let setters: [Box<dyn Setter>; 3] = [
            Box::new(BINDING_REQUEST),
            Box::new(tid),
            Box::new(FINGERPRINT),
        ];
        request
            .build(&setters)
            .map_err(|e| Error::Rtc(format!("STUN request: {e}")))?;
        request
    };
    let started = Instant::now();
    let deadline = started + Duration::from_millis(STUN_TIMEOUT_MS);
    let mut buf = [0u8; 1500];
    let mut next = 0;
    let mut sent_at = started;
    loop {
        let now = Instant::now();
        if next < RETRANSMIT_MS.len() && now >= started + Duration::from_millis(RETRANSMIT_MS[next])
        {
            socket
                .send_to(&request.raw, server)
                .await
                .map_err(|e| Error::Rtc(format!("STUN to {server}: {e}")))?;
            sent_at = now;
            next += 1;
        }
        let wake = RETRANSMIT_MS
            .get(next)
            .map(|ms| started + Duration::from_millis(*ms))
            .unwrap_or(deadline)
            .min(deadline);
        let received = tokio::time::timeout_at(wake.into(), socket.recv_from(&mut buf)).await;
        let (n, from) = match received {
            Err(_) if Instant::now() >= deadline => {
                return Err(Error::Rtc(format!(
                    "no STUN answer from {server} in {STUN_TIMEOUT_MS} ms"
                )))
            }
            Err(_) => continue,
            // An ICMP error from an earlier send; keep waiting.
            Ok(Err(_)) => continue,
            Ok(Ok(got)) => got,
        };
        let mut response = Message::new();
        if from != server || response.unmarshal_binary(&buf[..n]).is_err() {
            continue;
        }
        if response.transaction_id != tid || response.typ != BINDING_SUCCESS {
            continue;
        }
        let mut xor = XorMappedAddress::default();
        let mapped = match xor.get_from(&response) {
            Ok(()) => SocketAddr::new(xor.ip, xor.port),
            Err(_) => {
                let mut plain = MappedAddress::default();
                plain
                    .get_from(&response)
                    .map_err(|e| Error::Rtc(format!("STUN answer from {server}: {e}")))?;
                SocketAddr::new(plain.ip, plain.port)
            }
        };
        let mut other = MappedAddress::default();
        let other = other
            .get_from_as(&response, ATTR_OTHER_ADDRESS)
            .ok()
            .map(|()| SocketAddr::new(other.ip, other.port));
        return Ok(StunBinding {
            mapped,
            other,
            rtt_ms: sent_at.elapsed().as_secs_f64() * 1e3,
        });
    }
}

/// Allocates a TURN relay through `server` (give it one TURN URL) the way a call
/// does, and returns the time from the start until the relay candidate was
/// gathered, ms. `base` supplies the local bind addresses and extra TLS roots.
///
/// Errors: [`Error::Rtc`] when no relay candidate came within `timeout_ms`
/// (server unreachable over that transport, credentials refused, TLS certificate
/// not trusted: webrtc-rs's and the shim's logs say which).
pub async fn relay_allocation(
    server: &IceServer,
    base: &RtcConfig,
    timeout_ms: u64,
) -> Result<f64> {
    let cfg = RtcConfig {
        ice_servers: vec![server.clone()],
        relay_only: true,
        ..base.clone()
    };
    let started = Instant::now();
    let (pc, mut events) = PeerConnection::new(&cfg).await?;
    // A data channel gives the offer an m-line, and the offer starts gathering.
    let _dc = pc.create_data_channel("probe").await?;
    pc.create_offer(false).await?;
    let deadline = started + Duration::from_millis(timeout_ms);
    let outcome = loop {
        match tokio::time::timeout_at(deadline.into(), events.recv()).await {
            Ok(Some(RtcEvent::LocalCandidate(c))) if c.candidate.contains(" typ relay") => {
                break Ok(started.elapsed().as_secs_f64() * 1e3)
            }
            Ok(Some(RtcEvent::GatheringComplete)) | Ok(None) => {
                break Err(Error::Rtc(
                    "gathering ended without a relay candidate".into(),
                ))
            }
            Ok(Some(_)) => {}
            Err(_) => break Err(Error::Rtc(format!("no relay candidate in {timeout_ms} ms"))),
        }
    };
    pc.close().await;
    outcome
}
