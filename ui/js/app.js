// Entry point: mounts the screens, wires backend events, attaches the video
// channels, exposes window.parleyTest.
import { h, translate } from './dom.js';
import { t } from './i18n.js';
import { cmd, listen, newChannel, EVENTS, mockHints, isTauri } from './api.js';
import { store, subscribe, changed, addChat, upsertTransfer, pushStats, contactName } from './store.js';
import { mountToasts, toast, showError, act } from './toast.js';
import { applySettingsState, applyAppearance } from './theme.js';
import { VideoView } from './video.js';
import { mountSetup } from './setup.js';
import { mountSidebar } from './sidebar.js';
import { mountPanel } from './panel.js';
import { mountCall, callScreenVisible } from './call.js';
import { ChatPanel } from './chat.js';
import { mountIncoming } from './incoming.js';
import { mountDragDrop } from './dragdrop.js';
import { startRing, stopRing } from './ringtone.js';
import { sendFiles, selectContact, markDelivered } from './actions.js';
import { openInvite } from './contacts.js';

const params = new URLSearchParams(location.search);

function installErrorHandlers() {
  window.addEventListener('error', (e) => toast(e.message || String(e.error), { kind: 'error', title: t('error.internal') }));
  window.addEventListener('unhandledrejection', (e) => showError(e.reason && e.reason.code ? e.reason : { code: 'internal', message: String(e.reason && e.reason.message || e.reason) }));
}

function mountApp(root) {
  const forceCpu = params.get('gl') === '0';
  const remoteView = new VideoView({ testid: 'remote-video', labelKey: 'call.remoteVideo', forceCpu });
  const localView = new VideoView({ testid: 'local-video', labelKey: 'call.localVideo', mirror: true, forceCpu });
  const screenView = new VideoView({ testid: 'remote-screen', labelKey: 'screen.remoteScreen', forceCpu });
  const setup = mountSetup();
  const sidebar = mountSidebar();
  const chat = new ChatPanel();
  const panel = mountPanel({ chat });
  const call = mountCall({ remoteView, localView, screenView, chat, forceCpu });
  const incoming = mountIncoming();
  const drop = mountDragDrop();
  const skip = h('a', { class: 'skip-link', href: '#main', i18n: 'app.skip' });
  const mainScreen = h('div', { class: 'main-screen', testid: 'main-screen', hidden: true }, sidebar.el, panel.el);
  const splash = h('div', { class: 'splash', testid: 'splash', role: 'status' }, h('div', { class: 'brand-mark', 'aria-hidden': 'true' }, 'P'),
    h('p', { i18n: 'app.loading' }));
  root.replaceChildren(skip, splash, setup.el, mainScreen, call.el, incoming.el, drop.el);

  let prevCall = null, endTimer = 0;
  subscribe((s) => {
    if (!s.state) return;
    splash.hidden = true;
    setup.update(s);
    mainScreen.hidden = !s.state.me;
    if (s.state.me) { sidebar.update(s); panel.update(s, { ownsChat: !callScreenVisible(s) }); }
    if (s.state.me && s.pendingInvite) {
      const id = s.pendingInvite;
      store.pendingInvite = null;
      setTimeout(() => openInvite(id), 0);
    }
    const c = s.state.call;
    if (c && !prevCall) store.chatOpenInCall = window.innerWidth >= 900; // small windows: video first
    // An ended call stays on screen briefly with its reason, then goes away.
    if (c && c.state === 'ended' && !endTimer && s.dismissedCall !== c.callId) {
      endTimer = setTimeout(() => { endTimer = 0; store.dismissedCall = c.callId; changed(); }, 2500);
    }
    if (prevCall && (!c || c.state === 'ended') && prevCall.state !== 'ended' && prevCall.state !== 'ringing-in') {
      if (s.state.contacts.some((x) => x.id === prevCall.peer)) { store.selected = prevCall.peer; }
    }
    call.update(s);
    incoming.update(s);
    mainScreen.inert = !call.el.hidden || !incoming.el.hidden;
    call.el.inert = !incoming.el.hidden;
    if (s.incoming) startRing('incoming');
    else if (c && c.state === 'ringing-out') startRing('outgoing');
    else stopRing();
    document.title = s.incoming ? t('incoming.windowTitle', { name: s.incoming.peerName }) : 'Parley';
    prevCall = c ? { ...c } : null;
  });
  return { remoteView, localView, screenView, splash, grid: call.grid };
}

