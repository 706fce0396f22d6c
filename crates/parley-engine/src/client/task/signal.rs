//! The client task's signaling side: watching the contacts' presence, the
//! connection's state and the server's messages (presence, invites, cancels).

use parley_proto::{CallKind, ClientMessage, PeerId, ServerMessage};

use super::{new_info, Task};
use crate::client::members::{MemberInfo, MemberState};
use crate::client::servers::Via;
use crate::client::{CallDirection, CallPhase, ClientEvent, ServerState};
use crate::signaling::SignalEvent;

impl Task {
    pub(super) async fn watch_contacts(&self) {
        let ids: Vec<PeerId> = match self.profile.contacts() {
            Ok(c) => c
                .into_iter()
                .map(|c| c.id)
                .chain(self.echo_id.clone())
                .collect(),
            Err(e) => {
                tracing::warn!("contacts: {e}");
                return;
            }
        };
        let _ = self.servers.home().watch(ids).await;
    }

    /// An event of the server `via`: the home server's connection state is the
    /// app's; a nearby server only matters for its owners' presence.
    pub(super) async fn on_signal(&mut self, via: Via, ev: SignalEvent) {
        if let Via::Nearby(owner) = &via {
            match ev {
                SignalEvent::Connected { .. } => {
                    // Only its owner: watching every contact there would hand
                    // our contact list to whoever runs it.
                    if let Some(server) = self.servers.get(&via) {
                        let _ = server.watch(vec![owner.clone()]).await;
                    }
                }
                // As at home, presence stays as it was while the connection is
                // made again; it goes when the server is left or gone.
                SignalEvent::Disconnected { .. } => {}
                SignalEvent::Message(msg) => self.on_server_message(via, msg).await,
            }
            return;
        }
        match ev {
            SignalEvent::Connected { .. } => {
                let info = self.set_connection(|c| {
                    c.state = ServerState::Online;
                    c.error = None;
                    c.retry_in_ms = None;
                });
                self.emit(ClientEvent::Connection(info)).await;
            }
            SignalEvent::Disconnected {
                reason,
                retry_in_ms,
            } => {
                let info = self.set_connection(|c| {
                    c.state = ServerState::Offline;
                    c.error = Some(reason);
                    c.retry_in_ms = Some(retry_in_ms);
                });
                self.emit(ClientEvent::Connection(info)).await;
            }
            SignalEvent::Message(msg) => self.on_server_message(via, msg).await,
        }
    }

    /// A message of the server `via`. One about a call or a session reaches it
    /// only if it runs through that server, so a server cannot speak into a call
    /// that runs through another.
    async fn on_server_message(&mut self, via: Via, msg: ServerMessage) {
        if let Some(active) = &self.call {
            if msg.call_id() == Some(active.info.call_id.as_str()) {
                if active.via == via {
                    let _ = active.signals.send(SignalEvent::Message(msg)).await;
                }
                return;
            }
        }
        if let Some(session) = msg.call_id().and_then(|id| self.sessions.by_call_id(id)) {
            if session.via == via {
                let _ = session.signals.send(SignalEvent::Message(msg)).await;
            }
            return;
        }
        if let ServerMessage::Invite {
            call_id,
            from,
            members,
            ..
        } = &msg
        {
            // A server found nearby rings us only for its owner, one to one.
            if !self.servers.speaks_for(&via, from) || (via.is_nearby() && !members.is_empty()) {
                tracing::info!(%from, ?via, "declining an invite a nearby server made for someone else");
                if let Some(server) = self.servers.get(&via) {
                    let _ = server
                        .send(ClientMessage::Decline {
                            call_id: call_id.clone(),
                            reason: Some("not through this server".into()),
                        })
                        .await;
                }
                return;
            }
        }
        match msg {
            // A nearby server's word on others than its owner is ignored.
            ServerMessage::Presence { id, online } if self.servers.speaks_for(&via, &id) => {
                let change = self.presence.set(via, id, online);
                self.on_presence_change(change).await;
            }
            ServerMessage::Invite {
                call_id,
                from,
                kind: CallKind::Data,
                ..
            } => self.on_data_invite(via, call_id, from).await,
            ServerMessage::Invite {
                call_id,
                from,
                members,
                sfu,
                ..
            } => {
                let Some(server) = self.servers.get(&via).cloned() else {
                    return;
                };
                if self.call.is_some() || self.pending.is_some() {
                    let _ = server
                        .send(ClientMessage::Decline {
                            call_id,
                            reason: Some("busy".into()),
                        })
                        .await;
                    return;
                }
                let _ = server
                    .send(ClientMessage::Ringing {
                        call_id: call_id.clone(),
                    })
                    .await;
                let mut info = new_info(call_id, from, CallDirection::In, CallPhase::RingingIn);
                for m in members.iter().filter(|m| **m != info.peer) {
                    info.members
                        .push(MemberInfo::new(m.clone(), MemberState::Connecting));
                }
                self.pending = Some(info.clone());
                self.pending_members = members;
                // A nearby server has no SFU of ours: one it offers is refused
                // (the call's options say so too).
                self.pending_sfu = sfu && !via.is_nearby();
                self.pending_via = via;
                self.emit(ClientEvent::IncomingCall(info)).await;
            }
            ServerMessage::Cancel { call_id, .. } | ServerMessage::Hangup { call_id, .. }
                if self.pending.as_ref().is_some_and(|p| p.call_id == call_id)
                    && self.pending_via == via =>
            {
                let mut info = self.pending.take().expect("checked");
                info.state = CallPhase::Ended;
                info.end_reason = Some("cancelled".into());
                self.emit(ClientEvent::Call(info)).await;
            }
            ServerMessage::Error {
                code,
                message,
                call_id: None,
            } => {
                tracing::warn!("server: {} {message}", code.as_str());
            }
            _ => {}
        }
    }
}
