//! Where a call's peer links take their STUN/TURN servers from. The signaling
//! server's TURN credentials expire (12 h by default) and it hands out fresh
//! ones before they do (`ice_servers`, docs/protocol.md §5.1), so a call that
//! uses them reads them again for every link it opens and every ICE restart,
//! rather than once at its start.

use parley_proto::PeerId;

use crate::rtc::{PeerConnection, RtcConfig};
use crate::signaling::SignalingClient;

/// Whose ICE servers a call's links use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IceSource {
    /// The user's own (`RtcConfig::ice_servers` was set): they win, and stay as
    /// they are for the whole call.
    User,
    /// The signaling server's ([`SignalingClient::ice_servers`]), as they are
    /// when a link opens or restarts ICE.
    Server,
}

impl IceSource {
    /// The source for a call set up with `rtc`, before the call fills in the
    /// server's servers: the user's own ones if it has any.
    pub(super) fn of(rtc: &RtcConfig) -> IceSource {
        if rtc.ice_servers.is_empty() {
            IceSource::Server
        } else {
            IceSource::User
        }
    }

    /// The settings for a new link: `base` with, from the server, its current
    /// servers.
    pub(super) fn link_config(self, base: &RtcConfig, sig: &SignalingClient) -> RtcConfig {
        let mut rtc = base.clone();
        if self == IceSource::Server {
            rtc.ice_servers = sig.ice_servers();
        }
        rtc
    }

    /// Before an ICE restart (our offer with new ICE credentials, or the
    /// answer to the peer's): gives `pc` the server's current servers, so the
    /// restart allocates on TURN with credentials that have not expired. Nothing
    /// with the user's own servers. A failure is logged, not returned: the
    /// restart goes on with the servers the link had.
    pub(super) async fn refresh(self, pc: &PeerConnection, sig: &SignalingClient, peer: &PeerId) {
        if self != IceSource::Server {
            return;
        }
        if let Err(e) = pc.set_ice_servers(&sig.ice_servers()).await {
            tracing::warn!(%peer, "ICE restart keeps the servers it had: {e}");
        }
    }

    /// [`IceSource::refresh`] if applying the peer's offer `sdp` restarts ICE.
    pub(super) async fn refresh_for_offer(
        self,
        pc: &PeerConnection,
        sig: &SignalingClient,
        peer: &PeerId,
        sdp: &str,
    ) {
        if self == IceSource::Server && pc.offer_restarts_ice(sdp).await {
            self.refresh(pc, sig, peer).await;
        }
    }
}
