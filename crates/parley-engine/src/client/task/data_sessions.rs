//! The client task's side of data sessions ([`crate::client::sessions`]): routing
//! chat and files to a call or a session, answering a contact's session, ending.

use std::sync::Arc;

use parley_proto::{CallKind, ClientMessage, PeerId};
use tokio::sync::mpsc;

use super::{Task, CALL_SIGNAL_QUEUE};
use crate::call::CallError;
use crate::call::{new_call_id, Call, CallCommand, CallEvent, CallOptions, Direction};
use crate::client::servers::Via;
use crate::client::sessions::Session;
use crate::client::{CallPhase, ClientEvent};
use crate::storage::Direction as ChatDirection;
use crate::transfer::{TransferEvent, TransferOutcome};
use crate::Result;

impl Task {
    /// Sends chat or files to `peer`: over the call with them, else over a data
    /// session with them (opened now if there is none; the commands wait for its
    /// data channels).
    ///
    /// Returns the call id of the call or session that carries them.
    ///
    /// Errors: [`CallError::Offline`] when `peer` is known to be offline.
    pub(super) async fn send_to_peer(
        &mut self,
        peer: &PeerId,
        commands: Vec<CallCommand>,
    ) -> Result<String> {
        let offline = self.presence.online(peer) == Some(false);
        // A call carries them once accepted; one still ringing may yet be declined,
        // and what waits in it would be lost.
        let call = self
            .call_with(peer)
            .filter(|a| matches!(a.info.state, CallPhase::Connecting | CallPhase::Connected));
        let target = match (call, self.sessions.with_peer(peer)) {
            (Some(a), _) => Some((&a.call, &a.info.call_id)),
            (None, Some(s)) if !offline => Some((&s.call, &s.call_id)),
            _ => None,
        };
        if let Some((call, call_id)) = target {
            for c in commands {
                call.command(c).await?;
            }
            return Ok(call_id.clone());
        }
        if offline {
            return Err(CallError::Offline {
                peer: peer.clone(),
                name: Some(self.name_of(peer)),
            }
            .into());
        }
        let mut options = self.session_options();
        for c in commands {
            match c {
                CallCommand::Chat(text) => options.chat.push(text),
                CallCommand::SendFile(file) => options.send_files.push(file),
                CallCommand::SendFiles(files) => options.send_files.extend(files),
                other => tracing::debug!("not for a new data session: {other:?}"),
            }
        }
        let call_id = new_call_id();
        let direction = Direction::Outgoing {
            to: peer.clone(),
            call_id: call_id.clone(),
        };
        // Through the server the peer is online on.
        let via = self.presence.route(peer).unwrap_or(Via::Home);
        self.start_session(direction, call_id.clone(), peer.clone(), options, via, true)?;
        Ok(call_id)
    }

    /// A peer opens a data session: answered when it is one of our contacts,
    /// declined otherwise (no one else learns our address from a session).
    pub(super) async fn on_data_invite(&mut self, via: Via, call_id: String, from: PeerId) {
        let known = self
            .profile
            .contacts()
            .map(|list| list.iter().any(|c| c.id == from))
            .unwrap_or(false);
        if !known {
            tracing::info!(%from, "declining a data session from someone not in our contacts");
            if let Some(server) = self.servers.get(&via) {
                let _ = server
                    .send(ClientMessage::Decline {
                        call_id,
                        reason: Some("not a contact".into()),
                    })
                    .await;
            }
            return;
        }
        let direction = Direction::Incoming {
            call_id: call_id.clone(),
            from: from.clone(),
        };
        let options = self.session_options();
        if let Err(e) = self.start_session(direction, call_id, from, options, via, false) {
            tracing::warn!("data session: {e}");
        }
    }

    fn session_options(&self) -> CallOptions {
        CallOptions {
            kind: CallKind::Data,
            rtc: self.config.rtc.clone(),
            receive_dir: Some(self.config.download_dir.clone()),
            ask_before_receiving: self.config.ask_before_receiving,
            profile: Some(Arc::clone(&self.profile)),
            ..Default::default()
        }
    }

