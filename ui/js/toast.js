// Toasts for errors and short notices. Errors stay until dismissed or 8 s.
import { h } from './dom.js';
import { t } from './i18n.js';

let region;

export function mountToasts(root) {
  region = h('div', { class: 'toasts', role: 'region', i18nAria: 'toast.region' });
  root.append(region);
}

/** kind: 'error' | 'info'. Returns the element. */
export function toast(message, { kind = 'info', title = null, timeoutMs = null, action = null } = {}) {
  if (!region) { console.warn(message); return null; }
  const actBtn = action ? h('button', { type: 'button', class: 'btn btn-sm', testid: 'toast-action', i18n: action.labelKey,
    onclick: () => { el.remove(); action.onClick(); } }) : null;
  const close = h('button', { class: 'icon-btn toast-close', i18nAria: 'common.dismiss', onclick: () => el.remove() }, '×');
  const el = h('div', {
    class: `toast toast-${kind}`, testid: 'toast', role: kind === 'error' ? 'alert' : 'status',
    dataset: { kind },
  }, h('div', { class: 'toast-body' }, title ? h('strong', {}, title) : null, h('span', {}, message)), actBtn, close);
  region.append(el);
  while (region.children.length > 4) region.firstChild.remove();
  setTimeout(() => el.remove(), timeoutMs ?? (kind === 'error' ? 8000 : 3500));
  return el;
}

/** Shows a backend error { code, message }. */
export function showError(err) {
  const code = err && err.code ? err.code : 'internal';
  const known = ['invalid', 'not_found', 'offline', 'busy', 'declined', 'timeout', 'failed',
    'unsupported_codecs', 'ended', 'not_ringing', 'not_connected', 'not_in_call', 'stopped',
    'no_device', 'device', 'permission_denied', 'transfer_failed', 'server_unreachable',
    'peer_unreachable', 'call_failed', 'tampered', 'device_changed', 'internal'];
  const title = t(known.includes(code) ? `error.${code}` : 'error.internal');
  // A microphone or speaker that moved mid-call is news, not a failure.
  const kind = code === 'device_changed' ? 'info' : 'error';
  return toast((err && err.message) || title, { kind, title });
}

/** Runs a command promise; on rejection shows a toast and resolves to undefined. */
export async function act(promise) {
  try {
    return await promise;
  } catch (e) {
    showError(e);
    return undefined;
  }
}
