// Screen sharing: the source picker (list_screen_sources → start_screen_share), the
// "you are sharing …" bar, and the peer's shared screen (fit or 1:1, full window).
import { h, setText } from './dom.js';
import { t } from './i18n.js';
import { icon } from './icons.js';
import { cmd } from './api.js';
import { act, showError } from './toast.js';
import { store, changed, applyCallReply } from './store.js';
import { openDialog } from './modal.js';

let busy = false;     // a start/stop request is in flight
let picker = null;    // { close } while the picker is open

const currentCall = () => store.state && store.state.call;

function applyCall(c) {
  const cur = currentCall();
  if (c && cur && cur.callId === c.callId) applyCallReply(c);
  changed();
}

async function run(promise) {
  busy = true;
  changed();
  const c = await act(promise);
  busy = false;
  applyCall(c);
  return c !== undefined;
}

export function screenShareBusy() { return busy; }

/** Starts sharing a source (a ScreenSource id); resolves true on success. */
export function startScreenShare(sourceId) { return busy ? Promise.resolve(false) : run(cmd.startScreenShare(sourceId)); }

export function stopScreenShare() { return busy ? Promise.resolve(false) : run(cmd.stopScreenShare()); }

/** The call control: opens the picker, or stops sharing while we share. */
export function toggleScreenShare() {
  const c = currentCall();
  if (!c || c.state !== 'connected' || busy) return;
  if (c.sharingScreen) stopScreenShare(); else openScreenPicker();
}

export function closeScreenPicker() { if (picker) picker.close(); }

function sourceCard(src, choose) {
  // Wayland: one "portal" entry; the desktop's own dialog picks what to share.
  if (src.id === 'portal') src = { ...src, name: t('screen.portal.name') };
  const kind = t(src.kind === 'window' ? 'screen.kind.window' : 'screen.kind.monitor');
  const size = src.width && src.height ? t('screen.size', { w: src.width, h: src.height }) : t('screen.portal.meta');
  const thumb = typeof src.thumbnail === 'string' && src.thumbnail.startsWith('data:image/')
    ? h('img', { src: src.thumbnail, alt: '', decoding: 'async', draggable: 'false' })
    : h('span', { class: 'screen-thumb-none' }, icon(src.kind === 'window' ? 'window' : 'screen'), h('span', {}, t('screen.noPreview')));
  const btn = h('button', { type: 'button', class: 'screen-card', testid: 'screen-source', dataset: { sourceId: src.id, kind: src.kind },
    'aria-label': t('screen.sourceLabel', { name: src.name || kind, kind, size }), title: src.name || kind, onclick: () => choose(src, btn) },
  h('span', { class: 'screen-thumb' }, thumb),
  h('span', { class: 'screen-card-name' }, src.name || kind),
  h('span', { class: 'screen-card-meta' }, src.id === 'portal' ? size : `${kind} · ${size}`));
  return h('li', {}, btn);
}

function sourceGroup(which, titleKey, list, choose) {
  if (!list.length) return null;
  const id = `screen-group-${which}`;
  return h('section', { class: 'screen-group', testid: id, 'aria-labelledby': id },
    h('h3', { class: 'screen-group-title', id, i18n: titleKey }),
    h('ul', { class: 'screen-grid' }, list.map((s) => sourceCard(s, choose))));
}

/** The picker modal: a grid of screens and windows; choosing one starts sharing. */
export function openScreenPicker() {
  if (picker) return;
  const status = h('p', { class: 'screen-status', testid: 'screen-picker-status', role: 'status' });
  const groups = h('div', { class: 'screen-groups' });
  const body = h('div', { class: 'screen-picker-body' }, h('p', { class: 'screen-lead', i18n: 'screen.pickLead' }), status, groups);
  const refresh = h('button', { type: 'button', class: 'btn', testid: 'screen-picker-refresh', i18n: 'screen.refresh', onclick: () => load() });
  const cancel = h('button', { type: 'button', class: 'btn', testid: 'screen-picker-cancel', i18n: 'common.cancel', onclick: () => close() });
  const { dialog, close } = openDialog({ titleKey: 'screen.pickTitle', body, actions: [refresh, cancel], testid: 'screen-picker',
    className: 'dialog-wide screen-picker', onClose: () => { picker = null; } });
  picker = { close };
  let gen = 0, starting = false, focused = false;

  const setStatus = (text, state) => {
    setText(status, text);
    status.hidden = !text;
    dialog.dataset.state = state;
    dialog.setAttribute('aria-busy', String(state === 'loading' || state === 'starting'));
  };
  const setEnabled = (on) => {
    refresh.disabled = !on;
    for (const b of groups.querySelectorAll('button')) b.disabled = !on;
  };

  async function choose(src, btn) {
    if (starting) return;
    starting = true;
    setEnabled(false);
    setStatus(t('screen.starting', { name: src.name }), 'starting');
    const ok = await startScreenShare(src.id);
    if (!dialog.open) return;
    if (ok) { close(); return; }
    starting = false;
    setEnabled(true);
    setStatus('', 'ready');
    btn.focus();
  }

  async function load() {
    const my = ++gen;
    groups.replaceChildren();
    refresh.disabled = true;
    setStatus(t('screen.loading'), 'loading');
    let list;
    try {
      list = await cmd.listScreenSources();
    } catch (e) {
      if (my !== gen || !dialog.open) return;
      showError(e);
      setStatus(t('screen.loadFailed', { why: e.message || e.code }), 'error');
      refresh.disabled = false;
      return;
    }
    if (my !== gen || !dialog.open) return;
    refresh.disabled = false;
    list = Array.isArray(list) ? list : [];
    const monitors = list.filter((s) => s.kind !== 'window');
    const windows = list.filter((s) => s.kind === 'window');
    groups.replaceChildren(...[sourceGroup('monitors', 'screen.groupMonitors', monitors, choose),
      sourceGroup('windows', 'screen.groupWindows', windows, choose)].filter(Boolean));
    if (!list.length) { setStatus(t('screen.empty'), 'empty'); return; }
    setStatus('', 'ready');
    const first = groups.querySelector('.screen-card');
    if (!focused && first) { focused = true; first.focus(); }
  }

  cancel.focus();
  load();
}

