// Tiny DOM helpers: element creation, keyed list sync, i18n attribute binding.
import { t } from './i18n.js';

/**
 * h('button', { class: 'x', i18n: 'call.accept', onclick }, ...children)
 * Special props: class, i18n (textContent key), i18nAria (aria-label key),
 * i18nTitle (title key), i18nPlaceholder, testid, dataset, on* handlers.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'testid') el.dataset.testid = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'i18n') el.dataset.i18n = v;
    else if (k === 'i18nAria') el.dataset.i18nAria = v;
    else if (k === 'i18nTitle') el.dataset.i18nTitle = v;
    else if (k === 'i18nPlaceholder') el.dataset.i18nPlaceholder = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  translate(el);
  return el;
}

/** Re-applies data-i18n* attributes under root (used on live language switch). */
export function translate(root) {
  const all = root.querySelectorAll ? [root, ...root.querySelectorAll('[data-i18n],[data-i18n-aria],[data-i18n-title],[data-i18n-placeholder]')] : [];
  for (const el of all) {
    const d = el.dataset;
    if (!d) continue;
    if (d.i18n) el.textContent = t(d.i18n);
    if (d.i18nAria) el.setAttribute('aria-label', t(d.i18nAria));
    if (d.i18nTitle) el.title = t(d.i18nTitle);
    if (d.i18nPlaceholder) el.placeholder = t(d.i18nPlaceholder);
  }
}

/** Sets textContent only when it changed (keeps screen readers quiet). */
export function setText(el, text) {
  const s = String(text ?? '');
  if (el.textContent !== s) el.textContent = s;
}

/**
 * Keyed list reconciliation: reuses child elements by key so focus survives
 * re-renders. create(item) → element; update(el, item) refreshes it.
 */
export function syncList(container, items, key, create, update) {
  const existing = new Map();
  for (const child of container.children) if (child.dataset.key) existing.set(child.dataset.key, child);
  let prev = null;
  for (const item of items) {
    const k = String(key(item));
    let el = existing.get(k);
    if (el) existing.delete(k);
    else { el = create(item); el.dataset.key = k; }
    update(el, item);
    const want = prev ? prev.nextSibling : container.firstChild;
    if (want !== el) container.insertBefore(el, want);
    prev = el;
  }
  for (const el of existing.values()) el.remove();
}

export function show(el, visible) { el.hidden = !visible; }

export function initial(name) {
  const s = (name || '?').trim();
  return s ? [...s][0].toUpperCase() : '?';
}

/** A stable hue per peer id for avatars. */
export function hue(id) {
  let x = 0;
  for (const c of id || '') x = (x * 31 + c.charCodeAt(0)) >>> 0;
  return x % 360;
}
