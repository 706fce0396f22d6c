//! The client's side of Nearby (issue 16): [`crate::nearby::Nearby`] runs with
//! the client, browsing all the time and announcing our embedded server while
//! the user is visible; its list reaches the app as [`ClientEvent::Nearby`].
//!
//! Only the embedded server is announced: it is what a peer found nearby is
//! reached through. With another server there is nothing to announce, and
//! "visible" is only remembered. When mDNS cannot start (no multicast), this is
//! logged and the list stays empty: the client works without it.

use parley_proto::PeerId;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::ClientEvent;
use crate::nearby::{Nearby, NearbyConfig, NearbyPeer};
use crate::storage::{keys, Profile};
use crate::{Error, Result};

/// How a client takes part in Nearby ([`super::Client::start_with_nearby`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NearbyOptions {
    /// Announce ourselves ("visible to people on this network") from the start;
    /// done only while the embedded server is used. Switched later with
    /// [`super::Client::set_nearby_visible`].
    pub visible: bool,
    /// The display name announced; empty: the profile's `display_name` setting
    /// ([`keys::DISPLAY_NAME`]), if any.
    pub name: String,
}

/// Discovery as the client task owns it.
pub(super) struct ClientNearby {
    me: PeerId,
    /// The name announced.
    name: String,
    /// The embedded server's port; 0 when another server is used.
    port: u16,
    /// The user wants to be visible.
    visible: bool,
    /// `None` when mDNS could not start.
    nearby: Option<Nearby>,
    /// The task sending the list as [`ClientEvent::Nearby`].
    forward: Option<JoinHandle<()>>,
    events: mpsc::Sender<ClientEvent>,
    /// The list as the client task reads it; outlives restarts of discovery.
    list: watch::Sender<Vec<NearbyPeer>>,
}

impl ClientNearby {
    /// Starts discovery for `profile`, announcing the embedded server on `port`
    /// (0: none) when `opts.visible`; changes of the list go to `events`.
    /// Never fails: without mDNS the list stays empty.
    pub(super) async fn start(
        profile: &Profile,
        opts: NearbyOptions,
        port: u16,
        events: mpsc::Sender<ClientEvent>,
    ) -> ClientNearby {
        let name = match opts.name.trim() {
            "" => profile
                .get_setting(keys::DISPLAY_NAME)
                .ok()
                .flatten()
                .unwrap_or_default(),
            name => name.to_owned(),
        };
        let mut this = ClientNearby {
            me: profile.identity().id(),
            name,
            port,
            visible: opts.visible,
            nearby: None,
            forward: None,
            events,
            list: watch::Sender::new(Vec::new()),
        };
        this.launch().await;
        this
    }

    /// Starts the mDNS daemon and the forwarding task (logs a warning when the
    /// daemon cannot start; browses without announcing when announcing fails).
    async fn launch(&mut self) {
        let cfg = NearbyConfig {
            me: self.me.clone(),
            name: self.name.clone(),
            server_port: self.port,
            announce: self.visible && self.port != 0,
        };
        let started = match start_nearby(cfg.clone()).await {
            Err(e) if cfg.announce => {
                tracing::warn!("nearby: cannot announce us: {e}");
                start_nearby(NearbyConfig {
                    announce: false,
                    ..cfg
                })
                .await
            }
            other => other,
        };
        match started {
            Ok(nearby) => {
                let rx = nearby.watch();
                self.forward = Some(tokio::spawn(forward(
                    rx,
                    self.events.clone(),
                    self.list.clone(),
                )));
                self.nearby = Some(nearby);
            }
            Err(e) => tracing::warn!("nearby discovery is off: {e}"),
        }
    }

    /// The list of people found nearby, as it changes.
    pub(super) fn subscribe(&self) -> watch::Receiver<Vec<NearbyPeer>> {
        self.list.subscribe()
    }

    /// Shows us to people on this network, or stops (goodbye packets). Only
    /// remembered when there is no embedded server to announce or no mDNS.
    ///
    /// Errors: the mDNS daemon refused ([`Error::Nearby`]).
    pub(super) fn set_visible(&mut self, on: bool) -> Result<()> {
        tracing::debug!(on, port = self.port, "nearby: visible");
        if let (Some(nearby), true) = (&self.nearby, self.port != 0) {
            nearby.set_announce(on)?;
        }
        self.visible = on;
        Ok(())
    }

    /// Announces `name` from now on: discovery restarts (our old record is
    /// withdrawn), so the list is rebuilt within a second or so.
    pub(super) async fn set_name(&mut self, name: String) {
        let name = name.trim().to_owned();
        tracing::debug!(%name, old = %self.name, "nearby: name");
        if name == self.name {
            return;
        }
        self.name = name;
        self.stop().await;
        self.launch().await;
    }

    /// Withdraws our announcement and stops discovery (the daemon confirms
    /// within a second at most, off this task).
    pub(super) async fn stop(&mut self) {
        if let Some(forward) = self.forward.take() {
            forward.abort();
        }
        if let Some(nearby) = self.nearby.take() {
            let _ = tokio::task::spawn_blocking(move || nearby.shutdown()).await;
        }
    }
}

/// [`Nearby::start`], off the async threads (the daemon starts a thread and
/// opens sockets).
async fn start_nearby(cfg: NearbyConfig) -> Result<Nearby> {
    tokio::task::spawn_blocking(move || Nearby::start(cfg))
        .await
        .unwrap_or_else(|e| Err(Error::Nearby(e.to_string())))
}

/// Sends the list as [`ClientEvent::Nearby`], and to `list`, now and whenever
/// it changes, until discovery stops or nobody listens.
async fn forward(
    mut peers: watch::Receiver<Vec<NearbyPeer>>,
    events: mpsc::Sender<ClientEvent>,
    list: watch::Sender<Vec<NearbyPeer>>,
) {
    loop {
        let now = peers.borrow_and_update().clone();
        list.send_replace(now.clone());
        if events.send(ClientEvent::Nearby(now)).await.is_err() {
            return;
        }
        if peers.changed().await.is_err() {
            return;
        }
    }
}
