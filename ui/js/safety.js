// Safety numbers: the dialog that shows the number two people compare to know
// that each holds the other's real id (docs/protocol.md §2.1), and marks the
// contact as verified.
import { h } from './dom.js';
import { t } from './i18n.js';
import { icon } from './icons.js';
import { cmd } from './api.js';
import { act } from './toast.js';
import { store, changed, localizeContact } from './store.js';
import { openDialog } from './modal.js';

/** The small "verified" mark shown next to a verified contact's name. */
export function verifiedBadge(testid) {
  return h('span', { class: 'verified-badge', testid, hidden: true, i18nTitle: 'safety.verified', i18nAria: 'safety.verified' }, icon('check'));
}

/**
 * Opens the safety-number dialog for `peer`. `number` and `name` come from the
 * contact (or from the call, for someone who is not a contact).
 */
export function openSafetyNumber({ peer, name, number }) {
  const contact = () => store.state && store.state.contacts.find((c) => c.id === peer && !c.echo);
  const groups = h('div', { class: 'safety-number mono', testid: 'safety-number', 'aria-label': number },
    ...number.split(' ').map((g) => h('span', {}, g)));
  const status = h('p', { class: 'safety-status', testid: 'safety-status', role: 'status' });
  const toggle = h('button', { type: 'button', class: 'btn btn-primary', testid: 'safety-verify' });
  const close = h('button', { type: 'button', class: 'btn', testid: 'safety-close', i18n: 'common.close', onclick: () => dlg.close() });
  const render = () => {
    const c = contact();
    toggle.hidden = !c;
    const verified = !!(c && c.verified);
    status.dataset.verified = String(verified);
    status.textContent = !c ? t('safety.notContact', { name }) : verified ? t('safety.isVerified', { name }) : t('safety.notVerified', { name });
    toggle.textContent = t(verified ? 'safety.unverify' : 'safety.verify');
    toggle.className = verified ? 'btn' : 'btn btn-primary';
  };
  toggle.addEventListener('click', async () => {
    const c = contact();
    if (!c) return;
    toggle.disabled = true;
    const list = await act(cmd.setContactVerified(peer, !c.verified));
    toggle.disabled = false;
    if (list && store.state) {
      store.state.contacts = list.map(localizeContact).map((x) => ({ ...x, online: (store.state.contacts.find((y) => y.id === x.id) || x).online }));
      if (store.state.call && store.state.call.peer === peer) store.state.call = { ...store.state.call, peerVerified: !c.verified };
      changed();
    }
    render();
  });
  const body = h('div', { class: 'fields' },
    h('p', {}, t('safety.explain', { name })), groups, status);
  const dlg = openDialog({ titleKey: 'safety.title', body, actions: [close, toggle], testid: 'safety-dialog' });
  render();
  return dlg;
}
