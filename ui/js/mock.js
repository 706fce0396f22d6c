// In-browser fake backend (used when window.__TAURI__ is absent). Same shape as
// Tauri's invoke / listen / Channel. Scenario via ?mock=first|contacts|incoming|
// outgoing|incall|transfer|offline (default contacts); &stats=1 opens the stats.
// Screen sharing: &share=remote makes the peer share once the call is connected;
// &screens=none|fail makes list_screen_sources return [] / fail (code device);
// window.parleyMock.remoteShare(true|false) toggles the peer's share by hand.
// Nearby: Bob (a contact) and a stranger are found at once, another stranger
// without a name after 2 s; &nearby=none finds nobody.
import { TestPattern, ScreenPattern } from './testpattern.js';

const ID_RE = /^[A-Za-z0-9_-]{43}$/;
const fakeId = (seed) => {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let x = seed, s = '';
  for (let i = 0; i < 43; i++) { x = (x * 1103515245 + 12345) >>> 0; s += abc[(x >>> 8) % 64]; }
  return s;
};
const fail = (code, message) => Promise.reject({ code, message });
const clone = (x) => JSON.parse(JSON.stringify(x));
/** A made-up safety number for the mock (the real one comes from parley_proto::safety). */
const SAFETY = '19654 53620 45234 30450 95614 82546 97301 92639 49960 36965 78171 69281';

// Fake screens and windows for list_screen_sources; thumbnails drawn on a canvas.
const SCREEN_SOURCES = [
  { id: 'monitor:0', kind: 'monitor', name: 'Built-in Display', width: 1920, height: 1080, hue: 220 },
  { id: 'monitor:1', kind: 'monitor', name: 'DELL U2720Q', width: 2560, height: 1440, hue: 160 },
  { id: 'window:4194311', kind: 'window', name: 'Quarterly report — LibreOffice Calc', width: 1280, height: 800, hue: 120 },
  { id: 'window:4194388', kind: 'window', name: 'Terminal — ~/src/parley', width: 960, height: 600, hue: 0 },
  { id: 'window:4194402', kind: 'window', name: 'Mockups v3 — Figma', width: 1440, height: 900, hue: 280 },
  { id: 'window:4194417', kind: 'window', name: '회의록.txt — 텍스트 편집기', width: 800, height: 600, hue: 40, noThumb: true },
];
function drawThumbnail(src) {
  const c = document.createElement('canvas');
  c.width = 320;
  c.height = Math.round((320 * src.height) / src.width);
  const g = c.getContext('2d');
  const { width: w, height: h } = c;
  if (src.kind === 'monitor') {
    const grad = g.createLinearGradient(0, 0, w, h);
    grad.addColorStop(0, `hsl(${src.hue} 45% 35%)`);
    grad.addColorStop(1, `hsl(${src.hue + 40} 50% 18%)`);
    g.fillStyle = grad; g.fillRect(0, 0, w, h);
    for (const [x, y, ww, hh, l] of [[20, 18, 170, 110, 96], [120, 50, 170, 100, 88]]) {
      g.fillStyle = `hsl(${src.hue} 10% ${l}%)`; g.fillRect(x, y, ww, hh);
      g.fillStyle = `hsl(${src.hue} 30% 60%)`; g.fillRect(x, y, ww, 10);
    }
    g.fillStyle = 'rgba(0, 0, 0, .55)'; g.fillRect(0, h - 14, w, 14);
  } else {
    g.fillStyle = src.hue === 0 ? '#1e1e1e' : '#fafafa'; g.fillRect(0, 0, w, h);
    g.fillStyle = `hsl(${src.hue} 40% 45%)`; g.fillRect(0, 0, w, 16);
    g.fillStyle = src.hue === 0 ? '#8ce99a' : '#868e96';
    for (let y = 28; y < h - 8; y += 9) g.fillRect(10, y, 60 + ((y * 37) % 220), 4);
  }
  return c.toDataURL('image/png');
}

