//! Where each message from Janus goes: the requests waiting for replies (by
//! transaction) and the handles' event queues (by sender), as a pure decision
//! ([`route`]) and the tables it is applied to.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::messages::kind;
use super::HandleEvent;
use crate::{Error, Result};

/// What a waiting request accepts as its reply.
pub(super) enum Expect {
    /// The first reply that is not an `"ack"`.
    Reply,
    /// The `"ack"` (keepalive, trickle).
    Ack,
    /// An attach: on success, register the new handle (of this session) with this
    /// event queue before anything else for it is routed.
    Attach(u64, mpsc::Sender<HandleEvent>),
}

pub(super) struct Pending {
    pub(super) tx: oneshot::Sender<Result<Value>>,
    pub(super) expect: Expect,
}

pub(super) struct HandleEntry {
    pub(super) session: u64,
    pub(super) tx: mpsc::Sender<HandleEvent>,
}

/// Requests waiting for replies and the handles' event queues.
#[derive(Default)]
pub(super) struct Tables {
    pub(super) pending: HashMap<String, Pending>,
    pub(super) handles: HashMap<u64, HandleEntry>,
    pub(super) closed: bool,
}

/// Where one received message goes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// Completes the request with this transaction.
    Reply(String),
    /// To this handle's event queue.
    Handle(u64),
    /// To every handle of this session (a session timeout).
    Session(u64),
    /// Nowhere (an ack before an async reply, or nothing to route by).
    Ignore,
}

/// Decides where `msg` goes; `pending(txn)` is `Some(ack_only)` when a request
/// with that transaction waits (`ack_only`: it is answered by its `"ack"`).
pub(super) fn route(msg: &Value, pending: impl Fn(&str) -> Option<bool>) -> Route {
    let kind = kind(msg);
    if let Some(txn) = msg.get("transaction").and_then(Value::as_str) {
        if let Some(ack_only) = pending(txn) {
            if kind != "ack" || ack_only {
                return Route::Reply(txn.to_owned());
            }
            return Route::Ignore;
        }
    }
    if kind == "ack" {
        return Route::Ignore;
    }
    if let Some(sender) = msg.get("sender").and_then(Value::as_u64) {
        return Route::Handle(sender);
    }
    match msg.get("session_id").and_then(Value::as_u64) {
        Some(session) if kind == "timeout" => Route::Session(session),
        _ => Route::Ignore,
    }
}

impl Tables {
    pub(super) fn dispatch(&mut self, msg: Value) {
        let to = route(&msg, |t| {
            let pending = self.pending.get(t)?;
            Some(matches!(pending.expect, Expect::Ack))
        });
        match to {
            Route::Reply(txn) => {
                let Some(p) = self.pending.remove(&txn) else {
                    return;
                };
                if let Expect::Attach(session, tx) = p.expect {
                    if let (Some(id), "success") = (msg["data"]["id"].as_u64(), kind(&msg)) {
                        self.handles.insert(id, HandleEntry { session, tx });
                    }
                }
                let _ = p.tx.send(Ok(msg));
            }
            Route::Handle(id) => {
                let event = HandleEvent::from_message(msg);
                let gone = matches!(event, HandleEvent::Detached);
                self.deliver(id, event);
                if gone {
                    self.handles.remove(&id);
                }
            }
            Route::Session(session) => {
                let ids: Vec<u64> = self
                    .handles
                    .iter()
                    .filter(|(_, h)| h.session == session)
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    self.deliver(id, HandleEvent::Timeout);
                    self.handles.remove(&id);
                }
            }
            Route::Ignore => tracing::trace!("janus: ignored {msg}"),
        }
    }

    fn deliver(&mut self, id: u64, event: HandleEvent) {
        let Some(entry) = self.handles.get(&id) else {
            tracing::debug!("janus: event for unknown handle {id}: {event:?}");
            return;
        };
        match entry.tx.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => {
                tracing::warn!("janus: event queue of handle {id} full, dropped {event:?}");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.handles.remove(&id);
            }
        }
    }

    /// The connection is gone: fails all requests, ends all event queues.
    pub(super) fn close(&mut self) {
        self.closed = true;
        for (_, p) in self.pending.drain() {
            let _ = p.tx.send(Err(Error::Closed));
        }
        self.handles.clear();
    }
}

pub(super) fn lock(tables: &Mutex<Tables>) -> MutexGuard<'_, Tables> {
    tables.lock().unwrap_or_else(PoisonError::into_inner)
}
