//! A private PulseAudio server standing in for a sound card: a null sink
//! `speaker` (what a peer plays), a null sink `room` whose monitor is the
//! microphone, and a loopback from the speaker into the room (the echo
//! path). Dropped, it stops the server.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running server.
pub struct Pulse {
    dir: tempfile::TempDir,
    server: Child,
    players: Vec<Child>,
}

impl Pulse {
    /// Starts the server with the speaker, the room and the echo path
    /// (`echo_ms` of latency, `echo_db` of gain: the echo return loss, as a
    /// negative number); `None` (after one line saying why) when PulseAudio
    /// is not installed.
    pub fn start(echo_ms: u32, echo_db: i32) -> Option<Pulse> {
        if Command::new("pulseaudio")
            .arg("--version")
            .output()
            .is_err()
        {
            super::netns::skip("echo tests", "pulseaudio is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("native");
        let log = std::fs::File::create(dir.path().join("pulse.log")).unwrap();
        let server = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--system=false",
                "--disallow-exit",
                "--use-pid-file=false",
            ])
            .arg(format!(
                "--load=module-native-protocol-unix socket={} auth-anonymous=1",
                socket.display()
            ))
            .arg("--load=module-null-sink sink_name=speaker rate=48000 channels=1")
            .arg("--load=module-null-sink sink_name=room rate=48000 channels=1")
            .arg(format!(
                "--load=module-loopback source=speaker.monitor sink=room latency_msec={echo_ms}"
            ))
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start pulseaudio");
        let pulse = Pulse {
            dir,
            server,
            players: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pulse.pactl(&["info"]) {
            assert!(
                Instant::now() < deadline,
                "pulseaudio did not start: {}",
                std::fs::read_to_string(pulse.dir.path().join("pulse.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The loopback's sink input, the only one so far, is the echo path.
        let (k, v) = pulse.env();
        let inputs = Command::new("pactl")
            .args(["list", "short", "sink-inputs"])
            .env(k, &v)
            .output()
            .expect("pactl");
        let inputs = String::from_utf8_lossy(&inputs.stdout);
        let echo = inputs
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("no loopback sink input: {inputs}"));
        let gain = format!("{echo_db}dB");
        assert!(pulse.pactl(&["set-sink-input-volume", echo, &gain]));
        assert!(pulse.pactl(&["set-default-sink", "speaker"]));
        assert!(pulse.pactl(&["set-default-source", "room.monitor"]));
        Some(pulse)
    }

    /// `PULSE_SERVER` for the processes that should use it.
    pub fn env(&self) -> (&'static str, String) {
        (
            "PULSE_SERVER",
            format!("unix:{}", self.dir.path().join("native").display()),
        )
    }

    fn pactl(&self, args: &[&str]) -> bool {
        let (k, v) = self.env();
        Command::new("pactl")
            .args(args)
            .env(k, v)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// Plays a WAV file into the room (the near end talking), in the
    /// background.
    pub fn say(&mut self, wav: &Path) {
        let (k, v) = self.env();
        let child = Command::new("paplay")
            .arg("--device=room")
            .arg(wav)
            .env(k, v)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("paplay");
        self.players.push(child);
    }

    /// A scratch path in the server's folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        for c in self
            .players
            .iter_mut()
            .chain(std::iter::once(&mut self.server))
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
