// Sidebar: who I am (name, id, copy id / invite link), connection status,
// the contact list (contacts.js), Parleys nearby (nearby.js) and the settings
// button.
import { h, setText, initial, hue } from './dom.js';
import { t } from './i18n.js';
import { cmd } from './api.js';
import { act, toast } from './toast.js';
import { icon } from './icons.js';
import { copyText } from './clipboard.js';
import { store } from './store.js';
import { mountContacts } from './contacts.js';
import { mountNearby } from './nearby.js';
import { openSettings } from './settings.js';

export function mountSidebar() {
  const avatar = h('div', { class: 'avatar', 'aria-hidden': 'true' });
  const name = h('div', { class: 'me-name', testid: 'my-name' });
  const idText = h('code', { class: 'me-id', testid: 'my-id', tabindex: '0', i18nTitle: 'me.idTitle' });
  const copyId = h('button', { type: 'button', class: 'btn btn-sm', testid: 'copy-id', i18nAria: 'me.copyId', i18nTitle: 'me.copyId',
    onclick: async () => {
      const ok = await copyText(store.state.me.id);
      toast(t(ok ? 'me.copied' : 'me.copyFailed'), { kind: ok ? 'info' : 'error' });
    } }, icon('copy'), h('span', { i18n: 'me.copyIdShort' }));
  const copyLink = h('button', { type: 'button', class: 'btn btn-sm', testid: 'copy-invite', i18nAria: 'me.copyInvite', i18nTitle: 'me.copyInvite',
    onclick: async () => {
      const link = await act(cmd.copyInviteLink());
      if (link === undefined) return;
      const ok = await copyText(link);
      toast(t(ok ? 'me.inviteCopied' : 'me.copyFailed'), { kind: ok ? 'info' : 'error' });
    } }, icon('link'), h('span', { i18n: 'me.copyInviteShort' }));
  const settingsBtn = h('button', { type: 'button', class: 'icon-btn', testid: 'settings-button', i18nAria: 'settings.open', i18nTitle: 'settings.open',
    onclick: () => openSettings() }, icon('settings'));

  const connDot = h('span', { class: 'conn-dot', 'aria-hidden': 'true' });
  const connText = h('span', { class: 'conn-text' });
  const connServer = h('span', { class: 'conn-server' });
  const connError = h('div', { class: 'conn-error', hidden: true });
  const conn = h('div', { class: 'conn', testid: 'connection', role: 'status', 'aria-live': 'polite' },
    h('div', { class: 'conn-row' }, connDot, connText), h('div', { class: 'conn-row conn-sub' }, icon('server'), connServer), connError);

  const contacts = mountContacts();
  const nearby = mountNearby();
  const el = h('aside', { class: 'sidebar', i18nAria: 'sidebar.label' },
    h('div', { class: 'me' },
      h('div', { class: 'me-top' }, avatar, h('div', { class: 'me-text' }, name, idText), settingsBtn),
      h('div', { class: 'me-actions' }, copyId, copyLink)),
    conn,
    contacts.el,
    nearby.el);

  function renderConnection() {
    const c = store.state.connection;
    conn.dataset.state = c.state;
    let text = t(`conn.${c.state}`);
    if (c.state === 'offline' && c.retryInMs != null) {
      const left = Math.max(0, Math.ceil((c.retryInMs - (Date.now() - store.connectionAt)) / 1000));
      text = t('conn.offlineRetry', { s: left });
    }
    setText(connText, text);
    setText(connServer, c.embedded ? t('conn.embedded') : c.url);
    connServer.title = c.url || '';
    connError.hidden = !c.error;
    setText(connError, c.error || '');
  }
  setInterval(() => { if (store.state && store.state.connection.state === 'offline') renderConnection(); }, 1000);

  return {
    el,
    update(s) {
      const me = s.state.me;
      if (!me) return;
      setText(name, me.name);
      setText(idText, me.id);
      setText(avatar, initial(me.name));
      avatar.style.setProperty('--hue', hue(me.id));
      renderConnection();
      contacts.update(s);
      nearby.update(s);
    },
  };
}
