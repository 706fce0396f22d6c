//! Headless Chromium (Debian's `chromium`, driven through `chromedriver`) as a
//! WebRTC peer that is not Parley: the page holds one `RTCPeerConnection` with a
//! canvas as its camera and an oscillator as its microphone; the test moves
//! descriptions and candidates between it and the signaling server.
#![allow(dead_code)]

use std::fs::File;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::desktop::{descendants, free_port, require, tail, terminate};
use crate::webdriver::{Session, WdResult};

/// The page's functions, defined once per session (a function body run by
/// `execute`; each function returns a Promise the driver awaits).
const PAGE: &str = r#"
window.peer = {
  pc: null,
  // A canvas camera (a moving bar, 320x180 at 15 fps) and a 440 Hz microphone:
  // no device and no permission needed.
  media() {
    const c = document.createElement('canvas');
    c.width = 320; c.height = 180;
    const g = c.getContext('2d');
    let x = 0;
    setInterval(() => {
      g.fillStyle = '#204080'; g.fillRect(0, 0, 320, 180);
      g.fillStyle = '#f0c020'; g.fillRect(x, 40, 40, 100);
      x = (x + 8) % 320;
    }, 66);
    const video = c.captureStream(15).getVideoTracks()[0];
    const ac = new AudioContext();
    const osc = ac.createOscillator();
    const dst = ac.createMediaStreamDestination();
    osc.connect(dst); osc.start();
    const audio = dst.stream.getAudioTracks()[0];
    return new MediaStream([audio, video]);
  },
  async gathered(pc) {
    if (pc.iceGatheringState === 'complete') return;
    await new Promise((resolve) => {
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') resolve();
      });
    });
  },
  // Answers `sdp`, sending our media on the offered sections; returns the answer
  // with every candidate in it (no trickle).
  async answer(sdp) {
    const pc = new RTCPeerConnection();
    this.pc = pc;
    await pc.setRemoteDescription({ type: 'offer', sdp });
    const stream = this.media();
    for (const t of stream.getTracks()) pc.addTrack(t, stream);
    await pc.setLocalDescription(await pc.createAnswer());
    await this.gathered(pc);
    return pc.localDescription.sdp;
  },
  // Offers audio and video with only the video codecs named (e.g. ['video/VP8']).
  async offer(videoCodecs) {
    const pc = new RTCPeerConnection();
    this.pc = pc;
    const stream = this.media();
    pc.addTransceiver(stream.getAudioTracks()[0], { streams: [stream] });
    const v = pc.addTransceiver(stream.getVideoTracks()[0], { streams: [stream] });
    const codecs = RTCRtpReceiver.getCapabilities('video').codecs
      .filter((c) => videoCodecs.includes(c.mimeType));
    v.setCodecPreferences(codecs);
    pc.createDataChannel('chat');
    await pc.setLocalDescription(await pc.createOffer());
    await this.gathered(pc);
    return pc.localDescription.sdp;
  },
  async candidate(candidate, sdpMid, sdpMLineIndex) {
    if (candidate === '') return;
    await this.pc.addIceCandidate({ candidate, sdpMid, sdpMLineIndex });
  },
  // What arrived: inbound RTP per kind, and the connection state.
  async received() {
    const out = { state: this.pc.connectionState, video: null, audio: null };
    (await this.pc.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      out[s.kind] = {
        packets: s.packetsReceived || 0,
        framesDecoded: s.framesDecoded || 0,
        width: s.frameWidth || 0,
      };
    });
    return out;
  },
};
return true;
"#;

/// chromedriver and the Chromium session it started; both stop on drop.
pub struct Browser {
    child: Child,
    /// The WebDriver session.
    pub s: Session,
    /// chromedriver's log.
    pub log: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free port, opens a headless Chromium and defines
    /// the page's functions. `log` receives chromedriver's output.
    pub fn start(log: PathBuf) -> Browser {
        let chromium = require("chromium", "Debian package chromium");
        let chromedriver = require("chromedriver", "Debian package chromium-driver");
        let port = free_port();
        let out = File::create(&log).expect("chromedriver log");
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen within 20 s:\n{}",
                tail(&log, 30)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    // Parley's candidates are on 127.0.0.1 in the tests.
                    "--allow-loopback-in-peer-connection",
                    // Real host addresses instead of mDNS names.
                    "--disable-features=WebRtcHideLocalIpsWithMdns",
                    "--autoplay-policy=no-user-gesture-required",
                ],
            },
        });
        let browser = Browser {
            child,
            s: match Session::new(port, "chromium", caps) {
                Ok(s) => s,
                Err(e) => panic!("cannot open Chromium: {e}\n{}", tail(&log, 30)),
            },
            log,
        };
        browser
            .s
            .execute(PAGE, vec![])
            .expect("define the page's functions");
        browser
    }

    /// Calls `peer.<function>(args…)` in the page and returns its result.
    pub fn call(&self, function: &str, args: Vec<Value>) -> WdResult<Value> {
        self.s.execute(
            &format!("return window.peer.{function}(...arguments);"),
            args,
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.s.delete();
        let below = descendants(self.child.id());
        terminate(&mut self.child, Duration::from_secs(5));
        for pid in below {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}