/**
 * The sharing bar (`indicator`, placed above the stage) and the peer's shared
 * screen (`el`, a stage layer holding screenView). update(s) → { remote, full }.
 */
export function mountScreenShare({ screenView }) {
  const sharingText = h('span', { class: 'sharing-text', testid: 'sharing-text' });
  const stopBtn = h('button', { type: 'button', class: 'btn btn-sm sharing-stop', testid: 'stop-sharing', onclick: () => stopScreenShare() },
    icon('screenStop'), h('span', { i18n: 'screen.stop' }));
  const indicator = h('div', { class: 'sharing-indicator', testid: 'sharing-indicator', role: 'status', hidden: true },
    h('span', { class: 'sharing-dot', 'aria-hidden': 'true' }), sharingText, stopBtn);

  const owner = h('span', { class: 'screen-owner', testid: 'screen-owner' });
  const zoomBtn = h('button', { type: 'button', class: 'screen-tool', testid: 'screen-zoom', i18nAria: 'screen.zoomActual', 'aria-pressed': 'false',
    onclick: () => { store.screenZoom = !store.screenZoom; changed(); } });
  const fullBtn = h('button', { type: 'button', class: 'screen-tool', testid: 'screen-fullwindow', i18nAria: 'screen.fullWindow', 'aria-pressed': 'false',
    onclick: () => setFull(!store.screenFull) });
  const tools = h('div', { class: 'screen-tools', role: 'toolbar', i18nAria: 'screen.tools' }, owner, zoomBtn, fullBtn);
  const hint = h('div', { class: 'screen-hint', role: 'status', i18n: 'screen.fullHint', hidden: true });
  const waiting = h('p', { class: 'screen-wait' });
  screenView.placeholder.append(waiting);
  const scroller = h('div', { class: 'screen-scroll', testid: 'screen-scroll' }, screenView.el);
  const el = h('div', { class: 'screen-layer', testid: 'shared-screen', hidden: true }, scroller, tools, hint);

  let hintTimer = 0, wasRemote = false;
  function setFull(on) {
    store.screenFull = on;
    clearTimeout(hintTimer);
    hint.hidden = !on;
    if (on) hintTimer = setTimeout(() => { hint.hidden = true; }, 2500);
    changed();
  }

  // 1:1: the canvas gets the frame's pixels and a CSS box of frame / devicePixelRatio.
  function applyZoom() {
    const size = screenView.frameSize;
    const on = store.screenZoom && !el.hidden && !!size;
    if (size) {
      const dpr = window.devicePixelRatio || 1;
      screenView.el.style.setProperty('--frame-w', `${size.width / dpr}px`);
      screenView.el.style.setProperty('--frame-h', `${size.height / dpr}px`);
    }
    scroller.classList.toggle('actual', on);
    if (on) { scroller.tabIndex = 0; scroller.setAttribute('role', 'region'); scroller.setAttribute('aria-label', t('screen.remoteScreen')); }
    else { scroller.removeAttribute('tabindex'); scroller.removeAttribute('role'); scroller.removeAttribute('aria-label'); }
    screenView.setNatural(on);
  }
  screenView.onsize = () => applyZoom();
  window.addEventListener('resize', () => { if (store.screenZoom) applyZoom(); });

  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || !store.screenFull || e.defaultPrevented) return;
    if (document.querySelector('dialog[open], .menu')) return;
    e.preventDefault();
    setFull(false);
  });

  const setTool = (b, on, icons, titles) => {
    b.setAttribute('aria-pressed', String(on));
    b.title = t(titles[on ? 1 : 0]);
    const want = icons[on ? 1 : 0];
    if (b.dataset.icon !== want) { b.replaceChildren(icon(want)); b.dataset.icon = want; }
  };

  return {
    el,
    indicator,
    update(s) {
      const c = s.state && s.state.call;
      const connected = !!c && c.state === 'connected';
      if (!connected) closeScreenPicker();
      const sharing = connected && !!c.sharingScreen;
      if (sharing) setText(sharingText, c.sharingName ? t('screen.sharing', { name: c.sharingName }) : t('screen.sharingUnnamed'));
      indicator.hidden = !sharing;
      stopBtn.disabled = busy;
      const remote = connected && !!c.remoteSharing;
      if (!remote) { store.screenFull = false; store.screenZoom = false; hint.hidden = true; }
      if (wasRemote && !remote) screenView.clear(); // no stale frame when the next share starts
      wasRemote = remote;
      el.hidden = !remote;
      if (remote) {
        setText(owner, t('screen.owner', { name: c.peerName }));
        setText(waiting, t('screen.waiting', { name: c.peerName }));
        screenView.setPlaceholder(c.peerName, c.peer);
      }
      setTool(zoomBtn, s.screenZoom, ['zoomIn', 'zoomOut'], ['screen.zoomActual', 'screen.zoomFit']);
      setTool(fullBtn, s.screenFull, ['maximize', 'minimize'], ['screen.fullWindow', 'screen.exitFullWindow']);
      applyZoom();
      return { remote, full: remote && s.screenFull };
    },
  };
}
