//! The peers found nearby, by service instance: what the browsing thread keeps
//! between mDNS events, and the list it publishes. Pure.

use std::collections::HashMap;

use super::NearbyPeer;

/// Most instances kept at once; a flood of announcements beyond this is ignored
/// (a LAN with more Parleys than this lists the first ones).
pub(crate) const MAX_INSTANCES: usize = 256;

/// Believed announcements by full instance name (`<instance>._parley._tcp.local.`,
/// lower-cased: DNS names compare without case, RFC 6762 §16), each with the
/// order it arrived in.
#[derive(Debug, Default)]
pub(crate) struct PeerList {
    entries: HashMap<String, (u64, NearbyPeer)>,
    arrivals: u64,
}

impl PeerList {
    /// Records `peer` as what instance `fullname` announces now (resolved or
    /// updated). Returns whether [`PeerList::list`] changed.
    pub(crate) fn upsert(&mut self, fullname: &str, peer: NearbyPeer) -> bool {
        let key = fullname.to_ascii_lowercase();
        match self.entries.get(&key) {
            Some((_, known)) if *known == peer => return false,
            None if self.entries.len() >= MAX_INSTANCES => {
                tracing::debug!(fullname = ?fullname, "nearby: too many instances; ignored");
                return false;
            }
            _ => {}
        }
        self.arrivals += 1;
        self.entries.insert(key, (self.arrivals, peer));
        true
    }

    /// Forgets instance `fullname` (removed, its records expired, or no longer
    /// believed). Returns whether [`PeerList::list`] changed.
    pub(crate) fn remove(&mut self, fullname: &str) -> bool {
        self.entries
            .remove(&fullname.to_ascii_lowercase())
            .is_some()
    }

    /// The peers: one per id (when several instances claim one id, the latest to
    /// arrive), sorted by name (without case), then name, then id.
    pub(crate) fn list(&self) -> Vec<NearbyPeer> {
        let mut latest: HashMap<&parley_proto::PeerId, &(u64, NearbyPeer)> = HashMap::new();
        for entry in self.entries.values() {
            let slot = latest.entry(&entry.1.id).or_insert(entry);
            if entry.0 > slot.0 {
                *slot = entry;
            }
        }
        let mut peers: Vec<NearbyPeer> = latest.into_values().map(|(_, p)| p.clone()).collect();
        peers.sort_by(|a, b| {
            (a.name.to_lowercase(), &a.name, &a.id).cmp(&(b.name.to_lowercase(), &b.name, &b.id))
        });
        peers
    }
}

#[cfg(test)]
mod tests {
    use parley_proto::PeerId;

    use super::*;

    fn peer(seed: u8, name: &str, port: u16) -> NearbyPeer {
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        NearbyPeer {
            id: PeerId::from_public_key(&key.verifying_key()),
            name: name.into(),
            addrs: vec!["192.168.1.20".parse().unwrap()],
            port,
            version: 5,
        }
    }

    #[test]
    fn peers_come_and_go_sorted_by_name() {
        let mut list = PeerList::default();
        assert!(list.upsert("b._parley._tcp.local.", peer(2, "bob", 1)));
        assert!(list.upsert("a._parley._tcp.local.", peer(1, "Alice", 1)));
        assert!(list.upsert("c._parley._tcp.local.", peer(3, "carol", 1)));
        let names: Vec<String> = list.list().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["Alice", "bob", "carol"]);
        // The same again changes nothing; an update does.
        assert!(!list.upsert("B._PARLEY._tcp.local.", peer(2, "bob", 1)));
        assert!(list.upsert("b._parley._tcp.local.", peer(2, "bob", 2)));
        assert!(list.remove("A._parley._tcp.local."));
        assert!(!list.remove("a._parley._tcp.local."));
        let names: Vec<String> = list.list().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["bob", "carol"]);
    }

    #[test]
    fn one_id_is_listed_once_as_last_announced() {
        let mut list = PeerList::default();
        list.upsert("x._parley._tcp.local.", peer(1, "first", 1));
        list.upsert("y._parley._tcp.local.", peer(1, "second", 2));
        assert_eq!(list.list(), vec![peer(1, "second", 2)]);
        list.remove("y._parley._tcp.local.");
        assert_eq!(list.list(), vec![peer(1, "first", 1)]);
    }

    #[test]
    fn a_flood_is_capped() {
        let mut list = PeerList::default();
        for n in 0..MAX_INSTANCES + 10 {
            list.upsert(&format!("{n}._parley._tcp.local."), peer(1, "same", 1));
        }
        assert_eq!(list.entries.len(), MAX_INSTANCES);
        assert_eq!(list.list().len(), 1);
    }
}