    /// Starts a data session through the server `via`.
    ///
    /// Errors: we are no longer signed in to `via` ([`crate::Error::Signaling`]).
    fn start_session(
        &mut self,
        direction: Direction,
        call_id: String,
        peer: PeerId,
        mut options: CallOptions,
        via: Via,
        outgoing: bool,
    ) -> Result<()> {
        tracing::info!(%call_id, %peer, outgoing, ?via, "data session starting");
        let server = self.signaling_for(&via)?;
        options.refuse_server_ice = via.is_nearby();
        let (sig_tx, sig_rx) = mpsc::channel(CALL_SIGNAL_QUEUE);
        let call = Call::start(server, sig_rx, direction, options);
        self.sessions
            .add(Session::new(call, call_id, peer, sig_tx, via, outgoing));
        Ok(())
    }

    /// One event of the session `call_id`; `None` = it ended.
    pub(super) async fn on_session_event(&mut self, call_id: String, ev: Option<CallEvent>) {
        let Some(peer) = self.sessions.by_call_id(&call_id).map(|s| s.peer.clone()) else {
            return;
        };
        let ev = match ev {
            None | Some(CallEvent::Ended { .. }) => return self.end_session(&call_id).await,
            Some(ev) => ev,
        };
        let out = match ev {
            CallEvent::Connected { .. } => {
                self.sessions.set_connected(&call_id);
                None
            }
            CallEvent::ChatReceived { message, .. } => Some(ClientEvent::Chat {
                peer,
                message,
                direction: ChatDirection::Received,
            }),
            CallEvent::ChatSent(message) => Some(ClientEvent::Chat {
                peer,
                message,
                direction: ChatDirection::Sent,
            }),
            CallEvent::ChatDelivered { id, .. } => Some(ClientEvent::ChatDelivered { id }),
            CallEvent::Transfer { event, .. } => {
                let event = self.note_transfer(event);
                Some(ClientEvent::Transfer { peer, event })
            }
            _ => None,
        };
        if let Some(out) = out {
            let transfer = match &out {
                ClientEvent::Transfer { event, .. } => Some(event),
                _ => None,
            };
            self.sessions.touch(&call_id, transfer);
            self.emit(out).await;
        }
    }

    /// Waits for the session's task; one we opened that never connected is
    /// reported (the chat or files it carried did not reach the peer).
    async fn end_session(&mut self, call_id: &str) {
        let Some(session) = self.sessions.remove(call_id) else {
            return;
        };
        let _ = session.call.command(CallCommand::Hangup).await;
        let result = session.call.finish().await;
        tracing::info!(%call_id, ?result, "data session ended");
        // Transfers it still carried cannot go on: say so rather than leave them
        // "offered" or "moving" in the UI.
        let mut left: Vec<_> = session.transfers.into_iter().collect();
        left.sort_by(|a, b| a.0.cmp(&b.0));
        for (transfer_id, (name, direction)) in left {
            let event = TransferEvent::Failed {
                transfer_id,
                name,
                bytes_total: 0,
                outcome: TransferOutcome::Failed,
                reason: "the connection to the contact closed".into(),
                direction,
                batch: None,
            };
            let event = self.note_transfer(event);
            let peer = session.peer.clone();
            self.emit(ClientEvent::Transfer { peer, event }).await;
        }
        self.note_call_ended(call_id).await;
        if session.outgoing && !session.connected {
            let why = match result {
                Ok(report) => report.end_reason,
                Err(e) => e.to_string(),
            };
            let name = self.name_of(&session.peer);
            self.emit(ClientEvent::Error {
                code: "peer_unreachable",
                message: format!("could not reach {name}: {why}"),
            })
            .await;
        }
    }

    /// Hangs up every data session and waits for them (client shutdown).
    pub(super) async fn end_sessions(&mut self) {
        for session in self.sessions.drain() {
            let _ = session.call.command(CallCommand::Hangup).await;
            let _ = session.call.finish().await;
        }
    }

    /// The contact's name, or its id when it is not a contact.
    pub(super) fn name_of(&self, peer: &PeerId) -> String {
        self.profile
            .contacts()
            .ok()
            .and_then(|list| list.into_iter().find(|c| c.id == *peer))
            .and_then(|c| c.name)
            .unwrap_or_else(|| peer.to_string())
    }
}
