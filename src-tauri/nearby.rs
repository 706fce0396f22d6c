//! Parleys found on the local network (Nearby, issue 16), as the UI lists them.

use parley_engine::nearby::NearbyPeer;
use parley_proto::PeerId;
use serde::Serialize;

use crate::state::ContactView;

/// docs/ui-api.md `NearbyPeer`.
#[derive(Debug, Clone, Serialize)]
pub struct NearbyView {
    /// Its peer id.
    pub id: PeerId,
    /// The display name it announces (may be empty).
    pub name: String,
    /// The id is in our contacts.
    pub contact: bool,
    /// Its signaling server, `ws://<ip>:<port>/ws`.
    pub url: String,
}

/// The peers found, in the engine's order (by name, then id), each marked as
/// a contact or not.
pub fn views(peers: &[NearbyPeer], contacts: &[ContactView]) -> Vec<NearbyView> {
    peers
        .iter()
        .map(|p| NearbyView {
            id: p.id.clone(),
            name: p.name.clone(),
            contact: contacts.iter().any(|c| c.id == p.id),
            url: p.server_url(),
        })
        .collect()
}
