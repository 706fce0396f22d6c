// Sidebar "Nearby" section: Parleys found on this network (State.nearby), live.
// A stranger is marked as such and can be added as a contact in one click.
import { h, setText, syncList, initial, hue } from './dom.js';
import { t } from './i18n.js';
import { cmd } from './api.js';
import { act } from './toast.js';
import { store, changed } from './store.js';
import { setContacts } from './contacts.js';
import { selectContact, startCall } from './actions.js';

/** The name it announces, or the start of its id when it announces none. */
export function nearbyName(p) {
  return p.name || `${p.id.slice(0, 8)}…`;
}

const current = (id) => ((store.state && store.state.nearby) || []).find((p) => p.id === id);

/**
 * The name a stranger found nearby is added under: the one it announces, with
 * the start of its id when a contact already has that name (anyone can announce
 * any name; two "Mom"s must not look alike). Renaming stays possible.
 */
export function nameToAdd(p, contacts) {
  const name = (p.name || '').trim();
  if (!name) return '';
  const taken = (contacts || []).some((c) => c.id !== p.id && (c.name || '').trim().toLowerCase() === name.toLowerCase());
  return taken ? `${name} (${p.id.slice(0, 6)})` : name;
}

/** Adds a stranger found nearby as a contact, named as it announces itself. */
async function addNearby(id, button) {
  const p = current(id);
  if (!p || p.contact) return;
  button.disabled = true;
  const list = await act(cmd.addContact(p.id, nameToAdd(p, store.state.contacts)));
  button.disabled = false;
  if (!list) return;
  setContacts(list);
  // The next state says so too; the Add button goes at once.
  const cur = current(id);
  if (cur) { cur.contact = true; changed(); }
  selectContact(id);
}

/** Whether the contact `id` can be called: online (here or through a server). */
function callable(id) {
  const c = ((store.state && store.state.contacts) || []).find((x) => x.id === id);
  const call = store.state && store.state.call;
  return !!(c && c.online) && !(call && call.state !== 'ended');
}

// A contact's item selects the contact and has Call (one click); a stranger's
// has the marker and Add. The key holds `contact`, so an item is rebuilt when
// that changes.
function createItem(p) {
  const avatar = h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' });
  const name = h('span', { class: 'contact-name' });
  const text = h('span', { class: 'contact-text' }, name,
    p.contact
      ? h('span', { class: 'contact-status', i18n: 'nearby.contact' })
      : h('span', { class: 'contact-status nearby-stranger', testid: 'nearby-stranger', i18n: 'nearby.stranger' }));
  const main = p.contact
    ? h('button', { type: 'button', class: 'contact-main', onclick: () => selectContact(item.dataset.peer) }, avatar, text)
    : h('div', { class: 'contact-main' }, avatar, text);
  const add = p.contact ? null : h('button', { type: 'button', class: 'btn btn-sm nearby-add', testid: 'nearby-add',
    onclick: () => addNearby(item.dataset.peer, add) }, h('span', { i18n: 'nearby.add' }));
  const call = p.contact ? h('button', { type: 'button', class: 'btn btn-sm btn-primary nearby-call', testid: 'nearby-call',
    onclick: () => startCall(item.dataset.peer) }, h('span', { i18n: 'nearby.call' })) : null;
  const item = h('li', { class: 'contact nearby-item', testid: 'nearby-item' }, main, add || call);
  Object.assign(item, { parts: { avatar, name, add, call } });
  return item;
}

function updateItem(item, p) {
  const { avatar, name, add, call } = item.parts;
  const label = nearbyName(p);
  item.dataset.peer = p.id;
  item.dataset.contact = String(!!p.contact);
  setText(name, label);
  setText(avatar, initial(label));
  avatar.style.setProperty('--hue', hue(p.id));
  if (add) add.setAttribute('aria-label', t('nearby.addLabel', { name: label }));
  if (call) {
    call.setAttribute('aria-label', t('nearby.callLabel', { name: label }));
    call.disabled = !callable(p.id);
  }
}

export function mountNearby() {
  const list = h('ul', { class: 'contact-list nearby-list', testid: 'nearby-list', i18nAria: 'nearby.title' });
  const el = h('section', { class: 'nearby', testid: 'nearby-section', i18nAria: 'nearby.title', hidden: true },
    h('div', { class: 'section-head' }, h('h2', { class: 'section-title', i18n: 'nearby.title' })), list);
  return {
    el,
    update(s) {
      const peers = s.state.nearby || [];
      syncList(list, peers, (p) => `${p.id}:${p.contact ? 'contact' : 'stranger'}`, createItem, updateItem);
      el.hidden = peers.length === 0;
    },
  };
}
