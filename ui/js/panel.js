// The selected contact: header (call, send file), chat and that contact's transfers.
// With nobody selected: a welcome / how-to placeholder.
import { h, setText, initial, hue } from './dom.js';
import { t } from './i18n.js';
import { icon } from './icons.js';
import { TransferList } from './transfers.js';
import { store } from './store.js';
import { startCall, pickAndSend } from './actions.js';
import { openSafetyNumber, verifiedBadge } from './safety.js';

/** chat: the one ChatPanel, shared with the call screen (owned by it during a call). */
export function mountPanel({ chat }) {
  const avatar = h('div', { class: 'avatar', 'aria-hidden': 'true' });
  const name = h('h2', { class: 'panel-name', id: 'panel-name', testid: 'panel-name' });
  const presence = h('span', { class: 'panel-presence' });
  const dot = h('span', { class: 'presence' });
  const callHint = h('span', { class: 'offscreen', id: 'call-hint' });
  const call = h('button', { type: 'button', class: 'btn btn-primary', testid: 'call-button', 'aria-describedby': 'call-hint',
    onclick: () => startCall(current) }, icon('phone'), h('span', { i18n: 'panel.call' }));
  const callWrap = h('span', { class: 'tooltip-wrap' }, call, callHint);
  const sendFile = h('button', { type: 'button', class: 'btn', testid: 'send-file', onclick: () => pickAndSend(current) },
    icon('clip'), h('span', { i18n: 'panel.sendFile' }));
  const verified = verifiedBadge('verified-badge');
  const safety = h('button', { type: 'button', class: 'btn', testid: 'safety-button', i18nTitle: 'safety.button',
    onclick: () => {
      const c = store.state.contacts.find((x) => x.id === current);
      if (c) openSafetyNumber({ peer: c.id, name: c.name, number: c.safetyNumber });
    } }, icon('check'), h('span', { i18n: 'safety.button' }));
  const header = h('header', { class: 'panel-head' },
    h('div', { class: 'avatar-wrap' }, avatar, dot),
    h('div', { class: 'panel-titles' }, h('div', { class: 'panel-name-row' }, name, verified), h('div', { class: 'panel-sub' }, presence)),
    h('div', { class: 'panel-actions' }, safety, sendFile, callWrap));
  const transfers = new TransferList();
  const body = h('div', { class: 'panel-body' }, chat.el, transfers.el);
  const contactView = h('div', { class: 'panel-contact', 'aria-labelledby': 'panel-name' }, header, body);
  const welcome = h('div', { class: 'panel-empty', testid: 'welcome' },
    h('div', { class: 'welcome-art', 'aria-hidden': 'true' }, icon('chat')),
    h('h2', { i18n: 'welcome.title' }), h('p', { i18n: 'welcome.body' }), h('p', { class: 'muted', i18n: 'welcome.drop' }));
  const el = h('main', { class: 'panel', id: 'main', testid: 'contact-panel' }, contactView, welcome);
  let current = null;

  return {
    el,
    update(s, { ownsChat = true } = {}) {
      const c = s.selected && s.state.contacts.find((x) => x.id === s.selected);
      contactView.hidden = !c;
      welcome.hidden = !!c;
      if (!c) { current = null; return; }
      current = c.id;
      el.dataset.peerId = c.id;
      setText(name, c.name);
      verified.hidden = !c.verified;
      safety.hidden = !!c.echo;
      setText(avatar, initial(c.name));
      avatar.style.setProperty('--hue', hue(c.id));
      dot.dataset.online = String(c.online);
      setText(presence, t(c.online ? 'presence.online' : 'presence.offline'));
      const busy = !!(s.state.call && s.state.call.state !== 'ended');
      call.disabled = !c.online || busy;
      const hint = !c.online ? t('panel.callOffline', { name: c.name }) : busy ? t('panel.callBusy') : t('panel.callTitle', { name: c.name });
      callWrap.title = hint;
      setText(callHint, hint);
      sendFile.disabled = !c.online;
      sendFile.title = c.online ? t('panel.sendFileTitle') : t('panel.fileOffline', { name: c.name });
      if (ownsChat) {
        if (chat.el.parentNode !== body) body.prepend(chat.el);
        chat.el.classList.remove('chat-compact');
        chat.setPeer(c.id);
        chat.update(s);
      }
      transfers.setPeer(c.id);
      transfers.update(s);
    },
  };
}
