// File drag & drop onto the window or onto a contact. The target contact is the
// contact element under the pointer, else the selected contact.
import { h, setText } from './dom.js';
import { t } from './i18n.js';
import { onDragDrop } from './api.js';
import { icon } from './icons.js';
import { store, contactName } from './store.js';
import { sendFiles } from './actions.js';

function contactAt(pos) {
  if (!pos) return null;
  const el = document.elementFromPoint(pos.x, pos.y);
  // A contact in the list, or a member's tile in a group call.
  const item = el && el.closest('[data-testid="contact"], [data-testid="member-tile"]');
  return item ? item.dataset.peerId : null;
}

export function mountDragDrop() {
  const label = h('p', { class: 'drop-label' });
  const el = h('div', { class: 'drop-zone', testid: 'drop-zone', hidden: true, 'aria-hidden': 'true' },
    h('div', { class: 'drop-card' }, icon('upload'), label));
  let hovered = null;

  const mark = (id) => {
    if (hovered === id) return;
    document.querySelectorAll('.drop-target').forEach((x) => x.classList.remove('drop-target'));
    hovered = id;
    if (id) document.querySelectorAll(`[data-peer-id="${CSS.escape(id)}"]`).forEach((x) => x.classList.add('drop-target'));
  };
  const refresh = (pos) => {
    const id = contactAt(pos);
    mark(id);
    const target = id || store.selected;
    setText(label, target ? t('drop.sendTo', { name: contactName(target) }) : t('drop.pickContact'));
    el.classList.toggle('no-target', !target);
  };
  const leave = () => { el.hidden = true; mark(null); };

  onDragDrop({
    enter(pos) {
      if (!store.state || !store.state.me) return;
      el.hidden = false;
      refresh(pos);
    },
    over(pos) { if (!el.hidden) refresh(pos); },
    leave,
    drop(paths, pos) {
      const target = contactAt(pos) || store.selected;
      leave();
      if (!store.state || !store.state.me) return;
      sendFiles(target, paths);
    },
  }).catch((e) => console.error(e));
  return { el };
}
