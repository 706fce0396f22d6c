//! Starting a private Janus: [`start`] writes a minimal configuration (WebSocket
//! transport and VideoRoom only) into a fresh temporary folder, runs `janus -F
//! DIR` with its output in `DIR/janus.log`, and waits until VideoRoom answers.

use std::ffi::OsString;
use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::{JanusClient, VIDEOROOM};
use crate::{random_key, Error, Result};

/// How long Janus may take to answer `info` with VideoRoom loaded, s.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Delay between attempts to reach a starting Janus, ms.
pub const START_POLL: Duration = Duration::from_millis(50);
/// How long one attempt (connect, then `info`) may take, ms.
const PROBE_TIMEOUT: Duration = Duration::from_millis(2_000);
/// Log lines quoted in [`Error::Start`].
const LOG_TAIL_LINES: usize = 30;
/// Janus's log file in the configuration folder.
const LOG_FILE: &str = "janus.log";

/// How to run Janus.
#[derive(Debug, Clone)]
pub struct JanusConfig {
    /// The address the WebSocket transport listens on (`ws_ip`).
    pub ws_ip: IpAddr,
    /// Its port; 0 picks a free one (only without [`wrapper`](Self::wrapper),
    /// which may run Janus in another network namespace).
    pub ws_port: u16,
    /// The only address Janus offers ICE candidates for (`ice_enforce_list`);
    /// `None` = `ws_ip`.
    pub ice_ip: Option<IpAddr>,
    /// VideoRoom's `admin_key` (needed to create rooms).
    pub admin_key: String,
    /// Janus's RTP/RTCP UDP port range (`rtp_port_range`), inclusive; `None` =
    /// any.
    pub rtp_ports: Option<(u16, u16)>,
    /// The Janus program (default `janus`, found on `PATH`).
    pub program: PathBuf,
    /// A command prefix, e.g. `["ip", "netns", "exec", "NS"]`; empty = none.
    pub wrapper: Vec<OsString>,
}

impl JanusConfig {
    /// Janus listening on `ws_ip:ws_port` (0 = a free port), ICE on `ws_ip`, a
    /// random admin key, any RTP ports, `janus` from `PATH`, no wrapper.
    pub fn new(ws_ip: IpAddr, ws_port: u16) -> Self {
        JanusConfig {
            ws_ip,
            ws_port,
            ice_ip: None,
            admin_key: random_key(),
            rtp_ports: None,
            program: PathBuf::from("janus"),
            wrapper: Vec::new(),
        }
    }
}

/// A running Janus. Dropping it kills Janus and deletes its folder.
pub struct JanusProcess {
    child: Child,
    dir: tempfile::TempDir,
    url: String,
    admin_key: String,
}

/// [`JanusProcess::start`].
pub async fn start(cfg: JanusConfig) -> Result<JanusProcess> {
    JanusProcess::start(cfg).await
}

impl JanusProcess {
    /// Starts Janus as `cfg` says and waits (polling every [`START_POLL`], up
    /// to [`START_TIMEOUT`]) until it answers `info` with VideoRoom loaded.
    ///
    /// Errors: [`Error::Io`] writing the configuration; [`Error::Start`] when
    /// Janus cannot be run, exits, or does not answer in time (with the last 30
    /// lines of its log), or `ws_port` is 0 with a wrapper.
    pub async fn start(cfg: JanusConfig) -> Result<JanusProcess> {
        let port = match cfg.ws_port {
            0 if !cfg.wrapper.is_empty() => {
                return Err(Error::Start("ws_port 0 needs an empty wrapper".into()));
            }
            0 => std::net::TcpListener::bind((cfg.ws_ip, 0))?
                .local_addr()?
                .port(),
            port => port,
        };
        let dir = tempfile::Builder::new().prefix("parley-janus-").tempdir()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        }
        write_config(dir.path(), &cfg, port)?;
        let log = File::create(dir.path().join(LOG_FILE))?;
        let mut command = match cfg.wrapper.split_first() {
            Some((first, rest)) => {
                let mut command = Command::new(first);
                command.args(rest).arg(&cfg.program);
                command
            }
            None => Command::new(&cfg.program),
        };
        command
            .arg("-F")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = command
            .spawn()
            .map_err(|e| Error::Start(format!("cannot run {}: {e}", cfg.program.display())))?;
        let mut janus = JanusProcess {
            child,
            dir,
            url: format!("ws://{}/", SocketAddr::new(cfg.ws_ip, port)),
            admin_key: cfg.admin_key,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = janus.child.try_wait() {
                let tail = janus.log_tail(LOG_TAIL_LINES);
                return Err(Error::Start(format!(
                    "janus exited ({status}); its log ends:\n{tail}"
                )));
            }
            if videoroom_answers(&janus.url).await {
                tracing::debug!("janus {} up at {}", janus.pid(), janus.url);
                return Ok(janus);
            }
            if Instant::now() >= deadline {
                let _ = janus.child.kill();
                let _ = janus.child.wait();
                let tail = janus.log_tail(LOG_TAIL_LINES);
                let secs = START_TIMEOUT.as_secs();
                let url = &janus.url;
                return Err(Error::Start(format!(
                    "no answer at {url} within {secs} s; its log ends:\n{tail}"
                )));
            }
            tokio::time::sleep(START_POLL).await;
        }
    }
}

