// Popup menus (role=menu) anchored to a button: arrow keys, Home/End, Escape.
import { h } from './dom.js';

let openMenu = null;

export function closeMenu() {
  if (!openMenu) return;
  const { el, anchor } = openMenu;
  openMenu = null;
  el.remove();
  anchor.setAttribute('aria-expanded', 'false');
  anchor.focus();
}

/**
 * items: [{ labelKey | label, onSelect, testid, checked, danger, disabled }] or
 * { heading: text } for group labels.
 */
export function popupMenu(anchor, items, { labelKey, testid } = {}) {
  if (openMenu && openMenu.anchor === anchor) { closeMenu(); return; }
  closeMenu();
  const buttons = [];
  const el = h('div', { class: 'menu', role: 'menu', testid, i18nAria: labelKey },
    items.map((it) => {
      if (it.heading) return h('div', { class: 'menu-heading', role: 'presentation' }, it.heading);
      const b = h('button', {
        type: 'button', class: `menu-item${it.danger ? ' danger' : ''}`, role: it.checked === undefined ? 'menuitem' : 'menuitemradio',
        'aria-checked': it.checked === undefined ? null : String(!!it.checked), testid: it.testid, i18n: it.labelKey,
        disabled: !!it.disabled, tabindex: '-1',
        onclick: () => { closeMenu(); it.onSelect && it.onSelect(); },
      }, it.labelKey ? null : it.label);
      buttons.push(b);
      return b;
    }));
  el.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    const focus = (j) => buttons[(j + buttons.length) % buttons.length].focus();
    if (e.key === 'ArrowDown') { e.preventDefault(); focus(i + 1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); focus(i - 1); }
    else if (e.key === 'Home') { e.preventDefault(); focus(0); }
    else if (e.key === 'End') { e.preventDefault(); focus(-1); }
    else if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); closeMenu(); }
    else if (e.key === 'Tab') { closeMenu(); }
  });
  document.body.append(el);
  const r = anchor.getBoundingClientRect();
  const mw = el.offsetWidth, mh = el.offsetHeight;
  let left = Math.min(r.left, window.innerWidth - mw - 8);
  let top = r.bottom + 4;
  if (top + mh > window.innerHeight - 8) top = Math.max(8, r.top - mh - 4);
  el.style.left = `${Math.max(8, left)}px`;
  el.style.top = `${top}px`;
  anchor.setAttribute('aria-expanded', 'true');
  openMenu = { el, anchor };
  (buttons.find((b) => b.getAttribute('aria-checked') === 'true') || buttons[0])?.focus();
}

document.addEventListener('pointerdown', (e) => {
  if (openMenu && !openMenu.el.contains(e.target) && !openMenu.anchor.contains(e.target)) {
    const m = openMenu; openMenu = null; m.el.remove(); m.anchor.setAttribute('aria-expanded', 'false');
  }
}, true);
window.addEventListener('resize', () => closeMenu());
