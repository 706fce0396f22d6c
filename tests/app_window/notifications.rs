//! A private D-Bus session bus with a stand-in freedesktop notification service
//! (`org.freedesktop.Notifications`), so the apps' OS notifications can be seen.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::desktop::{require, terminate};

type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// The bus (its `address` goes into the apps' `DBUS_SESSION_BUS_ADDRESS`) and what
/// was notified on it, as (summary, body).
pub(crate) struct NotificationBus {
    pub(crate) address: String,
    seen: Seen,
    daemon: Child,
    _service: zbus::Connection,
    _runtime: tokio::runtime::Runtime,
}

struct Service {
    seen: Seen,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Service {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        replaces_id: u32,
        app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, zbus::zvariant::OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        let _ = (
            app_name,
            replaces_id,
            app_icon,
            actions,
            hints,
            expire_timeout,
        );
        let mut seen = self.seen.lock().unwrap();
        seen.push((summary, body));
        seen.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        let s = |v: &str| v.to_owned();
        (s("parley-test"), s("parley"), s("1"), s("1.2"))
    }

    fn close_notification(&self, id: u32) {
        let _ = id;
    }
}

impl NotificationBus {
    /// Starts `dbus-daemon --session` on a socket in `dir` and serves the
    /// notification service on it.
    pub(crate) fn start(dir: &Path) -> NotificationBus {
        let socket = dir.join("session-bus");
        let mut daemon = Command::new(require("dbus-daemon", "Debian package dbus-daemon"))
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the bus address");
        let address = line.trim().to_owned();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        let seen: Seen = Arc::default();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let service = runtime
            .block_on(async {
                zbus::connection::Builder::address(address.as_str())?
                    .name("org.freedesktop.Notifications")?
                    .serve_at(
                        "/org/freedesktop/Notifications",
                        Service {
                            seen: Arc::clone(&seen),
                        },
                    )?
                    .build()
                    .await
            })
            .expect("serve org.freedesktop.Notifications");
        NotificationBus {
            address,
            seen,
            daemon,
            _service: service,
            _runtime: runtime,
        }
    }

    /// Waits up to `within` for a notification whose summary contains `needle`;
    /// returns it, or what was notified instead.
    pub(crate) fn wait_for(
        &self,
        needle: &str,
        within: Duration,
    ) -> Result<(String, String), String> {
        let start = Instant::now();
        loop {
            if let Some(n) = self
                .seen
                .lock()
                .unwrap()
                .iter()
                .find(|(summary, _)| summary.contains(needle))
            {
                return Ok(n.clone());
            }
            if start.elapsed() > within {
                return Err(format!(
                    "no OS notification containing {needle:?} within {within:?}; notified: {:?}",
                    self.seen.lock().unwrap()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for NotificationBus {
    fn drop(&mut self) {
        terminate(&mut self.daemon, Duration::from_secs(2));
    }
}
