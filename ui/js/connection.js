// Settings → Connection: runs the connection doctor (check_connection) and shows
// what it found: server, public address and NAT, TURN per transport, the paths a
// call can take, and advice.
import { h } from './dom.js';
import { t } from './i18n.js';
import { cmd } from './api.js';
import { act } from './toast.js';

const ms = (v) => (v === null || v === undefined ? '' : `${Math.round(v)} ms`);

function row(testid, label, ok, value) {
  const state = ok === true ? 'ok' : ok === false ? 'fail' : 'info';
  return h('li', { class: `conn-row conn-${state}`, testid, dataset: { ok: String(ok) } },
    h('span', { class: 'conn-label' }, label), h('span', { class: 'conn-value mono' }, value));
}

function render(r) {
  const rows = [row('conn-server', t('conn.server'), r.server.ok,
    r.server.ok ? t('conn.signedIn', { ms: ms(r.server.ms) }) : r.server.error)];
  if (r.stun) {
    rows.push(row('conn-public', t('conn.public'), r.stun.ok,
      r.stun.ok ? `${r.stun.public} (${t('conn.local')} ${r.stun.local || '-'})` : r.stun.error));
  }
  rows.push(row('conn-nat', t('conn.nat'), null, t(`conn.nat.${r.nat}`)));
  for (const relay of r.relays) {
    rows.push(row(`conn-turn-${relay.transport}`, `TURN ${relay.transport.toUpperCase()}`, relay.ok,
      relay.ok ? t('conn.relayIn', { ms: ms(relay.ms) }) : relay.error));
  }
  const paths = r.paths.map((p) => t(`conn.path.${p}`)).join(', ') || t('conn.path.none');
  rows.push(row('conn-paths', t('conn.paths'), r.paths.length > 0, paths));
  return [h('ul', { class: 'conn-rows' }, rows),
    ...r.advice.map((a) => h('p', { class: 'field-hint conn-advice', testid: 'conn-advice' }, a))];
}

/** The Connection fieldset: a button, and the report once it ran. */
export function connectionSection() {
  const out = h('div', { class: 'conn-report', testid: 'connection-report', 'aria-live': 'polite' });
  const check = h('button', { type: 'button', class: 'btn btn-sm', testid: 'settings-check-connection', i18n: 'conn.check' });
  check.addEventListener('click', async () => {
    check.disabled = true;
    out.replaceChildren(h('p', { class: 'field-hint', i18n: 'conn.checking' }));
    out.dataset.state = 'checking';
    const report = await act(cmd.checkConnection());
    check.disabled = false;
    out.replaceChildren(...(report ? render(report) : []));
    out.dataset.state = report ? (report.server.ok && report.paths.length ? 'usable' : 'unusable') : 'error';
  });
  return h('fieldset', { class: 'group' }, h('legend', { i18n: 'conn.title' }),
    h('p', { class: 'field-hint', i18n: 'conn.hint' }), h('div', {}, check), out);
}
