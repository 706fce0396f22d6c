//! The group side of a running call (docs/protocol.md §6.4): contacts we
//! invite into it, and members who join after us, to whom we offer a link.

use std::time::Instant;

use parley_proto::{ClientMessage, ErrorCode, PeerId, ServerMessage};

use super::Room;
use crate::call::peer_link::LinkOutcome;
use crate::call::CallEvent;

impl Room {
    /// A message of this call from someone we have no link to: in a group call
    /// (docs/protocol.md §6.4), news of the contacts we invited, of members who
    /// join (we were in the call first, so we offer them a link), and offers
    /// from members who joined while we rang (we answer them).
    pub(super) async fn on_group_signal(
        &mut self,
        msg: ServerMessage,
    ) -> Vec<(PeerId, Vec<LinkOutcome>)> {
        match msg {
            ServerMessage::Accept { from: peer, .. }
            | ServerMessage::Joined { member: peer, .. } => {
                self.invited.remove(&peer);
                let _ = self
                    .events
                    .send(CallEvent::PeerJoined { peer: peer.clone() })
                    .await;
                match self.factory.open(&peer, true).await {
                    Ok((link, own)) => return vec![self.add_link(link, own, true).await],
                    Err(e) => tracing::warn!(%peer, "cannot open a link to a new member: {e}"),
                }
            }
            // A member who joined while we were ringing (so not in our invite's
            // list) offers us a link: answer it (the server relays offers only
            // between joined members).
            ServerMessage::Offer { ref from, .. } => {
                let peer = from.clone();
                let _ = self
                    .events
                    .send(CallEvent::PeerJoined { peer: peer.clone() })
                    .await;
                match self.factory.open(&peer, false).await {
                    Ok((link, own)) => {
                        let (peer, mut outcomes) = self.add_link(link, own, false).await;
                        if let Some(link) = self.links.get_mut(&peer) {
                            outcomes.extend(link.on_signal(msg, Instant::now()).await);
                        }
                        return vec![(peer, outcomes)];
                    }
                    Err(e) => tracing::warn!(%peer, "cannot open a link to a member: {e}"),
                }
            }
            ServerMessage::Ringing { from, .. } if self.invited.contains(&from) => {
                let _ = self.events.send(CallEvent::Ringing { peer: from }).await;
            }
            ServerMessage::Decline { from, reason, .. } if self.invited.remove(&from) => {
                let reason = match reason {
                    Some(r) => format!("declined: {r}"),
                    None => "declined".to_owned(),
                };
                self.invite_failed(Some(from), reason).await;
            }
            ServerMessage::Busy { from, .. } if self.invited.remove(&from) => {
                self.invite_failed(Some(from), "busy in another call".into())
                    .await;
            }
            other => tracing::debug!("ignoring a {} from a non-member", other.type_name()),
        }
        Vec::new()
    }

    /// An `error` about this call: the refusal of an invitation we sent (it
    /// names no peer; with one pending, it is that one's), or a warning.
    pub(super) async fn on_server_error(&mut self, msg: ServerMessage) {
        let ServerMessage::Error { code, message, .. } = msg else {
            return;
        };
        let refused_add = matches!(
            code,
            ErrorCode::Offline | ErrorCode::UnsupportedVersion | ErrorCode::Invalid
        );
        if refused_add && !self.invited.is_empty() {
            let named = self
                .invited
                .iter()
                .find(|p| message.contains(p.as_str()))
                .cloned();
            let only = match self.invited.len() {
                1 => self.invited.iter().next().cloned(),
                _ => None,
            };
            let peer = named.or(only);
            if let Some(p) = &peer {
                self.invited.remove(p);
            }
            return self.invite_failed(peer, message).await;
        }
        tracing::warn!("server error for this call: {} {message}", code.as_str());
    }

    async fn invite_failed(&mut self, peer: Option<PeerId>, reason: String) {
        tracing::info!(?peer, "invitation failed: {reason}");
        let _ = self
            .events
            .send(CallEvent::InviteFailed { peer, reason })
            .await;
    }

    /// Invites `peer` into the call (`add`, docs/protocol.md §6.4).
    pub(super) async fn invite(&mut self, peer: PeerId) {
        if self.links.contains_key(&peer) || !self.invited.insert(peer.clone()) {
            return;
        }
        let add = ClientMessage::Add {
            call_id: self.call_id.clone(),
            to: peer.clone(),
        };
        if let Err(e) = self.factory.signaling().send(add).await {
            self.invited.remove(&peer);
            self.invite_failed(Some(peer), e.to_string()).await;
        }
    }
}
