//! Presence merged over every server the client is signed in to: a contact is
//! online when any of them says so, and is reached through the one it is online
//! on (its home server first).

use std::collections::{BTreeMap, HashMap};

use parley_proto::PeerId;

use super::servers::Via;

/// What each server last said of each watched id.
#[derive(Debug, Default)]
pub(super) struct Presence {
    by_server: BTreeMap<Via, HashMap<PeerId, bool>>,
}

/// A change of one id's merged view, for the events the app gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Change {
    pub(super) id: PeerId,
    /// Online somewhere, when that changed.
    pub(super) online: Option<bool>,
    /// Where it is reached now ([`Presence::route`]), when that changed.
    pub(super) route: Option<Option<Via>>,
}

impl Presence {
    /// Whether `id` is online on some server; `None` when no server said.
    pub(super) fn online(&self, id: &PeerId) -> Option<bool> {
        let mut said = None;
        for seen in self.by_server.values() {
            match seen.get(id) {
                Some(true) => return Some(true),
                Some(false) => said = Some(false),
                None => {}
            }
        }
        said
    }

    /// The server `id` is reached through: home when it is online there, else
    /// its own server found nearby; `None` when offline.
    pub(super) fn route(&self, id: &PeerId) -> Option<Via> {
        // `Via::Home` sorts first.
        self.by_server
            .iter()
            .find(|(_, seen)| seen.get(id) == Some(&true))
            .map(|(via, _)| via.clone())
    }

    /// Records that `via` says `id` is `online`; the change of the merged view,
    /// if any.
    pub(super) fn set(&mut self, via: Via, id: PeerId, online: bool) -> Option<Change> {
        let before = (self.online(&id), self.route(&id));
        self.by_server
            .entry(via)
            .or_default()
            .insert(id.clone(), online);
        change(id.clone(), before, (self.online(&id), self.route(&id)))
    }

    /// Forgets what `via` said (we left it, or lost it); the changes of the
    /// merged view that follow.
    pub(super) fn forget_server(&mut self, via: &Via) -> Vec<Change> {
        let Some(seen) = self.by_server.get(via) else {
            return Vec::new();
        };
        let ids: Vec<PeerId> = seen.keys().cloned().collect();
        let before: Vec<_> = ids
            .iter()
            .map(|id| (self.online(id), self.route(id)))
            .collect();
        self.by_server.remove(via);
        ids.into_iter()
            .zip(before)
            .filter_map(|(id, before)| {
                let after = (self.online(&id), self.route(&id));
                change(id, before, after)
            })
            .collect()
    }
}

/// The change from `before` to `after` (merged online state, route) of `id`.
fn change(
    id: PeerId,
    before: (Option<bool>, Option<Via>),
    after: (Option<bool>, Option<Via>),
) -> Option<Change> {
    let online = (before.0 != after.0).then_some(after.0.unwrap_or(false));
    let route = (before.1 != after.1).then_some(after.1);
    (online.is_some() || route.is_some()).then_some(Change { id, online, route })
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    fn id(seed: u8) -> PeerId {
        PeerId::from_public_key(&SigningKey::from_bytes(&[seed; 32]).verifying_key())
    }

    fn near(seed: u8) -> Via {
        Via::Nearby(id(seed))
    }

    #[test]
    fn online_anywhere_and_reached_at_home_first() {
        let mut p = Presence::default();
        let bob = id(2);
        let c = p.set(near(2), bob.clone(), true).unwrap();
        assert_eq!(c.online, Some(true));
        assert_eq!(c.route, Some(Some(near(2))));
        // Offline at home changes nothing the app sees.
        assert_eq!(p.set(Via::Home, bob.clone(), false), None);
        assert_eq!(p.online(&bob), Some(true));
        // Online at home: still online, now reached at home.
        let c = p.set(Via::Home, bob.clone(), true).unwrap();
        assert_eq!((c.online, c.route), (None, Some(Some(Via::Home))));
        assert_eq!(p.route(&bob), Some(Via::Home));
    }

    #[test]
    fn leaving_a_server_takes_back_what_it_said() {
        let mut p = Presence::default();
        let (bob, carol) = (id(2), id(3));
        p.set(near(2), bob.clone(), true);
        p.set(Via::Home, bob.clone(), false);
        p.set(near(3), carol.clone(), true);
        p.set(Via::Home, carol.clone(), true);
        // Bob was online only on his own server: gone; Carol is still at home.
        let changes = p.forget_server(&near(2));
        assert_eq!(
            changes,
            vec![Change {
                id: bob.clone(),
                online: Some(false),
                route: Some(None),
            }]
        );
        assert_eq!(p.online(&bob), Some(false));
        assert!(p.forget_server(&near(2)).is_empty());
        // Leaving home: Carol is reached on her own server now.
        let changes = p.forget_server(&Via::Home);
        let carol_change = changes.iter().find(|c| c.id == carol).unwrap();
        assert_eq!(carol_change.online, None);
        assert_eq!(carol_change.route, Some(Some(near(3))));
        // Bob is now unknown rather than offline: no server says anything.
        assert_eq!(p.online(&bob), None);
    }

    #[test]
    fn nothing_said_is_unknown_not_offline() {
        let p = Presence::default();
        assert_eq!(p.online(&id(1)), None);
        assert_eq!(p.route(&id(1)), None);
    }
}
