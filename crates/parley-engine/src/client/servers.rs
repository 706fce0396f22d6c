//! The signaling servers the client is signed in to (issue 16): its own, the
//! home server (configured or embedded), and the embedded servers of contacts
//! found on the local network (docs/nearby-plan.md). One task per server tags its
//! events with the server's [`Via`] and feeds one queue, which the client task reads.
//!
//! A nearby server is joined only for a contact found nearby that announced it
//! (one server per contact, keyed by the contact's id), with a sign-in bound to
//! that contact (docs/protocol.md §3.1) and without taking its STUN/TURN servers
//! ([`SignalingClient::join`]); it is left once the contact has been gone from
//! the list for [`NEARBY_LEAVE_GRACE_MS`], unless a call or a session still runs
//! through it.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use parley_proto::PeerId;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::nearby::NearbyPeer;
use crate::signaling::{SignalEvent, SignalingClient};

/// Most nearby servers signed in to at once.
pub const MAX_NEARBY_SERVERS: usize = 16;
/// How long a nearby server stays joined after its owner left the list (or
/// stopped being a contact), ms: a peer that blinks out of mDNS for a moment
/// keeps its presence.
pub const NEARBY_LEAVE_GRACE_MS: u64 = 10_000;
/// Events queued from all servers together, events.
const TAGGED_QUEUE: usize = 512;

/// The server a message came through, or a call or session runs through.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "owner", rename_all = "camelCase")]
pub enum Via {
    /// The client's own server: the configured one, or its embedded one.
    Home,
    /// The embedded server of this contact, found nearby.
    Nearby(PeerId),
}

impl Via {
    /// Whether this is a server found nearby (trusted only to reach its owner).
    pub fn is_nearby(&self) -> bool {
        matches!(self, Via::Nearby(_))
    }
}

/// An event of one server; `None` when its connection task has ended.
pub(super) type Tagged = (Via, Option<SignalEvent>);

/// A nearby server we are signed in to.
struct Joined {
    client: SignalingClient,
    /// Where it was announced when we joined.
    url: String,
    /// When its owner left the list; `None` while listed.
    absent_since: Option<Instant>,
    forward: JoinHandle<()>,
}

/// The home server and the nearby servers joined.
pub(super) struct Servers {
    home: SignalingClient,
    home_url: String,
    /// Our embedded server's port, 0 when there is none.
    own_port: u16,
    key: SigningKey,
    /// By owner.
    nearby: BTreeMap<PeerId, Joined>,
    tx: mpsc::Sender<Tagged>,
    home_forward: JoinHandle<()>,
}

impl Servers {
    /// Takes over the home connection (`home`, its events `home_rx`, reached at
    /// `home_url`); returns the queue of every server's events.
    pub(super) fn new(
        home: SignalingClient,
        home_rx: mpsc::Receiver<SignalEvent>,
        home_url: String,
        own_port: u16,
        key: SigningKey,
    ) -> (Servers, mpsc::Receiver<Tagged>) {
        let (tx, rx) = mpsc::channel(TAGGED_QUEUE);
        let home_forward = tokio::spawn(forward(Via::Home, home_rx, tx.clone()));
        let servers = Servers {
            home,
            home_url,
            own_port,
            key,
            nearby: BTreeMap::new(),
            tx,
            home_forward,
        };
        (servers, rx)
    }

    /// The home server's connection.
    pub(super) fn home(&self) -> &SignalingClient {
        &self.home
    }

    /// The connection to `via`, if we are signed in to it.
    pub(super) fn get(&self, via: &Via) -> Option<&SignalingClient> {
        match via {
            Via::Home => Some(&self.home),
            Via::Nearby(owner) => self.nearby.get(owner).map(|j| &j.client),
        }
    }

    /// Whether `via` may speak for `id` (its presence, its invites): home for
    /// anyone, a nearby server only for its owner.
    pub(super) fn speaks_for(&self, via: &Via, id: &PeerId) -> bool {
        match via {
            Via::Home => true,
            Via::Nearby(owner) => owner == id,
        }
    }

    /// Whether any nearby server is joined.
    pub(super) fn any_nearby(&self) -> bool {
        !self.nearby.is_empty()
    }

    /// Joins the servers in `wanted` (owner → URL) not joined yet, and leaves
    /// those no longer wanted for [`NEARBY_LEAVE_GRACE_MS`] unless in `in_use`.
    /// A server whose owner moved to another URL is joined there again, unless
    /// in use. Returns the servers left. A newly joined server's owner is
    /// watched once it reports [`SignalEvent::Connected`].
    pub(super) fn sync(
        &mut self,
        wanted: &BTreeMap<PeerId, String>,
        in_use: &HashSet<Via>,
    ) -> Vec<Via> {
        let now = Instant::now();
        let mut leave = Vec::new();
        for (owner, joined) in &mut self.nearby {
            let used = in_use.contains(&Via::Nearby(owner.clone()));
            match wanted.get(owner) {
                Some(url) => {
                    joined.absent_since = None;
                    if *url != joined.url && !used {
                        leave.push(owner.clone());
                    }
                }
                None => {
                    let since = *joined.absent_since.get_or_insert(now);
                    let gone =
                        now.duration_since(since) >= Duration::from_millis(NEARBY_LEAVE_GRACE_MS);
                    if gone && !used {
                        leave.push(owner.clone());
                    }
                }
            }
        }
        for owner in &leave {
            self.leave(owner);
        }
        for (owner, url) in wanted {
            if self.nearby.contains_key(owner) || self.is_ours(url) {
                continue;
            }
            if self.nearby.len() >= MAX_NEARBY_SERVERS {
                tracing::warn!("nearby: {MAX_NEARBY_SERVERS} servers joined already");
                break;
            }
            tracing::info!(%url, %owner, "nearby: signing in to a contact's server");
            let (client, rx) = SignalingClient::join(url, self.key.clone(), owner.clone());
            let forward = tokio::spawn(forward(Via::Nearby(owner.clone()), rx, self.tx.clone()));
            self.nearby.insert(
                owner.clone(),
                Joined {
                    client,
                    url: url.clone(),
                    absent_since: None,
                    forward,
                },
            );
        }
        // One that moved is joined again at once, and is not "left".
        leave
            .into_iter()
            .filter(|owner| !self.nearby.contains_key(owner))
            .map(Via::Nearby)
            .collect()
    }

