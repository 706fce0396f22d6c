// The UI's single source of truth: the backend State plus UI-only bits.
// Components subscribe; changes are coalesced into one render per frame.

import { t } from './i18n.js';

/** The built-in echo contact is named from the string table, not by the backend. */
export function localizeContact(c) {
  return c && c.echo ? { ...c, name: t('contacts.echoName') } : c;
}

/** How far a call has come; a reply never moves a call back. */
const CALL_PHASE = { 'ringing-out': 0, 'ringing-in': 0, connecting: 1, connected: 2, ended: 3 };

/**
 * Applies the CallView a command answered with. Events can overtake a command's
 * reply (a call may connect before `accept_call` returns), so a reply for the same
 * call never moves its phase back: the newer phase and start time are kept.
 */
export function applyCallReply(reply) {
  if (!reply || !store.state) return;
  const cur = store.state.call;
  if (cur && cur.callId === reply.callId && (CALL_PHASE[cur.state] ?? 0) > (CALL_PHASE[reply.state] ?? 0)) {
    store.state.call = { ...reply, state: cur.state, startedAtMs: cur.startedAtMs ?? reply.startedAtMs, endReason: cur.endReason };
  } else {
    store.state.call = reply;
  }
}

export const store = {
  /** Backend State (docs/ui-api.md), null until get_state answers. */
  state: null,
  /** Transfers by id, merged from State.transfers and parley://transfer. */
  transfers: new Map(),
  /** Chat messages by peer id, oldest first. */
  chats: new Map(),
  unread: new Map(),
  selected: null,
  incoming: null,
  stats: null,
  statsHistory: [],
  showStats: false,
  chatOpenInCall: true,
  devices: null,
  connectionAt: 0,
  /** callId of an ended call whose screen was dismissed. */
  dismissedCall: null,
  /** An invite link's id that arrived before the profile existed (first start). */
  pendingInvite: null,
  /** The peer's shared screen: filling the window (call chrome hidden) / shown 1:1. */
  screenFull: false,
  screenZoom: false,
};

const subs = new Set();
let pending = false;

export function subscribe(fn) { subs.add(fn); return () => subs.delete(fn); }

export function changed() {
  if (pending) return;
  pending = true;
  const run = () => {
    pending = false;
    for (const fn of subs) {
      try { fn(store); } catch (e) { console.error(e); }
    }
  };
  // rAF pauses in hidden windows; fall back to a timer so state still applies.
  if (document.hidden) setTimeout(run, 0); else requestAnimationFrame(run);
}

export function setState(s) {
  const prevConn = store.state && store.state.connection;
  s.contacts = (s.contacts || []).map(localizeContact);
  const echo = s.call && s.contacts.find((c) => c.echo && c.id === s.call.peer);
  if (echo) s.call = { ...s.call, peerName: echo.name };
  store.state = s;
  if (!prevConn || JSON.stringify(prevConn) !== JSON.stringify(s.connection)) store.connectionAt = Date.now();
  store.transfers = new Map((s.transfers || []).map((x) => [x.transferId, x]));
  if (store.selected && !s.contacts.some((c) => c.id === store.selected)) store.selected = null;
  if (!s.call && store.incoming) store.incoming = null;
  if (s.call && s.call.state === 'ringing-in' && !store.incoming) store.incoming = s.call;
  if (s.call && store.incoming && s.call.callId === store.incoming.callId && s.call.state !== 'ringing-in') store.incoming = null;
  if (!s.call || s.call.state !== 'connected') { store.stats = null; store.statsHistory = []; }
  changed();
}

export function upsertTransfer(x) {
  store.transfers.set(x.transferId, x);
  changed();
}

export function addChat(msg, { countUnread = true } = {}) {
  const list = store.chats.get(msg.peer) || [];
  const i = list.findIndex((m) => m.id === msg.id);
  if (i >= 0) list[i] = { ...list[i], ...msg };
  else {
    list.push(msg);
    list.sort((a, b) => a.sentAtMs - b.sentAtMs);
    if (countUnread && msg.direction === 'received' && msg.peer !== store.selected) {
      store.unread.set(msg.peer, (store.unread.get(msg.peer) || 0) + 1);
    }
  }
  store.chats.set(msg.peer, list);
  changed();
}

export function contactName(id) {
  const c = store.state && store.state.contacts.find((x) => x.id === id);
  return c ? c.name : id ? id.slice(0, 8) + '…' : '';
}

export function pushStats(s) {
  store.stats = s;
  store.statsHistory.push({ t: Date.now(), bitrate: s.bitrateBps, rtt: s.rttMs });
  const cutoff = Date.now() - 60_000;
  while (store.statsHistory.length && store.statsHistory[0].t < cutoff) store.statsHistory.shift();
  changed();
}
