// Contact list with live presence, add (validated id), rename and remove.
import { h, setText, syncList, initial, hue } from './dom.js';
import { t } from './i18n.js';
import { cmd } from './api.js';
import { act, toast } from './toast.js';
import { icon } from './icons.js';
import { store, changed, localizeContact, contactName } from './store.js';
import { popupMenu } from './menu.js';
import { openDialog, confirmDialog, promptDialog } from './modal.js';
import { selectContact } from './actions.js';
import { copyText } from './clipboard.js';
import { verifiedBadge } from './safety.js';

export const ID_RE = /^[A-Za-z0-9_-]{43}$/;

/** Accepts a bare id or a parley://add/<id> invite link; returns the id or null. */
export function parsePeerId(text) {
  const s = (text || '').trim().replace(/^parley:\/\/add\//, '');
  return ID_RE.test(s) ? s : null;
}

/**
 * Applies the contact list a command returned. Presence in it (`online`, `via`)
 * may be older than what `parley://state` already delivered: the command reads
 * it while the backend is between two presence events. So known contacts keep
 * the presence the store has; state events stay the authority on presence.
 */
export function setContacts(list) {
  if (!list || !store.state) return;
  const known = new Map((store.state.contacts || []).map((c) => [c.id, c]));
  store.state.contacts = list.map(localizeContact).map((c) => {
    const k = known.get(c.id);
    return k ? { ...c, online: k.online, via: k.via } : c;
  });
  changed();
}

/** The add-contact dialog; `prefillId` comes from an invite link. */
export function openAddContact(prefillId = '') {
  const idInput = h('input', { class: 'input mono', id: 'add-id', type: 'text', testid: 'add-contact-id', autocomplete: 'off',
    spellcheck: false, i18nPlaceholder: 'contacts.idPlaceholder', 'aria-describedby': 'add-id-error' });
  const nameInput = h('input', { class: 'input', id: 'add-name', type: 'text', maxlength: 64, testid: 'add-contact-name',
    i18nPlaceholder: 'contacts.namePlaceholder', 'aria-describedby': 'add-name-error' });
  const idErr = h('p', { class: 'field-error', id: 'add-id-error', role: 'alert', hidden: true });
  const nameErr = h('p', { class: 'field-error', id: 'add-name-error', role: 'alert', hidden: true });
  const setErr = (input, el, key) => {
    el.hidden = !key; el.textContent = key ? t(key) : '';
    delete el.dataset.kind; delete el.dataset.testid;
    if (key) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  };
  let warnedName = null;
  idInput.addEventListener('input', () => setErr(idInput, idErr, null));
  nameInput.addEventListener('input', () => setErr(nameInput, nameErr, null));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'add-contact-submit', i18n: 'contacts.addSubmit' });
  const cancel = h('button', { type: 'button', class: 'btn', i18n: 'common.cancel', onclick: () => close() });
  const body = h('div', { class: 'fields' },
    h('label', { class: 'field', for: 'add-id' }, h('span', { class: 'field-label', i18n: 'contacts.idLabel' })), idInput, idErr,
    h('label', { class: 'field', for: 'add-name' }, h('span', { class: 'field-label', i18n: 'contacts.nameLabel' })), nameInput, nameErr);
  const { dialog, close } = openDialog({ titleKey: 'contacts.addTitle', body, actions: [cancel, submit], testid: 'add-contact-dialog' });
  dialog.querySelector('form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const raw = idInput.value.trim();
    const id = parsePeerId(raw);
    const name = nameInput.value.trim();
    let bad = false;
    if (!id) { setErr(idInput, idErr, raw ? 'validate.idFormat' : 'validate.idEmpty'); bad = true; }
    else if (store.state.me && id === store.state.me.id) { setErr(idInput, idErr, 'validate.idSelf'); bad = true; }
    else if (store.state.contacts.some((c) => c.id === id)) { setErr(idInput, idErr, 'validate.idDuplicate'); bad = true; }
    if (!name) { setErr(nameInput, nameErr, 'validate.nameEmpty'); if (!bad) nameInput.focus(); bad = true; }
    if (bad) { if (!id) idInput.focus(); return; }
    // A contact is its key: a second "Bob" may be Bob with a new key, or someone
    // posing as Bob. Say so once; Add again goes ahead.
    const same = store.state.contacts.find((c) => !c.echo && c.id !== id && c.name.trim().toLowerCase() === name.toLowerCase());
    if (same && warnedName !== name.toLowerCase()) {
      warnedName = name.toLowerCase();
      nameErr.hidden = false;
      nameErr.dataset.kind = 'warning';
      nameErr.textContent = t('contacts.nameTaken', { name: same.name });
      nameErr.dataset.testid = 'add-contact-name-taken';
      return;
    }
    submit.disabled = true;
    const list = await act(cmd.addContact(id, name));
    submit.disabled = false;
    if (!list) return;
    setContacts(list);
    close();
    selectContact(id);
  });
  idInput.addEventListener('paste', () => setTimeout(() => {
    const id = parsePeerId(idInput.value);
    if (id && idInput.value !== id) idInput.value = id;
  }, 0));
  if (typeof prefillId === 'string' && prefillId) {
    idInput.value = prefillId;
    nameInput.focus();
  } else idInput.focus();
}

