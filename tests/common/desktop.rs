//! Desktop-session plumbing for the app-window tests: a private Xvfb display,
//! tauri-driver processes on free ports, tool lookup, and stopping what was started
//! (SIGTERM first: SIGKILL would leave WebKitWebDriver holding its port).
#![allow(dead_code)]

use std::ffi::OsString;
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to run when a tool is missing.
pub const INSTALL_HINT: &str =
    "run scripts/install-deps.sh (it installs xvfb, webkit2gtk-driver and tauri-driver 2.1.0)";

/// A tool on PATH (or in Cargo's bin folder, where `cargo install` puts it).
pub fn which(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(c) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(c).join("bin"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(h).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// [`which`], or a panic naming the package and the install script.
pub fn require(name: &str, package: &str) -> PathBuf {
    which(name).unwrap_or_else(|| {
        panic!("`{name}` ({package}) is not installed or not on PATH: {INSTALL_HINT}")
    })
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Sends SIGTERM and waits up to `grace`; SIGKILL after that.
pub fn terminate(child: &mut Child, grace: Duration) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let start = Instant::now();
    while start.elapsed() < grace {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Pids of all living descendants of `pid` (from /proc).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // pid (comm) state ppid …: comm may contain spaces; split after ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(pp) = ppid {
                parent_of.push((p, pp));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(x) = frontier.pop() {
        for &(p, pp) in &parent_of {
            if pp == x && !out.contains(&p) {
                out.push(p);
                frontier.push(p);
            }
        }
    }
    out
}

/// A private X server on a free display.
pub struct Xvfb {
    child: Child,
    /// `:N`, for `DISPLAY`.
    pub display: String,
}

impl Xvfb {
    /// Starts `Xvfb :N` on the first free display from :90.
    pub fn start(xvfb: &Path) -> Xvfb {
        for n in 90..190 {
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
            if socket.exists() || Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let mut child = Command::new(xvfb)
                .args([
                    &format!(":{n}"),
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", xvfb.display()));
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(15) {
                if socket.exists() {
                    return Xvfb {
                        child,
                        display: format!(":{n}"),
                    };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break; // lost a race for this display: try the next one
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            terminate(&mut child, Duration::from_secs(2));
        }
        panic!("Xvfb did not come up on any display :90..:189");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(5));
    }
}

/// One tauri-driver (and the WebKitWebDriver and app it starts).
pub struct Driver {
    child: Child,
    /// tauri-driver's WebDriver port on 127.0.0.1.
    pub port: u16,
    /// Its stdout and stderr (and those of WebKitWebDriver and the app).
    pub log: PathBuf,
}

impl Driver {
    /// Starts tauri-driver on free ports with `env` (the app inherits it) and
    /// waits until it accepts connections.
    pub fn start(tauri_driver: &Path, env: &[(&str, OsString)], log: PathBuf) -> Driver {
        let port = free_port();
        let mut native_port = free_port();
        while native_port == port {
            native_port = free_port();
        }
        let out = File::create(&log).expect("driver log");
        let mut cmd = Command::new(tauri_driver);
        // tauri-driver finds WebKitWebDriver on PATH (checked by the caller).
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .env_remove("WAYLAND_DISPLAY")
        .env("GDK_BACKEND", "x11")
        .env("NO_AT_BRIDGE", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", tauri_driver.display()));
        let mut d = Driver { child, port, log };
        let start = Instant::now();
        // Both ports: tauri-driver listens before WebKitWebDriver does, and a
        // POST /session it forwards before then fails with "connection refused"
        // (seen in CI on 2 busy cores).
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && TcpStream::connect(("127.0.0.1", native_port)).is_ok()
            {
                return d;
            }
            if let Some(st) = d.child.try_wait().ok().flatten() {
                panic!(
                    "tauri-driver exited ({st}) before listening:\n{}",
                    tail(&d.log, 40)
                );
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!(
                    "tauri-driver ({port}) and WebKitWebDriver ({native_port}) did not \
                     both listen within 30 s:\n{}",
                    tail(&d.log, 40)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let below = descendants(self.child.id());
        // SIGTERM: tauri-driver then stops WebKitWebDriver (SIGKILL would leave it
        // holding its port).
        terminate(&mut self.child, Duration::from_secs(10));
        for pid in below {
            if Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// The last `lines` lines of a log file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
