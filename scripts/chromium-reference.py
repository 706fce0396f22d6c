#!/usr/bin/env python3
"""Chromium's figures for parley-bench: the references that Parley's own are
divided by (issue 13, BENCHMARKS.md).

Drives Debian's `chromium` headless on one page with two RTCPeerConnections,
127.0.0.1 host candidates only, and prints one JSON line:

    {"dc_open_ms": [...], "call_setup_ms": [...], "width": W, "height": H}

- dc_open_ms: data channel open, from creating the offer to the offerer's
  `open` event (W3C webrtc-pc §6.2), one per run (--dc-runs, default 20).
- call_setup_ms: createOffer → the first remote frame presented
  (`requestVideoFrameCallback`), the camera being --y4m as Chromium's fake
  capture device (--calls, default 10); W x H: the remote frame's size.

With --cpu-secs S it instead holds one one-way call on the same camera (its
frames played in a <video>) for S seconds from the first remote frame, and
prints {"cpu_secs": C, "secs": S, "frames_decoded": N, "width": W, "height": H,
"codec": MIME, "bytes": B, "sizes": ["WxH", ...]}: the CPU time (user +
system) all of Chromium's processes used over those S seconds, read from
/proc at the call's start and end; W x H the last decoded frame's size; B
the bytes received on the selected candidate pair over those seconds; sizes
the received frame sizes seen, sampled each second. With --hold-resolution
the sender's degradationPreference is 'maintain-resolution'.

Standard library only; the page and its results go through a local HTTP
server on 127.0.0.1. Exits non-zero with a message on stderr if Chromium did
not report within --timeout seconds.

Usage: scripts/chromium-reference.py --y4m FILE.y4m [--dc-runs N] [--calls N]
"""

import argparse
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

PAGE = r"""<!doctype html><meta charset="utf-8"><title>reference</title>
<script>
const loopback = c => c && c.candidate.includes(' 127.0.0.1 ');
// Trickles each side's 127.0.0.1 candidates to the other, after its remote
// description is set.
function link(from, to, remoteSet) {
  from.onicecandidate = async e => {
    if (!loopback(e.candidate)) return;
    await remoteSet;
    to.addIceCandidate(e.candidate).catch(() => {});
  };
}
async function connect(pc1, pc2) {
  let set1, set2;
  const remote1 = new Promise(r => set1 = r), remote2 = new Promise(r => set2 = r);
  link(pc1, pc2, remote2);
  link(pc2, pc1, remote1);
  const offer = await pc1.createOffer();
  await pc1.setLocalDescription(offer);
  await pc2.setRemoteDescription(offer);
  set2();
  const answer = await pc2.createAnswer();
  await pc2.setLocalDescription(answer);
  await pc1.setRemoteDescription(answer);
  set1();
}
async function dcOpen() {
  const pc1 = new RTCPeerConnection(), pc2 = new RTCPeerConnection();
  const dc = pc1.createDataChannel('bench');
  const opened = new Promise(r => dc.onopen = r);
  const t0 = performance.now();
  await connect(pc1, pc2);
  await opened;
  const ms = performance.now() - t0;
  pc1.close(); pc2.close();
  return ms;
}
// pc1 sends the camera to pc2, whose frames play in a <video>; resolves
// (with the first frame's size) once the first one is presented.
function sendCamera(stream, pc1, pc2) {
  for (const t of stream.getVideoTracks()) pc1.addTrack(t, stream);
  const video = document.createElement('video');
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.appendChild(video);
  const first = new Promise(r => {
    pc2.ontrack = e => {
      video.srcObject = e.streams[0];
      video.requestVideoFrameCallback((now, meta) => r([meta.width, meta.height]));
      video.play().catch(() => {});
    };
  });
  return [video, first];
}
async function callSetup(stream) {
  const pc1 = new RTCPeerConnection(), pc2 = new RTCPeerConnection();
  const [video, first] = sendCamera(stream, pc1, pc2);
  const t0 = performance.now();
  await connect(pc1, pc2);
  const size = await first;
  const ms = performance.now() - t0;
  pc1.close(); pc2.close(); video.remove();
  return [ms, size];
}
// Bytes received on pc2's selected candidate pair (RTP, RTCP, STUN, DTLS:
// what Parley counts too).
async function pairBytes(pc) {
  const stats = await pc.getStats();
  let bytes = 0;
  stats.forEach(s => {
    if (s.type === 'transport' && s.selectedCandidatePairId) {
      const pair = stats.get(s.selectedCandidatePairId);
      if (pair) bytes = pair.bytesReceived;
    }
  });
  return bytes;
}
async function oneWay(stream, secs, hold) {
  const pc1 = new RTCPeerConnection(), pc2 = new RTCPeerConnection();
  const [video, first] = sendCamera(stream, pc1, pc2);
  await connect(pc1, pc2);
  if (hold) {
    // Keep the camera's size and drop frames instead when short of bits or
    // CPU (W3C webrtc-pc §5.2 RTCDegradationPreference); the content hint
    // stays unset, so it is still encoded as camera video.
    const sender = pc1.getSenders().find(s => s.track);
    const params = sender.getParameters();
    params.degradationPreference = 'maintain-resolution';
    await sender.setParameters(params);
  }
  await first;
  const bytes0 = await pairBytes(pc2);
  await fetch('/started', {method: 'POST', body: '{}'});
  // The received frame size, sampled each second.
  const sizes = [];
  for (let i = 0; i < Math.round(secs); i++) {
    await new Promise(r => setTimeout(r, 1000));
    (await pc2.getStats()).forEach(s => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        const size = `${s.frameWidth}x${s.frameHeight}`;
        if (!sizes.includes(size)) sizes.push(size);
      }
    });
  }
  const out = {sizes, bytes: (await pairBytes(pc2)) - bytes0};
  const stats = await pc2.getStats();
  stats.forEach(s => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      out.frames_decoded = s.framesDecoded;
      out.width = s.frameWidth;
      out.height = s.frameHeight;
      const codec = stats.get(s.codecId);
      out.codec = codec ? codec.mimeType : '';
    }
  });
  pc1.close(); pc2.close(); video.remove();
  return out;
}
(async () => {
  const q = new URLSearchParams(location.search);
  if (+q.get('cpu') > 0) {
    const out = {};
    try {
      const stream = await navigator.mediaDevices.getUserMedia(
        {video: {width: 1280, height: 720, frameRate: 30}, audio: false});
      Object.assign(out, await oneWay(stream, +q.get('cpu'), q.get('hold') === '1'));
    } catch (e) {
      out.error = String(e);
    }
    await fetch('/result', {method: 'POST', body: JSON.stringify(out)});
    return;
  }
  const out = {dc_open_ms: [], call_setup_ms: []};
  try {
    await dcOpen(); // warm-up, not counted
    for (let i = 0; i < +q.get('dc'); i++) out.dc_open_ms.push(await dcOpen());
    const stream = await navigator.mediaDevices.getUserMedia(
      {video: {width: 1280, height: 720, frameRate: 30}, audio: false});
    await callSetup(stream); // warm-up
    for (let i = 0; i < +q.get('calls'); i++) {
      const [ms, size] = await callSetup(stream);
      out.call_setup_ms.push(ms);
      [out.width, out.height] = size;
    }
  } catch (e) {
    out.error = String(e);
  }
  await fetch('/result', {method: 'POST', body: JSON.stringify(out)});
})();
</script>"""


