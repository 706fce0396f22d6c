//! The state every connection task shares: the registry of connected clients
//! around the hub, delivery of the hub's frames, per-address limits, and the
//! hand-off of the hub's SFU commands to the SFU task.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use parley_proto::{ClientMessage, PeerId};
use tokio::sync::{mpsc, Notify};

use crate::hub::{Delivery, Hub, SfuCommand};
use crate::iplimit::{IpLimits, Refusal};
use crate::sfu::{Grant, SfuRoom};
use crate::ServerConfig;

/// How the registry reaches one authenticated connection.
#[derive(Debug)]
pub(crate) struct ClientHandle {
    /// Distinguishes successive connections of the same peer id.
    pub(crate) conn_id: u64,
    /// The connection's outbound queue of JSON text frames.
    pub(crate) tx: mpsc::Sender<String>,
    /// Tells the connection task to close (replaced, or queue overflow).
    pub(crate) kick: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Registry {
    hub: Hub,
    clients: HashMap<PeerId, ClientHandle>,
    /// The SFU task's queue, when the server has an SFU.
    sfu_tx: Option<mpsc::Sender<SfuCommand>>,
}

impl Registry {
    /// Queues each delivery on its recipient's channel without waiting; a full
    /// queue gets its connection kicked.
    fn dispatch(&self, out: Vec<Delivery>) {
        for Delivery { to, msg } in out {
            let Some(client) = self.clients.get(&to) else {
                continue;
            };
            match client.tx.try_send(msg.to_json()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(peer = %to, "outbound queue full; dropping client");
                    client.kick.notify_one();
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// [`dispatch`](Self::dispatch)es `out`, then queues the SFU commands the
    /// hub has for the SFU task, without waiting. A command that finds the
    /// queue full is dropped; a room that could not be asked for fails at once
    /// (its members get `sfu_unavailable`).
    fn deliver(&mut self, out: Vec<Delivery>) {
        self.dispatch(out);
        let commands = self.hub.take_sfu_commands();
        let Some(tx) = &self.sfu_tx else {
            return;
        };
        let mut unopened = Vec::new();
        for command in commands {
            match tx.try_send(command) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(command)) => {
                    tracing::warn!(?command, "sfu command queue full; command dropped");
                    if let SfuCommand::Open { call_id, .. } = command {
                        unopened.push(call_id);
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    tracing::debug!("sfu task stopped; command dropped");
                }
            }
        }
        for call_id in unopened {
            // Queues nothing: the call was only waiting for a room.
            let out = self.hub.sfu_failed(&call_id, None, "the SFU is overloaded");
            self.dispatch(out);
        }
    }
}

/// State shared by every connection task.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    registry: Mutex<Registry>,
    next_conn_id: AtomicU64,
    ip_limits: Mutex<IpLimits>,
}

impl Shared {
    /// Shared state with no client yet. With `sfu` = (`sfu_from`, queue), media
    /// calls of `sfu_from` or more members (invited ones included) run through
    /// the SFU, whose task reads `queue`; `None`: no SFU.
    pub(crate) fn new(sfu: Option<(usize, mpsc::Sender<SfuCommand>)>) -> Shared {
        let (sfu_from, sfu_tx) = sfu.unzip();
        let registry = Registry {
            hub: Hub::with_sfu_from(sfu_from),
            clients: HashMap::new(),
            sfu_tx,
        };
        Shared {
            registry: Mutex::new(registry),
            next_conn_id: AtomicU64::new(0),
            ip_limits: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // The registry stays consistent across a panic in another thread (every
        // mutation is a single hub call), so a poisoned lock is still usable.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh connection id.
    pub(crate) fn next_conn_id(&self) -> u64 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes `id`, speaking `protocol`, reachable through `client`; an older
    /// connection of the same id is kicked and its ringing calls end.
    pub(crate) fn register(&self, id: &PeerId, client: ClientHandle, protocol: u32) {
        let mut reg = self.lock();
        if let Some(old) = reg.clients.insert(id.clone(), client) {
            tracing::info!(peer = %id, "new connection replaces the old one");
            old.kick.notify_one();
        }
        let out = reg.hub.connect(id, protocol);
        reg.deliver(out);
        tracing::debug!(
            online = reg.hub.online_count(),
            calls = reg.hub.call_count(),
            "registered"
        );
    }

    /// Forgets connection `conn_id` of `id`, unless a newer connection replaced it.
    /// Returns the epoch to pass to [`grace_over`](Self::grace_over) when `id`
    /// left accepted calls waiting for it.
    pub(crate) fn unregister(&self, id: &PeerId, conn_id: u64) -> Option<u64> {
        let mut reg = self.lock();
        if reg.clients.get(id).map(|c| c.conn_id) != Some(conn_id) {
            return None;
        }
        reg.clients.remove(id);
        let out = reg.hub.disconnect(id);
        reg.deliver(out);
        reg.hub.grace_epoch(id)
    }

    /// `id`'s grace period after disconnect `epoch` ran out: its calls end if it
    /// has not come back.
    pub(crate) fn grace_over(&self, id: &PeerId, epoch: u64) {
        let mut reg = self.lock();
        let out = reg.hub.grace_over(id, epoch);
        reg.deliver(out);
    }

    /// Admits a connection from `ip` under the per-address limits (released by
    /// [`release_ip`](Self::release_ip) when it closes).
    pub(crate) fn admit_ip(&self, ip: IpAddr, config: &ServerConfig) -> Result<(), Refusal> {
        self.ip_limits().admit(
            ip,
            config.max_connections_per_ip,
            config.max_failed_auths_per_ip,
            std::time::Instant::now(),
        )
    }

    /// A connection [`admit_ip`](Self::admit_ip) let in closed.
    pub(crate) fn release_ip(&self, ip: IpAddr) {
        self.ip_limits().release(ip);
    }

    /// A connection from `ip` failed to authenticate.
    pub(crate) fn auth_failed(&self, ip: IpAddr, config: &ServerConfig) {
        self.ip_limits().auth_failed(
            ip,
            config.max_failed_auths_per_ip,
            std::time::Instant::now(),
        );
    }

    fn ip_limits(&self) -> MutexGuard<'_, IpLimits> {
        self.ip_limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The number of the invitation of `invitee` into `call_id`, while it rings.
    pub(crate) fn ring_of(&self, call_id: &str, invitee: &PeerId) -> Option<u64> {
        self.lock().hub.ring_of(call_id, invitee)
    }

    /// The ring timeout of invitation `ring` of `invitee` into `call_id` ran
    /// out: the invitation ends if it still rings.
    pub(crate) fn ring_over(&self, call_id: &str, invitee: &PeerId, ring: u64) {
        let mut reg = self.lock();
        let out = reg.hub.ring_over(call_id, invitee, ring);
        reg.deliver(out);
    }

    /// Handles a message from the authenticated peer `from`.
    pub(crate) fn handle(&self, from: &PeerId, msg: ClientMessage) {
        let mut reg = self.lock();
        let out = reg.hub.handle(from, msg);
        reg.deliver(out);
    }

    /// The SFU opened `room` for `call_id`: its joined members are admitted
    /// (or the room is closed if the call ended meanwhile).
    pub(crate) fn sfu_opened(&self, call_id: &str, room: SfuRoom) {
        let mut reg = self.lock();
        let out = reg.hub.sfu_opened(call_id, room);
        reg.deliver(out);
    }

    /// The SFU admitted `member` of `call_id` to `room` with `grant`: the member
    /// gets its `sfu` access and the others `sfu_feed` (or the grant is revoked
    /// if nobody needs it any more).
    pub(crate) fn sfu_admitted(&self, call_id: &str, room: u64, member: &PeerId, grant: Grant) {
        let mut reg = self.lock();
        let out = reg.hub.sfu_admitted(call_id, room, member, grant);
        reg.deliver(out);
    }

    /// The SFU could not open a room for `call_id` (`room` `None`) or admit a
    /// member to `room`: the call goes on without it, its joined members get
    /// `sfu_unavailable` with `reason` as its message.
    pub(crate) fn sfu_failed(&self, call_id: &str, room: Option<u64>, reason: &str) {
        let mut reg = self.lock();
        let out = reg.hub.sfu_failed(call_id, room, reason);
        reg.deliver(out);
    }
}
