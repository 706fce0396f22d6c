//! Two-peer harness for the end-to-end tests: the real signaling server on
//! 127.0.0.1:0 (in-process, real socket) and `parley-cli` peers as separate processes.
#![allow(dead_code)]

pub mod checks;
pub mod group;
pub mod hostile_relay;
pub mod nat_call;
pub mod netns;
pub mod pulse;
pub mod sfu_media;
pub mod sources;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `answer` arguments for a callee that sends no media, prints its stats and
/// records the caller's video to `rec`; append more.
pub fn answer_args<'a>(timeout_s: &'a str, rec: &'a Path) -> Vec<&'a str> {
    vec![
        "answer",
        "--timeout",
        timeout_s,
        "--stats",
        "--no-video",
        "--no-audio",
        "--record-video",
        rec.to_str().unwrap(),
    ]
}

/// `call` arguments: calls `callee` (waiting up to 20 s for it to come online),
/// sends `clip` as video for `duration_s` seconds, no audio, prints stats; append
/// more.
pub fn call_args<'a>(callee: &'a str, duration_s: &'a str, clip: &'a Path) -> Vec<&'a str> {
    vec![
        "call",
        callee,
        "--wait-online",
        "20",
        "--stats",
        "--duration",
        duration_s,
        "--video-file",
        clip.to_str().unwrap(),
        "--no-audio",
    ]
}

/// `../shared/media` seen from the repository root.
pub fn media(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/media")
        .join(name);
    assert!(
        p.exists(),
        "test media {} is missing: the tests read ../shared/media beside the repository",
        p.display()
    );
    p
}

/// A workspace binary built next to the test executable (`cargo build --workspace
/// --bins` first; scripts/test does).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let p = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        p.exists(),
        "{} not built: run `cargo build --workspace --bins` before the tests (scripts/test does)",
        p.display()
    );
    p
}

/// Writes a test CA and a certificate it signed for `names` (DNS names or IP
/// addresses) into `dir`: `<prefix>-ca.pem`, `<prefix>-cert.pem`,
/// `<prefix>-key.pem`. Returns the CA's path.
pub fn write_test_certificates(dir: &Path, prefix: &str, names: &[&str]) -> PathBuf {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Parley test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join(format!("{prefix}-cert.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{prefix}-key.pem")), key.serialize_pem()).unwrap();
    let ca_path = dir.join(format!("{prefix}-ca.pem"));
    std::fs::write(&ca_path, ca.pem()).unwrap();
    ca_path
}

/// The signaling server, running in-process on its own runtime.
pub struct Server {
    rt: Option<tokio::runtime::Runtime>,
    handle: Option<parley_signal::ServerHandle>,
    /// ws://127.0.0.1:PORT/ws
    pub url: String,
}

impl Server {
    /// Starts the real server on 127.0.0.1:0.
    pub fn start() -> Server {
        Server::start_with(parley_signal::ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Default::default()
        })
    }

    /// Starts the real server with `config` (e.g. TLS).
    pub fn start_with(config: parley_signal::ServerConfig) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let handle = rt
            .block_on(parley_signal::start(config))
            .expect("server starts");
        let url = handle.url();
        Server {
            rt: Some(rt),
            handle: Some(handle),
            url,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let (Some(rt), Some(h)) = (self.rt.take(), self.handle.take()) {
            rt.block_on(h.shutdown());
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// Starts `cmd` (a `parley-signal` command line, possibly wrapped in `ip netns
/// exec`) with its log going to `log`, and waits until it prints that it listens.
pub fn spawn_signal(mut cmd: Command, log: &Path) -> Child {
    use std::io::{BufRead as _, BufReader};
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()));
    let mut child = cmd.spawn().expect("spawn parley-signal");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("listening on"),
        "parley-signal did not start: {first:?}\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    std::thread::spawn(move || reader.lines().for_each(drop));
    child
}

/// A headless peer: a profile folder and the CLI.
pub struct Peer {
    /// Profile and scratch folder (deleted on drop).
    pub dir: tempfile::TempDir,
    /// The peer's id.
    pub id: String,
    server: String,
}

impl Peer {
    /// Creates a profile and reads its id through `parley-cli id`.
    pub fn new(server: &Server) -> Peer {
        Peer::for_url(&server.url)
    }