def tree_cpu(root):
    """CPU time (user + system, s) of `root` and each of its descendants, by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(entry)
        parent[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
    out = {}
    for pid in cpu:
        p = pid
        while p and p != root:
            p = parent.get(p, 0)
        if p == root:
            out[pid] = cpu[pid]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--y4m", required=True, help="the fake camera, a Y4M file")
    ap.add_argument("--dc-runs", type=int, default=20)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--cpu-secs", type=float, default=0.0)
    ap.add_argument(
        "--hold-resolution",
        action="store_true",
        help="with --cpu-secs: the sender's degradationPreference is "
        "'maintain-resolution', so Chromium sends the camera's full size "
        "instead of scaling it down",
    )
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = ap.parse_args()
    if not os.path.exists(args.y4m):
        sys.exit(f"chromium-reference: no such file: {args.y4m}")

    result = {}
    done = threading.Event()
    browser_pid = []
    cpu_at_start = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(n))
            if self.path == "/started":
                cpu_at_start.update(tree_cpu(browser_pid[0]))
                cpu_at_start["at"] = time.monotonic()
            else:
                if cpu_at_start:
                    end = tree_cpu(browser_pid[0])
                    secs = time.monotonic() - cpu_at_start.pop("at")
                    used = sum(t - cpu_at_start.get(p, 0.0) for p, t in end.items())
                    result.update(cpu_secs=used, secs=secs)
                result.update(body)
            self.send_response(204)
            self.end_headers()
            if self.path != "/started":
                done.set()

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    with tempfile.TemporaryDirectory() as profile:
        browser = subprocess.Popen(
            [
                args.chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={os.path.abspath(args.y4m)}",
                "--allow-loopback-in-peer-connection",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--autoplay-policy=no-user-gesture-required",
                f"http://127.0.0.1:{port}/?dc={args.dc_runs}&calls={args.calls}"
                f"&cpu={args.cpu_secs}&hold={int(args.hold_resolution)}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        browser_pid.append(browser.pid)
        try:
            if not done.wait(args.timeout):
                sys.exit(f"chromium-reference: no result within {args.timeout:.0f} s")
        finally:
            browser.kill()
            browser.wait()
            server.shutdown()
    if "error" in result:
        sys.exit(f"chromium-reference: the page failed: {result['error']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
