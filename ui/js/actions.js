// User actions shared by several components (and window.parleyTest).
import { cmd } from './api.js';
import { act, showError, toast } from './toast.js';
import { store, changed, addChat, upsertTransfer, contactName, applyCallReply } from './store.js';
import { t } from './i18n.js';

const loaded = new Set();

export async function loadHistory(peer) {
  try {
    const msgs = await cmd.chatHistory(peer, 200);
    for (const m of msgs) addChat(m, { countUnread: false });
    loaded.add(peer);
  } catch (e) { showError(e); }
}

export function selectContact(id) {
  store.selected = id;
  store.unread.delete(id);
  changed();
  if (id && !loaded.has(id)) loadHistory(id);
}

/** Sends files (paths on this machine) to a contact. Exported to tests. */
export async function sendFiles(peerId, paths) {
  if (!peerId) { toast(t('files.noTarget'), { kind: 'error' }); return []; }
  if (!paths || !paths.length) return [];
  const xs = await act(cmd.sendFiles(peerId, paths));
  if (!xs) return [];
  for (const x of xs) upsertTransfer(x);
  toast(t('files.sending', { n: xs.length, name: contactName(peerId) }));
  return xs;
}

export async function pickAndSend(peerId) {
  const xs = await act(cmd.pickAndSendFiles(peerId));
  if (xs) for (const x of xs) upsertTransfer(x);
}

export async function startCall(id) {
  const c = await act(cmd.startCall(id));
  if (c && store.state) { applyCallReply(c); changed(); }
}

/** Returns true when the backend took the message. The contract returns the
 * ChatMessage; a backend that returns nothing delivers it as a parley://chat event. */
export async function sendChat(peer, text) {
  try {
    const m = await cmd.sendChat(peer, text);
    if (m && m.id) addChat(m);
    return true;
  } catch (e) {
    showError(e);
    return false;
  }
}

/** Marks a sent message delivered (parley://chat-delivered, payload: message id). */
export function markDelivered(id) {
  for (const list of store.chats.values()) {
    const m = list.find((x) => x.id === id);
    if (m) { m.delivered = true; changed(); return; }
  }
}

export async function toggleMute(kind) {
  const call = store.state && store.state.call;
  if (!call || call.state === 'ended') return;
  const audio = kind === 'audio' ? !call.muted.audio : call.muted.audio;
  const video = kind === 'video' ? !call.muted.video : call.muted.video;
  const c = await act(cmd.setMuted(audio, video));
  if (c && store.state.call && store.state.call.callId === c.callId) { applyCallReply(c); changed(); }
}

export async function hangup() {
  await act(cmd.hangup());
}