    /// As [`new`](Self::new), for a server at `url` (e.g. one in a namespace).
    pub fn for_url(url: &str) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(bin("parley-cli"))
            .arg("--profile")
            .arg(dir.path().join("profile"))
            .arg("id")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "id: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .trim()
            .to_owned();
        Peer {
            dir,
            id,
            server: url.to_owned(),
        }
    }

    /// A path inside this peer's scratch folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Adds `id` to this peer's contacts (`parley-cli contact add`).
    pub fn add_contact(&self, id: &str) {
        let out = Command::new(bin("parley-cli"))
            .arg("--profile")
            .arg(self.path("profile"))
            .args(["contact", "add", id])
            .output()
            .unwrap();
        success(&out, "contact add");
    }

    /// Starts `parley-cli <args>` for this profile and server; media on loopback.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.spawn_with_env(args, &[])
    }

    /// As [`spawn`](Self::spawn), with stdout and stderr going to the file
    /// `log` in this peer's folder (a peer nobody reads from must not block on a
    /// full pipe); [`log_tail`](Self::log_tail) reads it back.
    pub fn spawn_logged(&self, args: &[&str], log: &str) -> Child {
        let mut cmd = self.command(args);
        // The CLI's default filter plus the call layer's own account (a failing
        // test prints the tail).
        cmd.env(
            "RUST_LOG",
            "error,parley_engine=warn,parley_cli=warn,parley_engine::call=info",
        );
        let file = std::fs::File::create(self.path(log)).unwrap();
        cmd.stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn parley-cli")
    }

    /// The last `lines` lines of the log `log` written by
    /// [`spawn_logged`](Self::spawn_logged), without ALSA's complaints.
    pub fn log_tail(&self, log: &str, lines: usize) -> String {
        let text = std::fs::read_to_string(self.path(log)).unwrap_or_default();
        let kept: Vec<&str> = text.lines().filter(|l| !l.contains("ALSA")).collect();
        kept[kept.len().saturating_sub(lines)..].join("\n")
    }

    /// As [`spawn`](Self::spawn), with extra environment variables (e.g. `DISPLAY`).
    pub fn spawn_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        self.command(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn parley-cli")
    }

    /// `parley-cli --profile … --server … <args>`, bound to loopback for a call.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin("parley-cli"));
        cmd.arg("--profile")
            .arg(self.path("profile"))
            .arg("--server")
            .arg(&self.server)
            .args(args);
        if matches!(args.first(), Some(&"call") | Some(&"answer")) {
            cmd.args(["--bind", "127.0.0.1:0"]);
        }
        cmd
    }
}

/// Reads `child`'s stdout on a thread: each line that starts with `prefix`
/// on the channel (a clock to act on, e.g. `--live-stats`' one
/// line a second), and all of stdout from the handle once it closes (put it
/// back in the child's `Output` for [`success`]).
pub fn watch_lines(
    child: &mut Child,
    prefix: &'static str,
) -> (
    std::sync::mpsc::Receiver<String>,
    std::thread::JoinHandle<String>,
) {
    use std::io::BufRead as _;
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("a piped stdout");
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            if line.starts_with(prefix) {
                let _ = tx.send(line.clone());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    (rx, reader)
}

/// Waits for a child with a deadline; kills it and panics when it overruns.
pub fn wait(child: Child, within: Duration, what: &str) -> (Output, Instant) {
    let start = Instant::now();
    let mut child = child;
    loop {
        if child.try_wait().unwrap().is_some() {
            let ended = Instant::now();
            return (child.wait_with_output().unwrap(), ended);
        }
        if start.elapsed() > within {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what} did not exit within {within:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for each child in turn, each at most its own time from when its turn
/// comes (the order given), reading every child's output from the start so
/// that none blocks on a full pipe meanwhile. When one overruns, the rest are
/// killed too and the panic shows every child's exit and output: one that
/// ended early often explains another that did not end.
pub fn wait_each(children: Vec<(&str, Child, Duration)>) -> Vec<(Output, Instant)> {
    fn drain<R: std::io::Read + Send + 'static>(
        pipe: Option<R>,
    ) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    }
    let mut running: Vec<_> = children
        .into_iter()
        .map(|(what, mut child, within)| {
            let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
            (what.to_owned(), child, within, out, err)
        })
        .collect();
    let mut ended = Vec::new();
    let mut overrun: Option<String> = None;
    for (what, child, within, _, _) in &mut running {
        let start = Instant::now();
        loop {
            if overrun.is_some() {
                let _ = child.kill();
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if start.elapsed() > *within {
                overrun = Some(format!("{what} did not exit within {within:?}"));
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        ended.push(Instant::now());
    }
    let outputs: Vec<(String, Output)> = running
        .into_iter()
        .map(|(what, mut child, _, out, err)| {
            let status = child.wait().unwrap();
            let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
            (
                what,
                Output {
                    status,
                    stdout,
                    stderr,
                },
            )
        })
        .collect();
    if let Some(why) = overrun {
        let all: String = outputs
            .iter()
            .map(|(what, o)| {
                format!(
                    "\n----- {what}: {}\nstdout:\n{}\nstderr:\n{}",
                    o.status,
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .collect();
        panic!("{why}{all}");
    }
    outputs.into_iter().map(|(_, o)| o).zip(ended).collect()
}

/// Asserts success and returns stdout.
pub fn success(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({})\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The `--stats` JSON line (the last line of stdout).
pub fn stats(stdout: &str) -> serde_json::Value {
    let line = stdout.lines().last().expect("a stats line");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("stats line {line:?}: {e}"))
}

/// Lines `chat: …` in order.
pub fn chats(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("chat: "))
        .map(str::to_owned)
        .collect()
}

/// Gives the answering peer time to log in before the caller invites it.
pub fn let_answerer_log_in() {
    std::thread::sleep(Duration::from_millis(700));
}
