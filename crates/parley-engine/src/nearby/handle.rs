//! [`Nearby`]: the mDNS daemon, our announcement while it is on, and the thread
//! that keeps the list of peers found.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
use parley_proto::PeerId;
use tokio::sync::watch;

use super::list::PeerList;
use super::record::{self, Reject};
use super::{NearbyConfig, NearbyPeer, SERVICE_TYPE};
use crate::{Error, Result};

/// Longest wait for the mDNS daemon to confirm an unregister or its shutdown
/// (it sends the goodbye packets first), each. Normally a few ms.
const DAEMON_REPLY_WAIT: Duration = Duration::from_secs(1);

fn daemon_error(what: &'static str) -> impl Fn(mdns_sd::Error) -> Error {
    move |e| Error::Nearby(format!("{what}: {e}"))
}

/// Announces us (while switched on) and lists the Parleys found on the local
/// network, live. See the [module docs](super).
///
/// One per process is enough; two (e.g. two apps on one machine) share UDP port
/// 5353 and see each other. Shut down on drop: our announcement is withdrawn
/// with goodbye packets, then the daemon stops.
pub struct Nearby {
    daemon: ServiceDaemon,
    /// Our record; `None` when there is no server port to announce.
    service: Option<ServiceInfo>,
    /// Whether our record is registered with the daemon.
    announcing: Mutex<bool>,
    /// The current list, kept by the browsing thread.
    peers: watch::Receiver<Vec<NearbyPeer>>,
    /// Set by the first [`Nearby::shutdown`].
    closed: AtomicBool,
}

impl std::fmt::Debug for Nearby {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nearby")
            .field("announcing", &self.announcing())
            .field("peers", &*self.peers.borrow())
            .finish_non_exhaustive()
    }
}