/** An invite link was opened: the contact if we have them, else the add dialog
 *  with their id filled in (once we have a profile). */
export function openInvite(id) {
  if (!id) return;
  // First start: the link waits until the profile exists (app.js opens it then).
  if (!store.state || !store.state.me) { store.pendingInvite = id; return; }
  if (id === store.state.me.id) { toast(t('validate.idSelf'), { kind: 'info' }); return; }
  if (store.state.contacts.some((c) => c.id === id)) {
    selectContact(id);
    toast(t('contacts.alreadyAdded', { name: contactName(id) }), { kind: 'info' });
    return;
  }
  openAddContact(id);
}

async function rename(c) {
  const name = await promptDialog({ titleKey: 'contacts.renameTitle', labelKey: 'contacts.nameLabel', value: c.name, testid: 'rename-dialog' });
  if (name && name !== c.name) setContacts(await act(cmd.renameContact(c.id, name)));
}

async function remove(c) {
  const ok = await confirmDialog({ titleKey: 'contacts.removeTitle', message: t('contacts.removeConfirm', { name: c.name }),
    confirmKey: 'contacts.remove', danger: true });
  if (ok) setContacts(await act(cmd.removeContact(c.id)));
}

function createItem(c) {
  const avatar = h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' });
  const dot = h('span', { class: 'presence', testid: 'presence' });
  const name = h('span', { class: 'contact-name' });
  const verified = verifiedBadge('contact-verified');
  const status = h('span', { class: 'contact-status' });
  const badge = h('span', { class: 'badge', hidden: true });
  const main = h('button', { type: 'button', class: 'contact-main', testid: 'contact-select',
    onclick: () => selectContact(item.dataset.peerId) },
  h('span', { class: 'avatar-wrap' }, avatar, dot), h('span', { class: 'contact-text' }, h('span', { class: 'contact-name-row' }, name, verified), status), badge);
  const more = h('button', { type: 'button', class: 'icon-btn contact-more', testid: 'contact-menu', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
    onclick: () => {
      const cur = store.state.contacts.find((x) => x.id === item.dataset.peerId);
      if (!cur) return;
      // The built-in echo contact can be called, not renamed or removed.
      popupMenu(more, [
        !cur.echo && { labelKey: 'contacts.rename', testid: 'contact-rename', onSelect: () => rename(cur) },
        { labelKey: 'contacts.copyId', testid: 'contact-copy-id', onSelect: () => copyText(cur.id) },
        !cur.echo && { labelKey: 'contacts.remove', testid: 'contact-remove', danger: true, onSelect: () => remove(cur) },
      ].filter(Boolean), { labelKey: 'contacts.menu', testid: 'contact-menu-popup' });
    } }, icon('more'));
  const item = h('li', { class: 'contact', testid: 'contact' }, main, more);
  Object.assign(item, { parts: { avatar, dot, name, verified, status, badge, main, more } });
  return item;
}

function updateItem(item, c) {
  const p = item.parts;
  item.dataset.peerId = c.id;
  item.dataset.online = String(c.online);
  item.dataset.echo = String(!!c.echo);
  p.dot.dataset.online = String(c.online);
  setText(p.name, c.name);
  p.verified.hidden = !c.verified;
  item.dataset.verified = String(!!c.verified);
  setText(p.avatar, initial(c.name));
  p.avatar.style.setProperty('--hue', hue(c.id));
  const inCall = store.state.call && store.state.call.peer === c.id && store.state.call.state !== 'ended';
  const status = inCall ? 'presence.inCall' : !c.online ? 'presence.offline'
    : c.via === 'nearby' ? 'presence.nearby' : 'presence.online';
  setText(p.status, t(status));
  item.dataset.via = c.online && c.via ? c.via : '';
  const unread = store.unread.get(c.id) || 0;
  p.badge.hidden = !unread;
  setText(p.badge, unread > 99 ? '99+' : unread);
  const selected = store.selected === c.id;
  item.classList.toggle('selected', selected);
  if (selected) p.main.setAttribute('aria-current', 'true'); else p.main.removeAttribute('aria-current');
  p.main.setAttribute('aria-label', t('contacts.itemLabel', { name: c.name,
    status: t(status), unread: unread ? t('contacts.unread', { n: unread }) : '' }).trim());
  p.more.setAttribute('aria-label', t('contacts.menuFor', { name: c.name }));
}

export function mountContacts() {
  const list = h('ul', { class: 'contact-list', testid: 'contact-list', i18nAria: 'contacts.title' });
  const empty = h('p', { class: 'contacts-empty', i18n: 'contacts.empty' });
  const add = h('button', { type: 'button', class: 'icon-btn', testid: 'add-contact', i18nAria: 'contacts.add', i18nTitle: 'contacts.add',
    onclick: () => openAddContact() }, icon('plus'));
  const el = h('nav', { class: 'contacts', i18nAria: 'contacts.title' },
    h('div', { class: 'section-head' }, h('h2', { class: 'section-title', i18n: 'contacts.title' }), add), list, empty);
  return {
    el,
    update(s) {
      const contacts = [...s.state.contacts].sort((a, b) => (b.online - a.online) || a.name.localeCompare(b.name));
      syncList(list, contacts, (c) => c.id, createItem, updateItem);
      empty.hidden = contacts.length > 0;
    },
  };
}