/// Whether Janus at `url` answers `info` listing VideoRoom.
async fn videoroom_answers(url: &str) -> bool {
    let probe = async {
        let info = JanusClient::connect(url).await?.info().await?;
        Ok::<_, Error>(info.get("plugins").and_then(|p| p.get(VIDEOROOM)).is_some())
    };
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, probe).await,
        Ok(Ok(true))
    )
}

/// A libconfig string literal.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn write_config(dir: &Path, cfg: &JanusConfig, port: u16) -> Result<()> {
    let ice_ip = cfg.ice_ip.unwrap_or(cfg.ws_ip).to_string();
    let media = match cfg.rtp_ports {
        Some((a, b)) => format!("media: {{\n\trtp_port_range = \"{a}-{b}\"\n}}\n"),
        None => String::new(),
    };
    let janus = format!(
        "general: {{\n\tlog_to_stdout = true\n\tdebug_level = 4\n\tadmin_secret = {secret}\n\t\
         session_timeout = 60\n}}\n\
         nat: {{\n\tice_enforce_list = {ice}\n\tignore_mdns = true\n}}\n\
         {media}\
         plugins: {{\n\tdisable = \"libjanus_audiobridge.so,libjanus_echotest.so,\
         libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_streaming.so,\
         libjanus_textroom.so,libjanus_videocall.so,libjanus_voicemail.so,libjanus_lua.so,\
         libjanus_duktape.so\"\n}}\n\
         transports: {{\n\tdisable = \"libjanus_http.so,libjanus_pfunix.so,\
         libjanus_rabbitmq.so,libjanus_mqtt.so,libjanus_nanomsg.so\"\n}}\n\
         events: {{\n\tbroadcast = false\n}}\n\
         loggers: {{\n\tdisable = \"libjanus_jsonlog.so\"\n}}\n",
        secret = quote(&random_key()),
        ice = quote(&ice_ip),
    );
    let ws = format!(
        "general: {{\n\tjson = \"compact\"\n\tws = true\n\tws_port = {port}\n\t\
         ws_ip = {ip}\n\twss = false\n}}\nadmin: {{\n\tadmin_ws = false\n}}\n",
        ip = quote(&cfg.ws_ip.to_string()),
    );
    let videoroom = format!(
        "general: {{\n\tadmin_key = {key}\n\tlock_rtp_forward = true\n}}\n",
        key = quote(&cfg.admin_key),
    );
    std::fs::write(dir.join("janus.jcfg"), janus)?;
    std::fs::write(dir.join("janus.transport.websockets.jcfg"), ws)?;
    std::fs::write(dir.join("janus.plugin.videoroom.jcfg"), videoroom)?;
    Ok(())
}

impl JanusProcess {
    /// The WebSocket URL, `ws://IP:PORT/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// VideoRoom's admin key.
    pub fn admin_key(&self) -> &str {
        &self.admin_key
    }

    /// Janus's process id (of the wrapper's process if the wrapper does not exec).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Janus's log (stdout and stderr), in the temporary folder.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(LOG_FILE)
    }

    /// The last `lines` lines of Janus's log (ANSI colour codes included); empty
    /// if it cannot be read.
    pub fn log_tail(&self, lines: usize) -> String {
        let bytes = std::fs::read(self.log_path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for JanusProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = JanusConfig::new(IpAddr::from([10, 0, 0, 1]), 8188);
        cfg.rtp_ports = Some((20000, 20100));
        cfg.admin_key = "k\"ey".into();
        write_config(dir.path(), &cfg, 8188).expect("written");
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect("read");
        let janus = read("janus.jcfg");
        assert!(janus.contains("ice_enforce_list = \"10.0.0.1\""), "{janus}");
        assert!(
            janus.contains("rtp_port_range = \"20000-20100\""),
            "{janus}"
        );
        assert!(janus.contains("libjanus_jsonlog.so"), "{janus}");
        let ws = read("janus.transport.websockets.jcfg");
        assert!(
            ws.contains("ws_port = 8188") && ws.contains("ws_ip = \"10.0.0.1\""),
            "{ws}"
        );
        let videoroom = read("janus.plugin.videoroom.jcfg");
        assert!(videoroom.contains("admin_key = \"k\\\"ey\""), "{videoroom}");
    }
}
