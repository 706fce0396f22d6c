//! A private desktop-portal session for screen-sharing tests: a session D-Bus,
//! PipeWire with WirePlumber, the real xdg-desktop-portal frontend, and behind it
//! `tests/portal/screencast_backend.py`, a ScreenCast backend whose "screen" is a
//! still picture this process plays into PipeWire (`pw_source.rs`); this machine
//! has no GPU, and xdg-desktop-portal-wlr cannot cast without one (see the
//! script's docstring).
//!
//! The backend stands for the user's answer: it records each time it would have
//! asked, so a test can check that a restore token spared the question.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::desktop::{descendants, require, tail, terminate};
use super::pw_source::PictureSource;

/// The PipeWire node that is "the screen".
const SCREEN_NODE: &str = "parley-test-screen";
/// The test backend's bus name.
const BACKEND_NAME: &str = "org.freedesktop.impl.portal.desktop.parleytest";

/// The running session; dropping it stops everything it started.
pub struct PortalDesktop {
    screen: Option<PictureSource>,
    dir: tempfile::TempDir,
    children: Vec<(String, Child)>,
    env: Vec<(String, String)>,
}

fn spawn(what: &str, cmd: &mut Command, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"))
}

impl PortalDesktop {
    /// Starts the session; the shared screen shows `rgb` (`width × height × 3`).
    pub fn start(width: u32, height: u32, rgb: &[u8]) -> PortalDesktop {
        for (tool, package) in [
            ("pipewire", "pipewire"),
            ("wireplumber", "wireplumber"),
            ("pw-dump", "pipewire-bin"),
            ("dbus-daemon", "dbus-daemon"),
            ("gdbus", "libglib2.0-bin"),
        ] {
            require(tool, package);
        }
        let python = Command::new("/usr/bin/python3")
            .args(["-c", "import dbus, gi"])
            .status();
        assert!(
            matches!(python, Ok(s) if s.success()),
            "/usr/bin/python3 with python3-dbus and python3-gi is needed: run scripts/install-deps.sh"
        );
        let xdp = PathBuf::from("/usr/libexec/xdg-desktop-portal");
        assert!(
            xdp.is_file(),
            "xdg-desktop-portal is missing: run scripts/install-deps.sh"
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let root = root.as_path();
        let runtime = root.join("run");
        std::fs::create_dir(&runtime).unwrap();
        let portals = root.join("portals");
        std::fs::create_dir(&portals).unwrap();
        std::fs::write(
            portals.join("parleytest.portal"),
            format!(
                "[portal]\nDBusName={BACKEND_NAME}\n\
                 Interfaces=org.freedesktop.impl.portal.ScreenCast;\nUseIn=parleytest\n"
            ),
        )
        .unwrap();

        let mut env: Vec<(String, String)> = vec![
            ("XDG_RUNTIME_DIR".into(), runtime.display().to_string()),
            ("XDG_CURRENT_DESKTOP".into(), "parleytest".into()),
            (
                "XDG_DESKTOP_PORTAL_DIR".into(),
                portals.display().to_string(),
            ),
            (
                "XDG_DATA_HOME".into(),
                root.join("data").display().to_string(),
            ),
            (
                "XDG_CONFIG_HOME".into(),
                root.join("config").display().to_string(),
            ),
        ];
        let mut desktop = PortalDesktop {
            screen: None,
            dir,
            children: Vec::new(),
            env: Vec::new(),
        };
        let bus = runtime.join("bus");
        let mut cmd = Command::new("dbus-daemon");
        cmd.args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address=unix:path={}", bus.display()))
            .envs(env.iter().map(|(k, v)| (k, v)));
        desktop.add("dbus-daemon", cmd);
        desktop.wait_for("the session bus", || bus.exists());
        env.push((
            "DBUS_SESSION_BUS_ADDRESS".into(),
            format!("unix:path={}", bus.display()),
        ));

        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/portal/screencast_backend.py");
        let asked = root.join("asked");
        let steps: [(&str, Vec<String>); 4] = [
            ("pipewire", vec!["pipewire".into()]),
            ("wireplumber", vec!["wireplumber".into()]),
            (
                "screencast backend",
                vec![
                    "/usr/bin/python3".into(),
                    script.display().to_string(),
                    BACKEND_NAME.into(),
                    SCREEN_NODE.into(),
                    asked.display().to_string(),
                    root.join("close-after").display().to_string(),
                ],
            ),
            (
                "xdg-desktop-portal",
                vec![xdp.display().to_string(), "-v".into()],
            ),
        ];
        for (name, argv) in steps {
            let mut cmd = Command::new(&argv[0]);
            cmd.args(&argv[1..])
                .envs(env.iter().map(|(k, v)| (k, v)))
                .env_remove("DISPLAY")
                .env_remove("WAYLAND_DISPLAY");
            desktop.add(name, cmd);
            match name {
                "pipewire" => {
                    let socket = runtime.join("pipewire-0");
                    desktop.wait_for("pipewire", || socket.exists());
                    desktop.screen = Some(PictureSource::start(
                        &socket,
                        SCREEN_NODE,
                        width,
                        height,
                        rgb,
                    ));
                }
                "screencast backend" => {
                    let log = desktop.log(name);
                    desktop.wait_for("the screencast backend", || {
                        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("ready"))
                    });
                }
                _ => {}
            }
        }
        desktop.env = env;
        desktop.wait_for_portal();
        desktop
    }

