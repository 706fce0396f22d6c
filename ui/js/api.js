// The only module that touches window.__TAURI__. Without Tauri (plain browser),
// everything goes to the in-browser fake backend in mock.js.
// Contract: docs/ui-api.md.

const tauri = window.__TAURI__;
export const isTauri = !!(tauri && tauri.core);

let backend = null;
async function getBackend() {
  if (backend) return backend;
  if (isTauri) {
    backend = { invoke: tauri.core.invoke, listen: tauri.event.listen, Channel: tauri.core.Channel };
  } else {
    const mock = await import('./mock.js');
    backend = mock.createMockBackend(new URLSearchParams(location.search));
  }
  return backend;
}

/** Normalises any rejection to { code, message }. */
function toError(e) {
  if (e && typeof e === 'object' && 'code' in e) return { code: String(e.code), message: String(e.message ?? '') };
  if (e instanceof Error) return { code: 'internal', message: e.message };
  return { code: 'internal', message: String(e) };
}

export async function invoke(cmd, args) {
  const b = await getBackend();
  try {
    return await b.invoke(cmd, args);
  } catch (e) {
    throw toError(e);
  }
}

/** listen(name, payload => …) → Promise<unlisten> */
export async function listen(name, cb) {
  const b = await getBackend();
  return b.listen(name, (event) => cb(event.payload));
}

/** Mock-mode hints (which contact to select, open stats); {} under Tauri. */
export async function mockHints() {
  const b = await getBackend();
  return b.hints || {};
}

export async function newChannel(onmessage) {
  const b = await getBackend();
  const ch = new b.Channel();
  ch.onmessage = onmessage;
  return ch;
}

// One wrapper per command (names and argument keys exactly as in ui-api.md).
export const cmd = {
  getState: () => invoke('get_state'),
  setupProfile: (name) => invoke('setup_profile', { name }),
  updateSettings: (settings) => invoke('update_settings', { settings }),
  setNearbyVisible: (visible) => invoke('set_nearby_visible', { visible }),
  listDevices: () => invoke('list_devices'),
  checkConnection: () => invoke('check_connection'),
  addContact: (id, name) => invoke('add_contact', { id, name }),
  renameContact: (id, name) => invoke('rename_contact', { id, name }),
  removeContact: (id) => invoke('remove_contact', { id }),
  setContactVerified: (id, verified) => invoke('set_contact_verified', { id, verified }),
  startCall: (id) => invoke('start_call', { id }),
  acceptCall: (callId) => invoke('accept_call', { callId }),
  declineCall: (callId) => invoke('decline_call', { callId }),
  hangup: () => invoke('hangup'),
  setMuted: (audio, video) => invoke('set_muted', { audio, video }),
  switchDevice: (kind, name) => invoke('switch_device', { kind, name }),
  chatHistory: (id, limit) => invoke('chat_history', { id, limit }),
  sendChat: (id, text) => invoke('send_chat', { id, text }),
  sendFiles: (id, paths) => invoke('send_files', { id, paths }),
  pickAndSendFiles: (id) => invoke('pick_and_send_files', { id }),
  acceptTransfer: (transferId) => invoke('accept_transfer', { transferId }),
  declineTransfer: (transferId) => invoke('decline_transfer', { transferId }),
  cancelTransfer: (transferId) => invoke('cancel_transfer', { transferId }),
  showNotification: (title, body) => invoke('show_notification', { title, body }),
  showInFolder: (path) => invoke('show_in_folder', { path }),
  openTransfer: (transferId) => invoke('open_transfer', { transferId }),
  attachVideo: (remote, local, screen) => invoke('attach_video', { remote, local, screen }),
  attachMemberVideo: (peer, track, channel) => invoke('attach_member_video', { peer, track, channel }),
  detachMemberVideo: (peer, track) => invoke('detach_member_video', { peer, track }),
  inviteToCall: (id) => invoke('invite_to_call', { id }),
  listScreenSources: () => invoke('list_screen_sources'),
  startScreenShare: (sourceId) => invoke('start_screen_share', { sourceId }),
  stopScreenShare: () => invoke('stop_screen_share'),
  copyInviteLink: () => invoke('copy_invite_link'),
  takeInvite: () => invoke('take_invite'),
};

export const EVENTS = {
  state: 'parley://state',
  incomingCall: 'parley://incoming-call',
  chat: 'parley://chat',
  /** Not in docs/ui-api.md yet; emitted by src-tauri/runner.rs (payload: message id). */
  chatDelivered: 'parley://chat-delivered',
  transfer: 'parley://transfer',
  stats: 'parley://stats',
  error: 'parley://error',
  /** An invite link parley://add/<id> was opened (payload: the id). */
  invite: 'parley://invite',
};

/**
 * Window-level file drag & drop. Under Tauri: tauri://drag-enter / drag-leave /
 * drag-drop (physical pixels → CSS pixels). In a browser: HTML5 events, with the
 * file names standing in for paths (the mock backend accepts them).
 * handlers: { enter(pos), over(pos), leave(), drop(paths, pos) }, pos in CSS px.
 */
export async function onDragDrop(handlers) {
  const dpr = () => window.devicePixelRatio || 1;
  const cssPos = (p) => (p ? { x: p.x / dpr(), y: p.y / dpr() } : null);
  if (isTauri) {
    await tauri.event.listen('tauri://drag-enter', (e) => handlers.enter(cssPos(e.payload && e.payload.position)));
    await tauri.event.listen('tauri://drag-over', (e) => handlers.over(cssPos(e.payload && e.payload.position)));
    await tauri.event.listen('tauri://drag-leave', () => handlers.leave());
    await tauri.event.listen('tauri://drag-drop', (e) => {
      const p = e.payload || {};
      handlers.drop(p.paths || [], cssPos(p.position));
    });
    return;
  }
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    if (depth++ === 0) handlers.enter({ x: e.clientX, y: e.clientY });
  });
  window.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    handlers.over({ x: e.clientX, y: e.clientY });
  });
  window.addEventListener('dragleave', (e) => {
    if (!hasFiles(e)) return;
    if (--depth <= 0) { depth = 0; handlers.leave(); }
  });
  window.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    const paths = [...e.dataTransfer.files].map((f) => `/mock/${f.name}`);
    handlers.drop(paths, { x: e.clientX, y: e.clientY });
  });
}
