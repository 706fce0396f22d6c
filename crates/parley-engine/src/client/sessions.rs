//! Data sessions: peer connections with only the data channels, so chat and files
//! reach a contact outside a call (docs/protocol.md §6.1, `kind: "data"`).
//!
//! The client opens one on the first chat message or file for a contact it is not
//! in a call with; the contact's client answers by itself when we are in its
//! contact list. A session stays up while it is used and closes after
//! [`SESSION_IDLE_MS`] without chat or transfer activity (never while a transfer
//! is offered or moving), or when either side goes offline.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::future::select_all;
use parley_proto::PeerId;
use tokio::sync::mpsc;

use super::servers::Via;
use crate::call::{Call, CallCommand, CallEvent};
use crate::signaling::SignalEvent;
use crate::transfer::{TransferDirection, TransferEvent};

/// A data session closes after this long without chat or transfer events, ms.
pub const SESSION_IDLE_MS: u64 = 5 * 60_000;
/// How often idle sessions are looked for, ms.
pub(super) const IDLE_CHECK_MS: u64 = 30_000;

/// One running data session.
pub(super) struct Session {
    pub(super) call: Call,
    pub(super) call_id: String,
    pub(super) peer: PeerId,
    pub(super) signals: mpsc::Sender<SignalEvent>,
    /// The server the session runs through.
    pub(super) via: Via,
    pub(super) connected: bool,
    /// We opened it (only then is a failure to connect ours to report).
    pub(super) outgoing: bool,
    /// Asked to hang up: new chat and files go to a new session.
    closing: bool,
    /// Transfers offered or moving: id → (name, direction). The session is not
    /// idle while any is; those left when it ends are reported failed.
    pub(super) transfers: HashMap<String, (String, TransferDirection)>,
    last_active: Instant,
}

impl Session {
    pub(super) fn new(
        call: Call,
        call_id: String,
        peer: PeerId,
        signals: mpsc::Sender<SignalEvent>,
        via: Via,
        outgoing: bool,
    ) -> Self {
        Self {
            call,
            call_id,
            peer,
            signals,
            via,
            connected: false,
            outgoing,
            closing: false,
            transfers: HashMap::new(),
            last_active: Instant::now(),
        }
    }
}

/// The client's data sessions, any number per peer (two clients that open one at
/// the same moment both keep theirs; either carries the chat).
#[derive(Default)]
pub(super) struct Sessions {
    list: Vec<Session>,
}

impl Sessions {
    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(super) fn add(&mut self, session: Session) {
        self.list.push(session);
    }

    /// The servers the sessions run through.
    pub(super) fn vias(&self) -> impl Iterator<Item = Via> + '_ {
        self.list.iter().map(|s| s.via.clone())
    }

    /// A session with `peer` that is not closing, if there is one.
    pub(super) fn with_peer(&self, peer: &PeerId) -> Option<&Session> {
        self.list.iter().find(|s| s.peer == *peer && !s.closing)
    }

    /// The session `call_id`, if it is one of ours.
    pub(super) fn by_call_id(&self, call_id: &str) -> Option<&Session> {
        self.list.iter().find(|s| s.call_id == call_id)
    }

    fn by_call_id_mut(&mut self, call_id: &str) -> Option<&mut Session> {
        self.list.iter_mut().find(|s| s.call_id == call_id)
    }

    /// Takes the session `call_id` out of the list.
    pub(super) fn remove(&mut self, call_id: &str) -> Option<Session> {
        let i = self.list.iter().position(|s| s.call_id == call_id)?;
        Some(self.list.swap_remove(i))
    }

    /// Takes every session out of the list.
    pub(super) fn drain(&mut self) -> Vec<Session> {
        std::mem::take(&mut self.list)
    }

    /// Sends `make()` to every session; `true` when there was one.
    pub(super) async fn broadcast(&self, make: impl Fn() -> CallCommand) -> bool {
        for s in &self.list {
            let _ = s.call.command(make()).await;
        }
        !self.list.is_empty()
    }

    /// The next event of any session, with its call id; `None` = that session's
    /// task has ended. Must not be called with no sessions. Cancel-safe.
    pub(super) async fn next_event(&mut self) -> (String, Option<CallEvent>) {
        let waits = self
            .list
            .iter_mut()
            .map(|s| Box::pin(async move { (s.call_id.clone(), s.call.next_event().await) }));
        select_all(waits).await.0
    }

    /// Notes activity on `call_id` (chat or a transfer), so it is not closed as
    /// idle; a transfer counts as running from its offer to its end.
    pub(super) fn touch(&mut self, call_id: &str, transfer: Option<&TransferEvent>) {
        let Some(s) = self.by_call_id_mut(call_id) else {
            return;
        };
        s.last_active = Instant::now();
        match transfer {
            Some(
                TransferEvent::Incoming(p) | TransferEvent::Offered(p) | TransferEvent::Progress(p),
            ) => {
                s.transfers
                    .insert(p.transfer_id.clone(), (p.name.clone(), p.direction));
            }
            // `Queued` is this session's end of a queued file's attempt too.
            Some(
                TransferEvent::Completed { transfer_id, .. }
                | TransferEvent::Failed { transfer_id, .. }
                | TransferEvent::Queued { transfer_id, .. },
            ) => {
                s.transfers.remove(transfer_id);
            }
            _ => {}
        }
    }

    /// Marks `call_id` connected.
    pub(super) fn set_connected(&mut self, call_id: &str) {
        if let Some(s) = self.by_call_id_mut(call_id) {
            s.connected = true;
            s.last_active = Instant::now();
        }
    }

    /// Asks every session with `peer` to hang up.
    pub(super) async fn hang_up_peer(&mut self, peer: &PeerId) {
        for s in self.list.iter_mut().filter(|s| s.peer == *peer) {
            s.closing = true;
            let _ = s.call.command(CallCommand::Hangup).await;
        }
    }

    /// Asks every session idle for longer than [`SESSION_IDLE_MS`] with no
    /// transfer offered or moving to hang up (each then ends through its events).
    pub(super) async fn hang_up_idle(&mut self) {
        let idle = Duration::from_millis(SESSION_IDLE_MS);
        for s in self
            .list
            .iter_mut()
            .filter(|s| s.last_active.elapsed() >= idle && s.transfers.is_empty())
        {
            tracing::info!(call_id = %s.call_id, "closing idle data session");
            s.closing = true;
            let _ = s.call.command(CallCommand::Hangup).await;
        }
    }
}