    /// Signs out of `owner`'s server (calls through it have ended).
    pub(super) fn leave(&mut self, owner: &PeerId) {
        if let Some(joined) = self.nearby.remove(owner) {
            tracing::info!(url = %joined.url, %owner, "nearby: signing out of a contact's server");
            joined.client.close();
            joined.forward.abort();
        }
    }

    /// Closes every connection, home included.
    pub(super) fn close_all(&mut self) {
        let owners: Vec<PeerId> = self.nearby.keys().cloned().collect();
        for owner in owners {
            self.leave(&owner);
        }
        self.home.close();
        self.home_forward.abort();
    }

    /// Whether `url` is our home server, or our own embedded server under one of
    /// this machine's addresses (a false announcement): not worth a connection,
    /// which would be refused anyway (it is not run by the contact named).
    fn is_ours(&self, url: &str) -> bool {
        if url == self.home_url {
            return true;
        }
        let Some(addr) = url_addr(url) else {
            return true;
        };
        addr.port() == self.own_port && is_local_ip(addr.ip())
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for joined in self.nearby.values() {
            joined.forward.abort();
        }
        self.home_forward.abort();
    }
}

/// The nearby servers to be signed in to: owner → URL for each contact found
/// nearby that speaks protocol 5 (bound sign-ins), other than us.
pub(super) fn wanted(
    list: &[NearbyPeer],
    contacts: &HashSet<PeerId>,
    me: &PeerId,
) -> BTreeMap<PeerId, String> {
    list.iter()
        .filter(|p| p.id != *me && contacts.contains(&p.id))
        .filter(|p| p.version >= parley_proto::BOUND_AUTH_PROTOCOL_VERSION)
        .map(|p| (p.id.clone(), p.server_url()))
        .collect()
}

/// The `ip:port` of a `ws://ip:port/ws` URL (the form nearby servers have).
fn url_addr(url: &str) -> Option<SocketAddr> {
    let rest = url.strip_prefix("ws://")?;
    let hostport = rest.split('/').next()?;
    hostport.parse().ok()
}

/// Whether `ip` is one of this machine's addresses: binding to it works.
fn is_local_ip(ip: IpAddr) -> bool {
    ip.is_loopback() || std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// Passes one server's events on, tagged; `(via, None)` when it ends.
async fn forward(via: Via, mut rx: mpsc::Receiver<SignalEvent>, tx: mpsc::Sender<Tagged>) {
    while let Some(ev) = rx.recv().await {
        if tx.send((via.clone(), Some(ev))).await.is_err() {
            return;
        }
    }
    let _ = tx.send((via, None)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(seed: u8) -> PeerId {
        PeerId::from_public_key(&SigningKey::from_bytes(&[seed; 32]).verifying_key())
    }

    fn peer(seed: u8, ip: &str) -> NearbyPeer {
        NearbyPeer {
            id: id(seed),
            name: format!("p{seed}"),
            addrs: vec![ip.parse().unwrap()],
            port: 40_000,
            version: parley_proto::PROTOCOL_VERSION,
        }
    }

    #[test]
    fn only_contacts_other_than_us_that_bind_sign_ins_are_wanted() {
        let mut old = peer(4, "192.0.2.4");
        old.version = 4;
        let list = [
            peer(1, "192.0.2.1"),
            peer(2, "192.0.2.2"),
            peer(3, "192.0.2.3"),
            old,
        ];
        let contacts: HashSet<PeerId> = [id(1), id(2), id(4)].into_iter().collect();
        let got: Vec<_> = wanted(&list, &contacts, &id(1)).into_iter().collect();
        assert_eq!(got, vec![(id(2), "ws://192.0.2.2:40000/ws".to_owned())]);
    }

    #[test]
    fn urls_are_read_and_this_machine_is_recognised() {
        assert_eq!(
            url_addr("ws://192.0.2.2:40000/ws"),
            Some("192.0.2.2:40000".parse().unwrap())
        );
        assert_eq!(
            url_addr("ws://[fd00::5]:8443/ws"),
            Some("[fd00::5]:8443".parse().unwrap())
        );
        assert_eq!(url_addr("wss://x/ws"), None);
        assert!(is_local_ip("127.0.0.1".parse().unwrap()));
        // TEST-NET-1 is never assigned to a machine.
        assert!(!is_local_ip("192.0.2.77".parse().unwrap()));
    }
}
