//! Nearby: find Parley users on the same network with nothing configured
//! (issue 16), over multicast DNS (RFC 6762) and DNS-based service discovery
//! (RFC 6763), with the `mdns-sd` crate.
//!
//! Each Parley that announces itself publishes one service instance of type
//! [`SERVICE_TYPE`] (`_parley._tcp.local.`):
//!
//! ```text
//! <peer id>._parley._tcp.local.  PTR/SRV/TXT   (instance label: the 43-char id)
//!   SRV  0 0 <port> parley-<16 hex digits of the key>.local.
//!   A/AAAA  the host's addresses (filled in and kept current by mdns-sd)
//!   TXT  id=<peer id>  name=<display name>  port=<port>  v=<protocol version>
//! ```
//!
//! `port` is the TCP port of our embedded signaling server (`parley_signal`,
//! serving `GET /ws`), bound on every interface; a peer found nearby is reached
//! at [`NearbyPeer::server_url`]. Discovery reveals only what those records hold:
//! the id, the display name, the port and the addresses.
//!
//! [`Nearby`] runs one `mdns-sd` daemon (its own thread, UDP 5353): it registers
//! our instance while announcing is on (probing and announcing as RFC 6762 §8
//! says; switching off or shutting down sends goodbye packets, RFC 6762 §10.1, so
//! others drop us within about a second) and browses for everyone else's all the
//! time (continuous querying, RFC 6762 §5.2). A thread of ours turns the daemon's
//! events into the list of [`NearbyPeer`]s, believing an announcement only after
//! the checks in `record.rs` (hostile input is ignored, never a panic).
//!
//! Files: `record.rs` (our records, and the checks of others'), `list.rs` (the
//! list by instance name), `handle.rs` ([`Nearby`] and the browsing thread).

mod handle;
mod list;
mod record;

use std::net::{IpAddr, SocketAddr};

use parley_proto::PeerId;

pub use handle::Nearby;
pub use record::{MAX_NAME_BYTES, MAX_NAME_CHARS};

/// The DNS-SD service type Parley announces and browses (RFC 6763 §7: `_parley`
/// over `_tcp`, the WebSocket of the signaling server), in the `local.` domain.
pub const SERVICE_TYPE: &str = "_parley._tcp.local.";

/// The path the signaling server serves WebSockets on (`parley_signal`).
pub const SERVER_PATH: &str = "/ws";

/// How to start [`Nearby`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearbyConfig {
    /// Our peer id: the instance name and TXT `id`; our own announcement is never
    /// listed.
    pub me: PeerId,
    /// Our display name, announced in TXT `name` (control characters removed,
    /// cut to [`MAX_NAME_CHARS`] chars and [`MAX_NAME_BYTES`] bytes).
    pub name: String,
    /// The TCP port our embedded signaling server listens on (SRV and TXT
    /// `port`). 0 when there is none: announcing is then refused.
    pub server_port: u16,
    /// Announce ourselves from the start ([`Nearby::set_announce`] switches it
    /// later). Browsing runs either way.
    pub announce: bool,
}

/// A Parley found on the local network, as its announcement described it (after
/// the checks in `record.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NearbyPeer {
    /// Its peer id (TXT `id`, a valid Ed25519 public key). Anyone can announce
    /// any id: peer to peer, calls stay authenticated by the signed offer and
    /// answer (docs/protocol.md §6.3), but the server announced with it is run by
    /// whoever announced it (README "Nearby" lists what that server can still do).
    pub id: PeerId,
    /// Its display name (TXT `name`): control, format (zero-width, bidi) and
    /// separator characters and Hangul fillers removed, trimmed, at most
    /// [`MAX_NAME_CHARS`] chars; may be empty.
    pub name: String,
    /// Its addresses (A/AAAA, IPv4-mapped ones as IPv4), never loopback,
    /// unspecified, 0.0.0.0/8, multicast or broadcast: IPv4 first, link-local
    /// ones after the others in each family. Never empty; at most 8.
    pub addrs: Vec<IpAddr>,
    /// TCP port of its signaling server (SRV), never 0.
    pub port: u16,
    /// The signaling protocol version it speaks (TXT `v`), 0 when it says none:
    /// a client signs in to its server only from
    /// [`parley_proto::BOUND_AUTH_PROTOCOL_VERSION`] on.
    pub version: u32,
}

impl NearbyPeer {
    /// The URL of its signaling server: `ws://<ip>:<port>/ws` with the first IPv4
    /// address, else the first IPv6 one in brackets (`ws://[fd00::5]:40123/ws`).
    /// An IPv6 link-local address carries no zone here, so IPv4 is preferred.
    pub fn server_url(&self) -> String {
        let ip = self
            .addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| self.addrs.first())
            .copied()
            // Never without an address when it comes from `Nearby`.
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        format!("ws://{}{SERVER_PATH}", SocketAddr::new(ip, self.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addrs: &[&str]) -> NearbyPeer {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        NearbyPeer {
            id: PeerId::from_public_key(&key.verifying_key()),
            name: "Ada".into(),
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            port: 40123,
            version: 5,
        }
    }

    #[test]
    fn the_server_url_prefers_ipv4_and_brackets_ipv6() {
        assert_eq!(
            peer(&["fd00::5", "192.168.1.20"]).server_url(),
            "ws://192.168.1.20:40123/ws"
        );
        assert_eq!(peer(&["fd00::5"]).server_url(), "ws://[fd00::5]:40123/ws");
    }
}