impl Nearby {
    /// Starts the mDNS daemon (its own thread; UDP 5353 on every multicast-capable
    /// interface), browses for [`SERVICE_TYPE`] and, with `cfg.announce`,
    /// announces us. Needs no async runtime.
    ///
    /// Errors: [`Error::Invalid`] when asked to announce with `server_port` 0;
    /// [`Error::Nearby`] when the daemon or the browsing thread cannot start.
    /// Sockets are opened by the daemon's thread: a host without multicast shows
    /// up as an empty list, not an error.
    pub fn start(cfg: NearbyConfig) -> Result<Nearby> {
        if cfg.announce && cfg.server_port == 0 {
            return Err(Error::Invalid(
                "announcing needs the embedded server's port".into(),
            ));
        }
        let service = match cfg.server_port {
            0 => None,
            port => Some(record::service_info(&cfg.me, &cfg.name, port)?),
        };
        let daemon = ServiceDaemon::new().map_err(daemon_error("mDNS daemon"))?;
        let stop = |e: Error| {
            let _ = daemon.shutdown();
            e
        };
        // Nobody on the network reaches us through loopback, and announcing our
        // host name there too (127.0.0.1 beside the LAN address) makes the
        // daemon see its own records conflict (RFC 6762 §9) and rename us.
        daemon
            .disable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])
            .map_err(daemon_error("mDNS interfaces"))
            .map_err(stop)?;
        let events = daemon
            .browse(SERVICE_TYPE)
            .map_err(daemon_error("browse"))
            .map_err(stop)?;
        let (tx, peers) = watch::channel(Vec::new());
        let me = cfg.me.clone();
        std::thread::Builder::new()
            .name("parley-nearby".into())
            .spawn(move || browse(events, me, tx))
            .map_err(|e| stop(Error::Nearby(format!("browsing thread: {e}"))))?;
        let nearby = Nearby {
            daemon,
            service,
            announcing: Mutex::new(false),
            peers,
            closed: AtomicBool::new(false),
        };
        // On failure `nearby` drops, which shuts the daemon down.
        nearby.set_announce(cfg.announce)?;
        Ok(nearby)
    }

    /// The Parleys found now (never us), sorted by name, then id.
    pub fn peers(&self) -> Vec<NearbyPeer> {
        self.peers.borrow().clone()
    }

    /// The list, live: a new value whenever someone appears, changes or leaves
    /// (goodbye packets, RFC 6762 §10.1, or records that expired). After
    /// [`Nearby::shutdown`] it keeps its last value and `changed()` fails.
    pub fn watch(&self) -> watch::Receiver<Vec<NearbyPeer>> {
        self.peers.clone()
    }

    /// Whether we are announcing ourselves.
    pub fn announcing(&self) -> bool {
        *self
            .announcing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Switches announcing on (registers our record: probing, then announcing,
    /// RFC 6762 §8) or off (unregisters it: goodbye packets, so others drop us
    /// within about a second, RFC 6762 §10.1). Browsing goes on either way. Doing
    /// what is already done is a no-op.
    ///
    /// Errors: [`Error::Invalid`] when switching on without a server port, or
    /// after [`Nearby::shutdown`]; [`Error::Nearby`] when the daemon refuses.
    pub fn set_announce(&self, on: bool) -> Result<()> {
        let mut announcing = self
            .announcing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *announcing == on {
            return Ok(());
        }
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Invalid("nearby discovery is shut down".into()));
        }
        let Some(service) = &self.service else {
            return Err(Error::Invalid(
                "announcing needs the embedded server's port".into(),
            ));
        };
        if on {
            self.daemon
                .register(service.clone())
                .map_err(daemon_error("announce"))?;
        } else {
            self.daemon
                .unregister(service.get_fullname())
                .map_err(daemon_error("stop announcing"))?;
        }
        *announcing = on;
        Ok(())
    }

    /// Waits until `id` is found nearby (at once if it already is), at most
    /// `within`. `None` when it is not found in time, or discovery stopped.
    /// Needs a tokio runtime with time.
    pub async fn wait_for(&self, id: &PeerId, within: Duration) -> Option<NearbyPeer> {
        let mut rx = self.peers.clone();
        let search = async move {
            loop {
                let hit = rx.borrow_and_update().iter().find(|p| p.id == *id).cloned();
                if hit.is_some() {
                    return hit;
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(within, search).await.ok().flatten()
    }

    /// Withdraws our announcement (goodbye packets) and stops the daemon, waiting
    /// for it to confirm each (at most 1 s each; blocking, but
    /// normally a few ms). The browsing thread ends with it. Idempotent; also
    /// done on drop.
    pub fn shutdown(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let mut announcing = self
            .announcing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let (true, Some(service)) = (*announcing, &self.service) {
            match self.daemon.unregister(service.get_fullname()) {
                Ok(done) => {
                    let _ = done.recv_timeout(DAEMON_REPLY_WAIT);
                }
                Err(e) => tracing::debug!("nearby: unregister: {e}"),
            }
        }
        *announcing = false;
        match self.daemon.shutdown() {
            Ok(done) => {
                let _ = done.recv_timeout(DAEMON_REPLY_WAIT);
            }
            Err(e) => tracing::debug!("nearby: daemon shutdown: {e}"),
        }
    }
}

impl Drop for Nearby {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The browsing thread: turns the daemon's events for [`SERVICE_TYPE`] into the
/// list and publishes it on `tx` when it changed. Ends when the daemon stops
/// browsing (shutdown) or goes away.
fn browse(events: mdns_sd::Receiver<ServiceEvent>, me: PeerId, tx: watch::Sender<Vec<NearbyPeer>>) {
    let mut list = PeerList::default();
    while let Ok(event) = events.recv() {
        let changed = match event {
            ServiceEvent::ServiceResolved(found) => {
                let fullname = found.get_fullname();
                let addrs = found.get_addresses().iter().map(|a| a.to_ip_addr());
                match record::parse(&me, found.get_port(), addrs, found.get_properties()) {
                    Ok(peer) => list.upsert(fullname, peer),
                    Err(Reject::Ours) => false,
                    Err(why) => {
                        tracing::debug!(fullname = ?fullname, "nearby: ignored: {why}");
                        list.remove(fullname)
                    }
                }
            }
            ServiceEvent::ServiceRemoved(_, fullname) => list.remove(&fullname),
            ServiceEvent::SearchStopped(_) => break,
            _ => false,
        };
        if changed {
            tx.send_replace(list.list());
        }
    }
    tracing::debug!("nearby: browsing ended");
}
