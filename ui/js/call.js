// The call screen: ringing-out / connecting / connected / ended. Remote video large,
// local preview in the corner, controls, device menu, stats overlay, side chat,
// keyboard shortcuts (M, V, S, C, Ctrl/⌘+E, ?). While the peer shares its screen,
// that is the large view and their camera a tile next to ours (screenshare.js).
import { h, setText, initial, hue } from './dom.js';
import { t } from './i18n.js';
import { icon } from './icons.js';
import { cmd } from './api.js';
import { act } from './toast.js';
import { clock } from './format.js';
import { store, changed } from './store.js';
import { popupMenu } from './menu.js';
import { StatsOverlay } from './stats.js';
import { toggleMute, hangup } from './actions.js';
import { mountScreenShare, toggleScreenShare, screenShareBusy } from './screenshare.js';
import { TransferList } from './transfers.js';
import { openSafetyNumber, verifiedBadge } from './safety.js';
import { mountGrid } from './grid.js';

const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
export const SHORTCUTS = [
  { keys: 'M', aria: 'M', labelKey: 'call.mute' },
  { keys: 'V', aria: 'V', labelKey: 'call.camera' },
  { keys: 'S', aria: 'S', labelKey: 'call.stats' },
  { keys: 'C', aria: 'C', labelKey: 'call.chat' },
  { keys: isMac ? '⌘E' : 'Ctrl+E', aria: isMac ? 'Meta+E' : 'Control+E', labelKey: 'call.hangup' },
  { keys: '?', aria: 'Shift+?', labelKey: 'call.shortcuts' },
];

function ctl(testid, iconName, labelKey, onclick, extra = {}) {
  const b = h('button', { type: 'button', class: 'ctl', testid, i18nAria: labelKey, onclick, ...extra }, icon(iconName));
  return b;
}

/** "Add people": the online contacts not in the call; picking one invites it. */
function openAddPeople(anchor) {
  const c = store.state && store.state.call;
  if (!c) return;
  const inCall = new Set((c.members || []).map((m) => m.id));
  const candidates = store.state.contacts.filter((x) => x.online && !x.echo && !inCall.has(x.id));
  const items = candidates.length
    ? candidates.map((x) => ({ label: x.name, testid: 'add-person', onSelect: async () => {
      // The new member shows with the state event that follows (the reply may
      // be older than events already applied).
      await act(cmd.inviteToCall(x.id));
    } }))
    : [{ labelKey: 'call.addNone', disabled: true }];
  popupMenu(anchor, [{ heading: t('call.addPeople') }, ...items], { labelKey: 'call.addPeople', testid: 'add-people-menu' });
}

/** The call's title: the peer's name, or the members' names in a group call. */
function callTitle(c) {
  const members = c.members || [];
  if (members.length < 2) return c.peerName;
  return members.map((m) => (c.memberNames && c.memberNames[m.id]) || m.id.slice(0, 8)).join(', ');
}

async function openDevices(anchor) {
  const d = await act(cmd.listDevices());
  if (!d) return;
  store.devices = d;
  const st = store.state.settings;
  const group = (kind, list, headingKey) => [{ heading: t(headingKey) },
    ...(list.length ? list.map((name) => ({ label: name, checked: st[kind] === name, testid: `device-${kind}`,
      onSelect: async () => { if ((await act(cmd.switchDevice(kind, name))) !== undefined) { st[kind] = name; changed(); } } }))
      : [{ labelKey: 'devices.none', disabled: true }])];
  popupMenu(anchor, [...group('camera', d.cameras, 'settings.camera'), ...group('microphone', d.microphones, 'settings.microphone'),
    ...group('speaker', d.speakers, 'settings.speaker')], { labelKey: 'call.devices', testid: 'device-menu' });
}

/** True when the call screen covers the window (it then owns the chat panel). */
export function callScreenVisible(s) {
  const c = s.state && s.state.call;
  return !!c && c.state !== 'ringing-in' && c.callId !== s.dismissedCall;
}

