//! The client task's side of being signed in to several servers: joining and
//! leaving the servers of contacts found nearby, and the merged presence that
//! follows (`client/servers.rs`, `client/presence.rs`).

use std::collections::HashSet;

use parley_proto::PeerId;

use super::Task;
use crate::client::presence::Change;
use crate::client::servers::{self, Via};
use crate::client::ClientEvent;
use crate::signaling::SignalingClient;
use crate::{Error, Result};

impl Task {
    /// The connection to `via`, for a call or a session to run through.
    ///
    /// Errors: [`Error::Signaling`] when we are not (or no longer) signed in to it.
    pub(super) fn signaling_for(&self, via: &Via) -> Result<SignalingClient> {
        self.servers
            .get(via)
            .cloned()
            .ok_or_else(|| Error::Signaling(format!("no longer signed in to the server {via:?}")))
    }

    /// Tells the app what changed in the merged presence: `Presence` when a
    /// contact came online somewhere or went offline everywhere (its data
    /// sessions end then), `Reach` when the server it is reached through changed.
    pub(super) async fn on_presence_change(&mut self, change: Option<Change>) {
        let Some(change) = change else {
            return;
        };
        if let Some(online) = change.online {
            if !online {
                // Its sessions cannot carry anything any more; the server
                // normally says so with a hangup, this covers a lost one.
                self.sessions.hang_up_peer(&change.id).await;
            }
            self.emit(ClientEvent::Presence {
                id: change.id.clone(),
                online,
            })
            .await;
            if online {
                // Files that did not arrive before go on by themselves.
                self.resume_outbox(&change.id, None).await;
            }
        }
        if let Some(via) = change.route {
            self.emit(ClientEvent::Reach { id: change.id, via }).await;
        }
    }

    /// Forgets what `via` said of anyone's presence (it dropped or was left).
    pub(super) async fn forget_presence(&mut self, via: &Via) {
        for change in self.presence.forget_server(via) {
            self.on_presence_change(Some(change)).await;
        }
    }

    /// A nearby server's connection task ended.
    pub(super) async fn on_server_gone(&mut self, via: &Via) {
        if let Via::Nearby(owner) = via {
            self.servers.leave(owner);
        }
        self.forget_presence(via).await;
    }

    /// Joins the servers of the contacts found nearby, and leaves those whose
    /// owners are gone (after a grace period, and not while in use).
    pub(super) async fn sync_servers(&mut self) {
        let Some(list) = &self.nearby_list else {
            return;
        };
        let list = list.borrow().clone();
        if list.is_empty() && !self.servers.any_nearby() {
            return;
        }
        let contacts: HashSet<PeerId> = match self.profile.contacts() {
            Ok(c) => c.into_iter().map(|c| c.id).collect(),
            Err(e) => {
                tracing::warn!("contacts: {e}");
                return;
            }
        };
        let wanted = servers::wanted(&list, &contacts, &self.profile.identity().id());
        let in_use = self.servers_in_use();
        for via in self.servers.sync(&wanted, &in_use) {
            self.forget_presence(&via).await;
        }
    }

    /// The servers the call, a ringing call or a data session runs through.
    fn servers_in_use(&self) -> HashSet<Via> {
        let mut used: HashSet<Via> = self.sessions.vias().collect();
        if let Some(active) = &self.call {
            used.insert(active.via.clone());
        }
        if self.pending.is_some() {
            used.insert(self.pending_via.clone());
        }
        used
    }
}
