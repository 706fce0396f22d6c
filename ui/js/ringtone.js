// Ringtones synthesised with WebAudio (no audio files): a two-tone warble for
// incoming calls, a gentle ring-back for outgoing ones.
let ctx = null;
let timer = 0;
let playing = null;

function audio() {
  if (!ctx) {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    ctx = new AC();
    // Browsers may keep audio suspended until the first user gesture (autoplay
    // policy); resume then. Webviews usually start it running.
    if (ctx.state !== 'running') {
      const unlock = () => { if (ctx) ctx.resume().catch(() => {}); };
      window.addEventListener('pointerdown', unlock, { once: true, capture: true });
      window.addEventListener('keydown', unlock, { once: true, capture: true });
    }
  }
  return ctx;
}

function burst(ac, freqs, start, length, gainValue) {
  const gain = ac.createGain();
  gain.gain.setValueAtTime(0, start);
  gain.gain.linearRampToValueAtTime(gainValue, start + 0.02);
  gain.gain.setValueAtTime(gainValue, start + length - 0.05);
  gain.gain.linearRampToValueAtTime(0, start + length);
  gain.connect(ac.destination);
  for (const f of freqs) {
    const osc = ac.createOscillator();
    osc.type = 'sine';
    osc.frequency.value = f;
    osc.connect(gain);
    osc.start(start);
    osc.stop(start + length + 0.02);
  }
}

const PATTERNS = {
  // Incoming: two short warbling bursts every 3 s.
  incoming: { period: 3000, play(ac, t0) { burst(ac, [880, 1100], t0, 0.4, 0.12); burst(ac, [880, 1100], t0 + 0.6, 0.4, 0.12); } },
  // Outgoing ring-back: 440+480 Hz, 2 s on, 4 s off (North American style), quiet.
  outgoing: { period: 6000, play(ac, t0) { burst(ac, [440, 480], t0, 2, 0.05); } },
};

/** Starts (or keeps) the given ringtone; kind: 'incoming' | 'outgoing'. */
export function startRing(kind) {
  if (playing === kind) return;
  stopRing();
  const ac = audio();
  if (!ac) return;
  const p = PATTERNS[kind];
  playing = kind;
  const tick = () => {
    if (ac.state !== 'running') return; // nothing can sound yet; try again next period
    try { p.play(ac, ac.currentTime + 0.05); } catch (e) { console.warn(e); }
  };
  ac.onstatechange = () => { if (ac.state === 'running' && playing === kind) tick(); };
  tick();
  timer = setInterval(tick, p.period);
}

export function stopRing() {
  if (!playing) return;
  playing = null;
  clearInterval(timer);
  if (ctx) {
    // Closing cuts the scheduled bursts at once; a new context is made next time.
    ctx.close().catch(() => {});
    ctx = null;
  }
}

export function ringing() { return playing; }