export function mountCall({ remoteView, localView, screenView, chat, forceCpu = false }) {
  const name = h('h2', { class: 'call-name', testid: 'call-peer' });
  const status = h('span', { class: 'call-status', testid: 'call-status', role: 'status' });
  const helpList = h('ul', { class: 'shortcut-list' });
  const help = h('div', { class: 'shortcut-pop', id: 'shortcut-help', role: 'tooltip', hidden: true }, helpList);
  const helpBtn = h('button', { type: 'button', class: 'icon-btn on-dark', testid: 'shortcuts-button', i18nAria: 'call.shortcuts', i18nTitle: 'call.shortcuts',
    'aria-describedby': 'shortcut-help', 'aria-expanded': 'false', 'aria-keyshortcuts': 'Shift+?', onclick: () => toggleHelp() }, icon('help'));
  const peerVerified = verifiedBadge('call-verified');
  const safetyBtn = h('button', { type: 'button', class: 'icon-btn on-dark', testid: 'call-safety', i18nAria: 'safety.button', i18nTitle: 'safety.button',
    onclick: () => {
      const c = store.state && store.state.call;
      if (c) openSafetyNumber({ peer: c.peer, name: c.peerName, number: c.safetyNumber });
    } }, icon('check'));
  // Media through the group call's SFU is not end-to-end encrypted: say so.
  const viaSfu = h('span', { class: 'sfu-badge', testid: 'call-via-sfu', role: 'note', i18nTitle: 'call.viaSfuHint', hidden: true },
    h('span', { i18n: 'call.viaSfu' }));
  const top = h('header', { class: 'call-top' }, h('div', { class: 'call-titles' }, h('div', { class: 'call-name-row' }, name, peerVerified, viaSfu), status),
    h('div', { class: 'help-anchor' }, safetyBtn, helpBtn, help));

  const ringAvatar = h('div', { class: 'avatar avatar-xl ringing', 'aria-hidden': 'true' });
  const ringText = h('p', { class: 'ring-text' });
  const cancel = h('button', { type: 'button', class: 'btn btn-danger btn-lg', testid: 'cancel-call', onclick: () => hangup() },
    icon('phone', 'hangup-rot'), h('span', { i18n: 'call.cancel' }));
  const ringing = h('div', { class: 'ring-panel' }, ringAvatar, ringText, cancel);

  const stats = new StatsOverlay();
  const pip = h('div', { class: 'pip' }, localView.el);
  const shared = mountScreenShare({ screenView });
  const peerTileName = h('span', { class: 'tile-name', 'aria-hidden': 'true' });
  const peerTile = h('div', { class: 'pip pip-peer', testid: 'peer-tile', hidden: true }, peerTileName);
  // The media path is down and an ICE restart is under way: a banner over the
  // frozen picture (the status line says it too).
  const reconnecting = h('div', { class: 'reconnect-banner', testid: 'call-reconnecting', role: 'status', hidden: true },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', { i18n: 'call.reconnecting' }));
  const remoteMicText = h('span');
  const remoteMic = h('div', { class: 'remote-badge', testid: 'remote-muted-audio', role: 'status', hidden: true }, icon('micOff'), remoteMicText);
  const grid = mountGrid({ localView, forceCpu });
  const stage = h('div', { class: 'stage' }, remoteView.el, shared.el, grid.el, pip, peerTile, remoteMic, reconnecting, stats.el, ringing);

  const mute = ctl('mute', 'mic', 'call.mute', () => toggleMute('audio'), { 'aria-keyshortcuts': 'M', 'aria-pressed': 'false' });
  const camera = ctl('camera', 'video', 'call.camera', () => toggleMute('video'), { 'aria-keyshortcuts': 'V', 'aria-pressed': 'false' });
  const screen = ctl('screen-share', 'screen', 'call.screen', () => toggleScreenShare(), { hidden: true, 'aria-pressed': 'false' });
  const addPeople = ctl('add-people', 'plus', 'call.addPeople', () => openAddPeople(addPeople), { 'aria-haspopup': 'menu', hidden: true });
  const devices = ctl('devices', 'devices', 'call.devices', () => openDevices(devices), { 'aria-haspopup': 'menu', 'aria-expanded': 'false' });
  const statsBtn = ctl('stats-toggle', 'stats', 'call.stats', () => toggleStats(), { 'aria-keyshortcuts': 'S', 'aria-pressed': 'false' });
  const chatBtn = ctl('chat-toggle', 'chat', 'call.chat', () => toggleChat(), { 'aria-keyshortcuts': 'C', 'aria-pressed': 'true' });
  const hang = h('button', { type: 'button', class: 'ctl ctl-hangup', testid: 'hangup', i18nAria: 'call.hangup',
    'aria-keyshortcuts': isMac ? 'Meta+E' : 'Control+E', onclick: () => hangup() }, icon('phone', 'hangup-rot'));
  const controls = h('div', { class: 'call-controls', role: 'toolbar', i18nAria: 'call.controls' }, mute, camera, screen, addPeople, devices, statsBtn, chatBtn, hang);

  // Files offered, moving or done in this call sit above the chat, so an offer is
  // seen (and answered) without leaving the call.
  const transfers = new TransferList();
  const side = h('aside', { class: 'call-side', testid: 'call-chat' }, transfers.el);
  const el = h('section', { class: 'call-view', testid: 'call-view', hidden: true, 'aria-labelledby': 'call-name' },
    h('div', { class: 'call-main' }, top, shared.indicator, stage, controls), side);
  name.id = 'call-name';

  function toggleStats() { store.showStats = !store.showStats; changed(); }
  function toggleChat() { store.chatOpenInCall = !store.chatOpenInCall; changed(); }
  function toggleHelp(force) {
    const open = force ?? help.hidden;
    help.hidden = !open;
    helpBtn.setAttribute('aria-expanded', String(open));
  }
  function renderHelp() {
    helpList.replaceChildren(...SHORTCUTS.map((s) => h('li', {}, h('kbd', {}, s.keys), h('span', {}, t(s.labelKey)))));
  }
  function renderTitles() {
    for (const b of [mute, camera, statsBtn, chatBtn, hang]) {
      const s = SHORTCUTS.find((x) => x.aria === b.getAttribute('aria-keyshortcuts'));
      if (s) b.title = `${b.getAttribute('aria-label')} (${s.keys})`;
    }
  }

  document.addEventListener('keydown', (e) => {
    if (el.hidden) return;
    const c = store.state && store.state.call;
    if (!c) return;
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'e') { e.preventDefault(); hangup(); return; }
    if (e.key === 'Escape' && !help.hidden) { toggleHelp(false); return; }
    const tgt = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || document.querySelector('dialog[open], .menu')) return;
    if (tgt && (tgt.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(tgt.tagName))) return;
    const k = e.key.toLowerCase();
    if (k === 'm') toggleMute('audio');
    else if (k === 'v') toggleMute('video');
    else if (k === 's') toggleStats();
    else if (k === 'c') toggleChat();
    else if (e.key === '?') toggleHelp();
    else return;
    e.preventDefault();
  });

  let timer = 0;
  let groupCallId = null;
  const tick = () => {
    const c = store.state && store.state.call;
    if (c && c.state === 'connected' && c.reconnecting) setText(status, t('call.reconnecting'));
    else if (c && c.state === 'connected' && c.startedAtMs) setText(status, clock((Date.now() - c.startedAtMs) / 1000));
    if (!stats.el.hidden) stats.update(store, remoteView.fps());
  };
  let lastLang = null;

  return {
    el,
    grid,
    update(s) {
      const c = s.state && s.state.call;
      const { remote: screenOn, full } = shared.update(s);
      const visible = callScreenVisible(s);
      el.hidden = !visible;
      document.body.classList.toggle('in-call', visible);
      if (!visible) { clearInterval(timer); timer = 0; toggleHelp(false); return; }
      if (!timer) timer = setInterval(tick, 1000);
      if (lastLang !== document.documentElement.lang) { renderHelp(); lastLang = document.documentElement.lang; }
      el.dataset.state = c.state;
      // Once a group call, always the grid (a member left on its own keeps its tile:
      // the one-to-one view may be showing someone who left).
      if ((c.members || []).length > 1) groupCallId = c.callId;
      const group = groupCallId === c.callId;
      setText(name, callTitle(c));
      el.dataset.group = String(group);
      const contact = s.state.contacts.find((x) => x.id === c.peer);
      peerVerified.hidden = !(contact ? contact.verified : c.peerVerified);
      safetyBtn.hidden = !c.safetyNumber || !!(contact && contact.echo);
      viaSfu.hidden = !c.viaSfu;
      const connected = c.state === 'connected';
      const down = connected && !!c.reconnecting;
      el.dataset.reconnecting = String(down);
      reconnecting.hidden = !down;
      status.classList.toggle('warn', down);
      ringing.hidden = connected;
      const gridOn = connected && group && !screenOn;
      grid.update(s, c, gridOn);
      pip.hidden = !connected || gridOn;
      remoteView.el.hidden = !connected || gridOn;
      addPeople.hidden = !connected;
      addPeople.disabled = (c.members || []).length >= 15;
      // The peer's screen takes the stage; their camera moves into a tile (and back).
      const home = screenOn ? peerTile : stage;
      if (remoteView.el.parentNode !== home) home.prepend(remoteView.el);
      peerTile.hidden = !(connected && screenOn);
      setText(peerTileName, c.peerName);
      stage.classList.toggle('screen-on', screenOn);
      el.classList.toggle('screen-full', full);
      setText(ringAvatar, initial(c.peerName));
      ringAvatar.style.setProperty('--hue', hue(c.peer));
      ringAvatar.classList.toggle('ringing', c.state === 'ringing-out');
      cancel.hidden = c.state === 'ended';
      const msg = {
        'ringing-out': t('call.ringingOut', { name: c.peerName }),
        connecting: t('call.connecting'),
        ended: c.endReason ? t('call.endedWhy', { why: c.endReason }) : t('call.ended'),
      }[c.state];
      setText(ringText, msg || '');
      if (connected) tick(); else setText(status, msg || '');
      remoteView.setPlaceholder(c.peerName, c.peer);
      // What the peer turned off, as they told us on the control channel.
      const rm = c.remoteMuted || {};
      remoteView.setOff(connected && !!rm.video, t('call.remoteCameraOff', { name: c.peerName }));
      remoteView.el.dataset.remoteCameraOff = String(connected && !!rm.video);
      remoteMic.hidden = !(connected && rm.audio) || group;
      setText(remoteMicText, t('call.remoteMuted', { name: c.peerName }));
      if (s.state.me) localView.setPlaceholder(s.state.me.name, s.state.me.id);
      const setPressed = (b, on, offKey, onKey, onIcon, offIcon) => {
        b.setAttribute('aria-pressed', String(on));
        b.classList.toggle('active', on);
        b.setAttribute('aria-label', t(on ? onKey : offKey));
        const want = on ? onIcon : offIcon;
        if (b.dataset.icon !== want) { b.replaceChildren(icon(want)); b.dataset.icon = want; }
      };
      setPressed(mute, c.muted.audio, 'call.mute', 'call.unmute', 'micOff', 'mic');
      setPressed(camera, c.muted.video, 'call.camera', 'call.cameraOn', 'videoOff', 'video');
      setPressed(screen, connected && !!c.sharingScreen, 'call.screen', 'call.screenStop', 'screenStop', 'screen');
      screen.hidden = !connected;
      screen.disabled = !connected || screenShareBusy();
      screen.title = screen.getAttribute('aria-label');
      mute.dataset.muted = String(c.muted.audio);
      camera.dataset.muted = String(c.muted.video);
      statsBtn.setAttribute('aria-pressed', String(s.showStats));
      statsBtn.classList.toggle('active', s.showStats);
      chatBtn.setAttribute('aria-pressed', String(s.chatOpenInCall));
      chatBtn.classList.toggle('active', s.chatOpenInCall);
      for (const b of [mute, camera, devices, statsBtn]) b.disabled = c.state === 'ended';
      hang.disabled = c.state === 'ended';
      renderTitles();
      // Transfers with every member of the call (an offer from any member is
      // answered here, without leaving the call).
      const inCall = new Set([c.peer, ...(c.members || []).map((m) => m.id)]);
      transfers.setPeer([...inCall]);
      transfers.update(s);
      // An offer waiting for an answer opens the side panel even with chat closed.
      const offerWaiting = [...s.transfers.values()].some((x) => inCall.has(x.peer) && x.direction === 'receiving' && x.state === 'offered');
      const sideOpen = s.chatOpenInCall || offerWaiting;
      side.hidden = !sideOpen;
      el.classList.toggle('chat-open', sideOpen);
      if (chat.el.parentNode !== side) side.append(chat.el);
      chat.el.classList.add('chat-compact');
      chat.setPeer(c.peer);
      chat.update(s);
      stats.update(s, remoteView.fps());
      if (c.muted.video) localView.clear();
    },
  };
}
