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
        let pulse = Self::start_with(&[
            "module-null-sink sink_name=speaker rate=48000 channels=1".into(),
            "module-null-sink sink_name=room rate=48000 channels=1".into(),
            format!("module-loopback source=speaker.monitor sink=room latency_msec={echo_ms}"),
        ])?;
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

    /// Starts a server with these modules loaded (each `name args`), and
    /// nothing else but the socket; `None` (after one line saying why) when
    /// PulseAudio is not installed.
    pub fn start_with(modules: &[String]) -> Option<Pulse> {
        if Command::new("pulseaudio")
            .arg("--version")
            .output()
            .is_err()
        {
            super::netns::skip("sound tests", "pulseaudio is not installed");
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
            .args(modules.iter().map(|m| format!("--load={m}")))
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
        Some(pulse)
    }

    /// `PULSE_SERVER` for the processes that should use it.
    pub fn env(&self) -> (&'static str, String) {
        (
            "PULSE_SERVER",
            format!("unix:{}", self.dir.path().join("native").display()),
        )
    }

    /// Runs `pactl` on this server; true when it succeeded.
    pub fn pactl(&self, args: &[&str]) -> bool {
        self.pactl_out(args).is_some()
    }

    /// Runs `pactl` on this server: its stdout, or `None` when it failed.
    pub fn pactl_out(&self, args: &[&str]) -> Option<String> {
        let (k, v) = self.env();
        let out = Command::new("pactl").args(args).env(k, v).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Loads a module (`name args…`): its index, for [`unload`](Self::unload).
    pub fn load(&self, module: &str) -> String {
        let mut args = vec!["load-module"];
        args.extend(module.split_whitespace());
        let out = self.pactl_out(&args);
        out.unwrap_or_else(|| panic!("pactl load-module {module} failed"))
            .trim()
            .to_owned()
    }

    /// Unloads a module by index (a device unplugged).
    pub fn unload(&self, index: &str) {
        assert!(self.pactl(&["unload-module", index]), "unload {index}");
    }

    /// Records `secs` of a source (a sink's monitor: what it plays), 48 kHz
    /// mono.
    pub fn capture(&self, source: &str, secs: f64) -> Vec<f32> {
        let (k, v) = self.env();
        let mut rec = Command::new("parecord")
            .arg(format!("--device={source}"))
            .args([
                "--raw",
                "--format=float32le",
                "--rate=48000",
                "--channels=1",
            ])
            .arg("--latency-msec=20")
            .env(k, v)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("parecord");
        let mut stdout = rec.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut raw = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stdout, &mut raw);
            raw
        });
        // A measurement of fixed length, not a wait for an event.
        std::thread::sleep(Duration::from_secs_f64(secs));
        let _ = rec.kill();
        let out = rec.wait_with_output().expect("parecord");
        let raw = reader.join().unwrap();
        assert!(
            !raw.is_empty(),
            "parecord of {source} got nothing: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        raw.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// Plays a WAV file into the room (the near end talking), in the
    /// background.
    pub fn say(&mut self, wav: &Path) {
        self.play_into("room", wav);
    }

    /// Plays a WAV file into `sink` in the background: a handle for
    /// [`stop`](Self::stop).
    pub fn play_into(&mut self, sink: &str, wav: &Path) -> usize {
        let (k, v) = self.env();
        let child = Command::new("paplay")
            .arg(format!("--device={sink}"))
            .arg(wav)
            .env(k, v)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("paplay");
        self.players.push(child);
        self.players.len() - 1
    }

    /// Stops a player [`play_into`](Self::play_into) started.
    pub fn stop(&mut self, player: usize) {
        let _ = self.players[player].kill();
        let _ = self.players[player].wait();
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

/// Writes 48 kHz mono samples as a 16-bit WAV file.
pub fn write_wav(path: &Path, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}