    fn add(&mut self, name: &str, mut cmd: Command) {
        let child = spawn(name, &mut cmd, &self.log(name));
        self.children.push((name.into(), child));
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.log", name.replace(' ', "-")))
    }

    fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if ready() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{what} did not come up within 15 s:\n{}", self.logs());
    }

    /// Waits until the ScreenCast portal answers on the bus with version 4.
    fn wait_for_portal(&self) {
        let mut last = String::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            let out = Command::new("gdbus")
                .args([
                    "call",
                    "--session",
                    "--dest",
                    "org.freedesktop.portal.Desktop",
                    "--object-path",
                    "/org/freedesktop/portal/desktop",
                    "--method",
                    "org.freedesktop.DBus.Properties.Get",
                    "org.freedesktop.portal.ScreenCast",
                    "version",
                ])
                .envs(self.env())
                .output();
            if let Ok(o) = &out {
                last = String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr);
                if o.status.success() {
                    // "(<uint32 4>,)": restore tokens need version 4 or later.
                    let version: u32 = last
                        .split(|c: char| !c.is_ascii_digit())
                        .filter(|w| !w.is_empty())
                        .nth(1)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    assert!(version >= 4, "ScreenCast portal version: {last}");
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "the ScreenCast portal did not appear ({last}):\n{}",
            self.logs()
        );
    }

    /// The environment a client of this session needs (runtime dir, bus).
    pub fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Makes the desktop end the next screen cast `secs` seconds after it starts
    /// (as the desktop's own "stop sharing" control would).
    pub fn close_next_cast_after(&self, secs: f64) {
        std::fs::write(self.dir.path().join("close-after"), secs.to_string()).unwrap();
    }

    /// How many times the portal asked "the user" to choose what to share.
    pub fn times_asked(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("asked"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// The tail of every log, for a failure message.
    pub fn logs(&self) -> String {
        self.children
            .iter()
            .map(|(name, _)| format!("--- {name}:\n{}", tail(&self.log(name), 15)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for PortalDesktop {
    fn drop(&mut self) {
        self.screen = None;
        for (name, child) in self.children.iter_mut().rev() {
            if name == "dbus-daemon" {
                // Services the bus started on demand (permission store, document
                // portal) are its children.
                for pid in descendants(child.id()) {
                    let _ = Command::new("kill")
                        .args(["-TERM", &pid.to_string()])
                        .stderr(Stdio::null())
                        .status();
                }
            }
            terminate(child, Duration::from_secs(3));
        }
    }
}