/** One view's counters for parleyTest.video(): frames drawn and received (from the
 *  channel), drawn = the canvas's CSS box. */
function videoInfo(view) {
  const r = view.canvas.getBoundingClientRect();
  return { fps: view.fps(), frames: view.framesDrawn, received: view.framesReceived, renderer: view.mode, size: view.frameSize,
    drawn: { width: r.width, height: r.height } };
}

/** The OS notification for an incoming call; the window's own incoming-call screen
 *  and ringtone show regardless, so a missing notification service is only logged. */
function notifyIncoming(c) {
  const name = c.peerName || contactName(c.peer);
  cmd.showNotification(t('incoming.title', { name }), t('incoming.sub'))
    .catch((e) => console.warn('notification:', (e && e.message) || e));
}

async function wireEvents() {
  await listen(EVENTS.state, (s) => applySettingsState(s));
  await listen(EVENTS.incomingCall, (c) => { store.incoming = c; if (store.state) store.state.call = c; changed(); notifyIncoming(c); });
  await listen(EVENTS.chat, (m) => addChat(m));
  await listen(EVENTS.chatDelivered, (id) => markDelivered(typeof id === 'object' && id ? id.id : id));
  await listen(EVENTS.transfer, (x) => {
    const before = store.transfers.get(x.transferId);
    upsertTransfer(x);
    if (!before && x.direction === 'receiving' && x.state === 'offered' && store.selected !== x.peer) {
      toast(t('transfer.offerToast', { name: contactName(x.peer), file: x.name }), { action: { labelKey: 'transfer.view', onClick: () => selectContact(x.peer) } });
    }
    if (x.state === 'failed' && (!before || before.state !== 'failed')) {
      toast(t('transfer.failedWhy', { why: x.error || t('transfer.unknownError') }), { kind: 'error', title: x.name });
    }
  });
  await listen(EVENTS.stats, (st) => pushStats(st));
  await listen(EVENTS.error, (e) => showError(e));
  await listen(EVENTS.invite, () => takeInvite());
}

/** Opens the invite link waiting in the backend, if any (a link can arrive before
 *  the page listens: the app was started by it). */
async function takeInvite() {
  const id = await act(cmd.takeInvite());
  if (id) openInvite(id);
}

async function loadState(splash) {
  for (;;) {
    try {
      return await cmd.getState();
    } catch (e) {
      showError(e);
      const retry = h('button', { type: 'button', class: 'btn btn-primary', i18n: 'common.retry' });
      splash.replaceChildren(h('p', { class: 'field-error' }, t('app.loadFailed', { why: e.message })), retry);
      await new Promise((r) => retry.addEventListener('click', r, { once: true }));
      splash.replaceChildren(h('p', { i18n: 'app.loading' }));
    }
  }
}

async function main() {
  applyAppearance({ language: params.get('lang') || 'auto', theme: params.get('theme') || 'system' });
  mountToasts(document.body);
  installErrorHandlers();
  const root = document.getElementById('app');
  const { remoteView, localView, screenView, splash, grid } = mountApp(root);
  translate(document.body);
  window.parleyTest = {
    sendFiles,
    state: () => JSON.parse(JSON.stringify({ ...store.state, transfers: [...store.transfers.values()],
      ui: { selected: store.selected, incoming: store.incoming, showStats: store.showStats } })),
    video: () => ({ remote: videoInfo(remoteView), local: videoInfo(localView), screen: videoInfo(screenView) }),
    grid: () => grid.info(),
  };
  await wireEvents();
  const [remote, local, screen] = await Promise.all([
    newChannel((m) => remoteView.push(m)), newChannel((m) => localView.push(m)), newChannel((m) => screenView.push(m))]);
  await act(cmd.attachVideo(remote, local, screen));
  const s = await loadState(splash);
  applySettingsState(s);
  await takeInvite();
  if (!isTauri) {
    const hints = await mockHints();
    if (hints.select) selectContact(hints.select);
    if (hints.showStats) { store.showStats = true; changed(); }
    if (hints.open === 'settings') import('./settings.js').then((m) => m.openSettings());
    if (hints.open === 'add') import('./contacts.js').then((m) => m.openAddContact());
  }
  document.documentElement.dataset.ready = 'true';
}

main().catch((e) => { console.error(e); toast(String(e && e.message || e), { kind: 'error' }); });