export function createMockBackend(params) {
  const scenario = params.get('mock') || 'contacts';
  const listeners = new Map();
  const emit = (name, payload) => (listeners.get(name) || new Set()).forEach((cb) => cb({ event: name, payload: clone(payload) }));
  const later = (ms, f) => setTimeout(f, ms);
  const now = Date.now();

  const ALICE = fakeId(1), BOB = fakeId(2), CHEN = fakeId(3), MINJI = fakeId(4);
  const state = {
    me: scenario === 'first' ? null : { id: fakeId(99), name: 'Jordan Lee' },
    connection: { state: 'online', url: 'ws://127.0.0.1:8443/ws', embedded: true, error: null, retryInMs: null },
    contacts: [
      { id: ALICE, name: 'Alice Martin', online: scenario !== 'contacts', verified: true, safetyNumber: SAFETY },
      { id: BOB, name: 'Bob Okafor', online: true, verified: false, safetyNumber: SAFETY },
      { id: MINJI, name: '김민지', online: true, via: 'nearby', verified: false, safetyNumber: SAFETY },
      { id: CHEN, name: 'Chen Wei', online: false, verified: false, safetyNumber: SAFETY },
      { id: fakeId(7), name: 'Echo test', online: true, echo: true, verified: false, safetyNumber: SAFETY },
    ],
    call: null,
    settings: {
      displayName: 'Jordan Lee', serverUrl: null, iceServers: [{ urls: ['stun:stun.example.org:3478'], username: '', credential: '' }],
      downloadDir: '/home/jordan/Downloads', camera: null, microphone: null, speaker: null,
      language: params.get('lang') || 'auto', theme: params.get('theme') || 'system', nearbyVisible: true,
    },
    nearby: [
      { id: BOB, name: 'Bob', contact: true, url: 'ws://192.168.1.20:40123/ws' },
      { id: fakeId(11), name: 'Dana Park', contact: false, url: 'ws://192.168.1.31:38211/ws' },
    ],
    transfers: [],
    defaultDownloadDir: '/home/jordan/Downloads',
  };
  if (scenario === 'first') state.contacts = [];
  if (scenario === 'first' || params.get('nearby') === 'none') state.nearby = [];
  /** Keeps State.nearby's `contact` flags in step with the contact list. */
  const markNearby = () => { for (const n of state.nearby) n.contact = state.contacts.some((c) => c.id === n.id); };
  const chats = new Map([[ALICE, [
    { id: 'm1', peer: ALICE, text: 'Hi! Are we still on for the design review?', sentAtMs: now - 3600e3, direction: 'received', delivered: true },
    { id: 'm2', peer: ALICE, text: 'Yes — calling you in 5 minutes.', sentAtMs: now - 3500e3, direction: 'sent', delivered: true },
    { id: 'm3', peer: ALICE, text: 'Great, I will share the new mockups 🎨', sentAtMs: now - 3400e3, direction: 'received', delivered: true },
  ]]]);
  const channels = { remote: null, local: null, screen: null };
  const devices = { cameras: ['Integrated Webcam', 'Logitech C920'], microphones: ['Built-in Microphone', 'USB Headset'], speakers: ['Built-in Speakers', 'USB Headset'] };
  let seq = 100, videoTimer = 0, statsTimer = 0, screenTimer = 0, sources = null, screenPattern = null, autoShared = false;
  const remotePattern = new TestPattern(640, 360, 0), localPattern = new TestPattern(320, 180, 1);

  const pushState = () => emit('parley://state', state);
  const contact = (id) => state.contacts.find((c) => c.id === id);

  function send(ch, msg) { if (ch && ch.onmessage) ch.onmessage(msg); }
  function startMedia() {
    stopMedia(false);
    videoTimer = setInterval(() => {
      if (!state.call || state.call.state !== 'connected') return;
      send(channels.remote, remotePattern.next());
      if (!state.call.muted.video) send(channels.local, localPattern.next());
    }, 1000 / 15);
    screenTimer = setInterval(() => {
      if (!state.call || state.call.state !== 'connected' || !state.call.remoteSharing) return;
      if (!screenPattern) screenPattern = new ScreenPattern(1920, 1080, `${state.call.peerName} — shared screen (1920 × 1080)`);
      send(channels.screen, screenPattern.next());
    }, 1000 / 5);
    if (params.get('share') === 'remote' && !autoShared) { autoShared = true; later(1500, () => setRemoteSharing(true)); }
    let t = 0;
    statsTimer = setInterval(() => {
      t++;
      emit('parley://stats', { width: 640, height: 360, fps: 14 + (t % 3 === 0 ? 0 : 1), bitrateBps: 1.1e6 + 3e5 * Math.sin(t / 5) + Math.random() * 1e5, sentBitrateBps: 9e5, estimateBps: 1.2e6, videoTargetBps: 8.5e5, screenTargetBps: 0,
        rttMs: Math.round(18 + 8 * Math.sin(t / 7) + Math.random() * 6), lossPct: Math.max(0, +(Math.random() * 0.6 - 0.2).toFixed(2)), candidate: 'srflx', localAddress: '192.168.1.23:50314', remoteAddress: '203.0.113.45:61022' });
    }, 1000);
  }
  function stopMedia(empty = true) {
    clearInterval(videoTimer); clearInterval(statsTimer); clearInterval(screenTimer);
    if (empty) { send(channels.remote, new ArrayBuffer(0)); send(channels.local, new ArrayBuffer(0)); send(channels.screen, new ArrayBuffer(0)); }
  }
  /** The fake peer starts / stops sharing its screen (frames on the screen channel). */
  function setRemoteSharing(on) {
    if (!state.call || state.call.state !== 'connected' || state.call.remoteSharing === !!on) return;
    state.call.remoteSharing = !!on;
    if (!on) send(channels.screen, new ArrayBuffer(0));
    pushState();
  }
  function connectCall(delay = 600) {
    state.call.state = 'connecting'; pushState();
    later(delay, () => {
      if (!state.call) return;
      state.call.state = 'connected'; state.call.startedAtMs = Date.now(); pushState(); startMedia();
    });
  }
  function endCall(reason) {
    if (!state.call) return;
    stopMedia();
    state.call = { ...state.call, state: 'ended', endReason: reason, sharingScreen: false, remoteSharing: false, sharingName: null };
    pushState();
    later(1200, () => { if (state.call && state.call.state === 'ended') { state.call = null; pushState(); } });
  }
  function newCall(peer, direction, st) {
    return { callId: `c${seq++}`, peer, peerName: contact(peer).name, peerIsContact: true, peerVerified: !!contact(peer).verified,
      safetyNumber: SAFETY, direction, state: st, startedAtMs: null, muted: { audio: false, video: false }, endReason: null,
      sharingScreen: false, remoteSharing: false, sharingName: null };
  }

  // Transfers: progress every 100 ms, like the backend.
  function runTransfer(x, bps) {
    x.state = 'active';
    const timer = setInterval(() => {
      if (x.state !== 'active') { clearInterval(timer); return; }
      x.bytesPerSec = bps * (0.9 + Math.random() * 0.2);
      x.bytesDone = Math.min(x.bytesTotal, x.bytesDone + x.bytesPerSec / 10);
      if (x.bytesDone >= x.bytesTotal) {
        x.state = 'completed'; x.bytesPerSec = 0;
        if (x.direction === 'receiving') x.path = `${state.settings.downloadDir}/${x.name}`;
        clearInterval(timer); emit('parley://transfer', x); pushState(); return;
      }
      emit('parley://transfer', x);
    }, 100);
  }
  function newTransfer(peer, name, direction, total, extra = {}) {
    const x = { transferId: `t${seq++}`, peer, name, direction, bytesDone: 0, bytesTotal: total, bytesPerSec: 0, state: 'offered', path: null, error: null, ...extra };
    state.transfers.push(x);
    return x;
  }
  function sendFiles(id, paths) {
    if (!contact(id)) return fail('not_found', 'No such contact');
    if (!contact(id).online) return fail('offline', `${contact(id).name} is offline`);
    const xs = paths.map((p) => newTransfer(id, p.split(/[\\/]/).pop(), 'sending', 5e6 + Math.round(Math.random() * 4e8)));
    pushState();
    xs.forEach((x) => later(700, () => { if (x.state === 'offered') runTransfer(x, 3.2e7); }));
    return Promise.resolve(clone(xs));
  }

  const commands = {
    get_state: () => state,
    setup_profile: ({ name }) => {
      if (!name || !name.trim()) return fail('invalid', 'The name is empty');
      state.me = { id: fakeId(99), name: name.trim() };
      state.settings.displayName = name.trim();
      pushState();
      later(1500, () => { state.contacts.push({ id: ALICE, name: 'Alice Martin', online: true }); pushState(); });
      return state;
    },
    update_settings: ({ settings }) => {
      state.settings = clone(settings);
      if (state.me) state.me.name = settings.displayName;
      state.connection.embedded = !settings.serverUrl;
      state.connection.url = settings.serverUrl || 'ws://127.0.0.1:8443/ws';
      pushState();
      return state;
    },
    set_nearby_visible: ({ visible }) => {
      state.settings.nearbyVisible = !!visible;
      pushState();
      return state;
    },
    list_devices: () => devices,
    check_connection: () => ({
      server: { url: 'ws://127.0.0.1:8443/ws', ok: true, ms: 3 }, ice_source: 'server',
      stun: { url: 'stun:stun.example.org:3478', ok: true, public: '203.0.113.7:40000', local: '192.168.1.20:40000', rtt_ms: 21 },
      nat: 'endpoint_independent',
      relays: [{ url: 'turn:turn.example.org:3478', transport: 'udp', ok: true, ms: 48 },
        { url: 'turns:turn.example.org:5349', transport: 'tls', ok: false, error: 'no relay candidate in 8000 ms' }],
      paths: ['direct', 'relay_udp'],
      advice: ['TURN turns:turn.example.org:5349 gave no relay. Check that TCP port 5349 is reachable from here.'],
    }),
    add_contact: ({ id, name }) => {
      if (!ID_RE.test(id || '')) return fail('invalid', 'A contact id is 43 characters of base64url');
      if (state.contacts.some((c) => c.id === id)) return fail('invalid', 'This contact is already in your list');
      state.contacts.push({ id, name: name || id.slice(0, 8), online: false, verified: false, safetyNumber: SAFETY });
      markNearby();
      pushState();
      later(2000, () => { const c = contact(id); if (c) { c.online = true; pushState(); } });
      return state.contacts;
    },
    rename_contact: ({ id, name }) => {
      if (!contact(id)) return fail('not_found', 'No such contact');
      contact(id).name = name; pushState(); return state.contacts;
    },
    set_contact_verified: ({ id, verified }) => {
      if (!contact(id)) return fail('not_found', 'No such contact');
      contact(id).verified = !!verified; pushState(); return state.contacts;
    },
    remove_contact: ({ id }) => {
      state.contacts = state.contacts.filter((c) => c.id !== id); markNearby(); pushState(); return state.contacts;
    },
    start_call: ({ id }) => {
      if (state.call) return fail('busy', 'Already in a call');
      if (!contact(id)) return fail('not_found', 'No such contact');
      if (!contact(id).online) return fail('offline', `${contact(id).name} is offline`);
      state.call = newCall(id, 'out', 'ringing-out'); pushState();
      const callId = state.call.callId;
      if (id !== CHEN && scenario !== 'outgoing') later(2500, () => { if (state.call && state.call.callId === callId && state.call.state === 'ringing-out') connectCall(); });
      return state.call;
    },
    accept_call: ({ callId }) => {
      if (!state.call || state.call.callId !== callId) return fail('not_found', 'The call is over');
      connectCall(400); return state.call;
    },
    decline_call: ({ callId }) => {
      if (state.call && state.call.callId === callId) { state.call = null; pushState(); }
      return null;
    },
    hangup: () => { endCall('hangup'); return null; },
    set_muted: ({ audio, video }) => {
      if (!state.call) return fail('not_found', 'Not in a call');
      state.call.muted = { audio: !!audio, video: !!video };
      if (video) send(channels.local, new ArrayBuffer(0));
      pushState(); return state.call;
    },
    switch_device: ({ kind, name }) => {
      const list = devices[{ camera: 'cameras', microphone: 'microphones', speaker: 'speakers' }[kind]];
      if (!list || !list.includes(name)) return fail('no_device', `No ${kind} named "${name}"`);
      state.settings[kind] = name; pushState(); return null;
    },
    chat_history: ({ id, limit }) => (chats.get(id) || []).slice(-(limit || 100)),
    send_chat: ({ id, text }) => {
      const c = contact(id);
      if (!c) return fail('not_found', 'No such contact');
      if (!c.online) return fail('offline', `${c.name} is offline`);
      const msg = { id: `m${seq++}`, peer: id, text, sentAtMs: Date.now(), direction: 'sent', delivered: false };
      const list = chats.get(id) || []; list.push(msg); chats.set(id, list);
      later(400, () => { msg.delivered = true; emit('parley://chat', msg); });
      later(1200, () => {
        const echo = { id: `m${seq++}`, peer: id, text: `Echo: ${text}`, sentAtMs: Date.now(), direction: 'received', delivered: true };
        list.push(echo); emit('parley://chat', echo);
      });
      return msg;
    },
    send_files: ({ id, paths }) => sendFiles(id, paths),
    pick_and_send_files: ({ id }) => sendFiles(id, ['/home/jordan/Documents/quarterly-report.pdf']),
    accept_transfer: ({ transferId }) => {
      const x = state.transfers.find((t) => t.transferId === transferId);
      if (!x) return fail('not_found', 'No such transfer');
      runTransfer(x, 2.4e7); pushState(); return null;
    },
    decline_transfer: ({ transferId }) => {
      const x = state.transfers.find((t) => t.transferId === transferId);
      if (x) { x.state = 'declined'; pushState(); }
      return null;
    },
    cancel_transfer: ({ transferId }) => {
      const x = state.transfers.find((t) => t.transferId === transferId);
      if (x) { x.state = 'cancelled'; x.bytesPerSec = 0; pushState(); }
      return null;
    },
    show_in_folder: ({ path }) => { console.info('show_in_folder', path); return null; },
    open_transfer: ({ transferId }) => { console.info('open_transfer', transferId); return null; },
    show_notification: ({ title, body }) => { console.info('notification', title, body); return null; },
    attach_video: ({ remote, local, screen }) => {
      Object.assign(channels, { remote, local, screen });
      if (state.call && state.call.state === 'connected') startMedia();
      return null;
    },
    copy_invite_link: () => `parley://add/${state.me.id}`,
    take_invite: () => null,
    list_screen_sources: () => {
      if (params.get('screens') === 'fail') return fail('device', 'Screen capture is not available in this session');
      if (params.get('screens') === 'none') return [];
      if (!sources) {
        sources = SCREEN_SOURCES.map(({ id, kind, name, width, height, hue, noThumb }) =>
          ({ id, kind, name, width, height, thumbnail: noThumb ? null : drawThumbnail({ kind, width, height, hue }) }));
      }
      return new Promise((resolve) => later(400, () => resolve(sources))); // capturing thumbnails takes a moment
    },
    start_screen_share: ({ sourceId }) => {
      if (!state.call || state.call.state !== 'connected') return fail('not_found', 'Not in a call');
      const src = SCREEN_SOURCES.find((x) => x.id === sourceId);
      if (!src) return fail('not_found', `No screen or window "${sourceId}"`);
      Object.assign(state.call, { sharingScreen: true, sharingName: src.name });
      pushState(); return state.call;
    },
    stop_screen_share: () => {
      if (!state.call) return fail('not_found', 'Not in a call');
      Object.assign(state.call, { sharingScreen: false, sharingName: null });
      pushState(); return state.call;
    },
  };
  window.parleyMock = { remoteShare: (on = true) => setRemoteSharing(on) };

  // Scenario set-up.
  if (state.nearby.length) {
    later(2000, () => {
      state.nearby.unshift({ id: fakeId(12), name: '', contact: false, url: 'ws://[fd00::5]:41877/ws' });
      markNearby(); pushState();
    });
  }
  if (scenario === 'contacts') later(1200, () => { contact(ALICE).online = true; pushState(); });
  if (scenario === 'incoming') later(700, () => { state.call = newCall(BOB, 'in', 'ringing-in'); pushState(); emit('parley://incoming-call', state.call); });
  if (scenario === 'outgoing') later(300, () => { state.call = newCall(ALICE, 'out', 'ringing-out'); pushState(); });
  if (scenario === 'incall') {
    state.call = { ...newCall(ALICE, 'out', 'connected'), startedAtMs: now - 83_000 };
    later(50, startMedia);
  }
  if (scenario === 'transfer') {
    const a = newTransfer(ALICE, 'design-review-recording.mp4', 'sending', 1.84e9, { bytesDone: 6.1e8 });
    newTransfer(ALICE, 'mockups-v3.fig', 'receiving', 4.2e7);
    newTransfer(ALICE, 'notes.txt', 'receiving', 5230, { state: 'completed', bytesDone: 5230, path: '/home/jordan/Downloads/notes.txt' });
    newTransfer(ALICE, 'big-archive.tar', 'sending', 9.1e8, { state: 'failed', bytesDone: 2.2e8, error: 'Connection to Alice Martin lost' });
    later(50, () => runTransfer(a, 4.5e7));
  }
  if (scenario === 'offline') {
    Object.assign(state.connection, { state: 'offline', embedded: false, url: 'wss://signal.example.org/ws', error: 'Connection refused (os error 111)', retryInMs: 8000 });
    state.contacts.forEach((c) => { c.online = false; });
    const cycle = () => {
      Object.assign(state.connection, { state: 'connecting', error: null, retryInMs: null }); pushState();
      later(1500, () => { Object.assign(state.connection, { state: 'offline', error: 'Connection refused (os error 111)', retryInMs: 8000 }); pushState(); later(8000, cycle); });
    };
    later(8000, cycle);
  }

  return {
    hints: { select: scenario === 'first' ? null : ALICE, showStats: params.get('stats') === '1', open: params.get('open') },
    invoke(cmd, args = {}) {
      const f = commands[cmd];
      if (!f) return fail('internal', `mock: unknown command ${cmd}`);
      return new Promise((resolve, reject) => later(30 + Math.random() * 60, () => {
        try { Promise.resolve(f(args)).then((r) => resolve(clone(r)), reject); } catch (e) { reject({ code: 'internal', message: String(e) }); }
      }));
    },
    listen(name, cb) {
      if (!listeners.has(name)) listeners.set(name, new Set());
      listeners.get(name).add(cb);
      return Promise.resolve(() => listeners.get(name).delete(cb));
    },
    Channel: class MockChannel { constructor() { this.onmessage = () => {}; } },
  };
}
