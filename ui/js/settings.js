// Settings dialog: name, signaling server, ICE servers, visible nearby, download
// folder, devices and the microphone's processing, language, theme → update_settings. The Nearby switch applies
// at once (set_nearby_visible), like a switch does.
import { h } from './dom.js';
import { t } from './i18n.js';
import { cmd } from './api.js';
import { act } from './toast.js';
import { icon } from './icons.js';
import { store } from './store.js';
import { openDialog } from './modal.js';
import { applySettingsState } from './theme.js';
import { connectionSection } from './connection.js';

let n = 0;
function field(labelKey, control, hintKey) {
  const id = control.id || `set-${++n}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { class: 'field-label', for: id, i18n: labelKey }), control,
    hintKey ? h('p', { class: 'field-hint', i18n: hintKey }) : null);
}

function select(testid, options, value) {
  const s = h('select', { class: 'input', testid });
  for (const o of options) s.append(h('option', { value: o.value, i18n: o.labelKey }, o.labelKey ? null : o.label));
  s.value = value;
  return s;
}

function deviceSelect(testid, list, value) {
  const opts = [{ value: '', labelKey: 'settings.deviceDefault' }, ...list.map((d) => ({ value: d, label: d }))];
  if (value && !list.includes(value)) opts.push({ value, label: t('settings.deviceMissing', { name: value }) });
  return select(testid, opts, value || '');
}

function iceRow(server, rows) {
  const urls = h('input', { class: 'input mono', type: 'text', testid: 'settings-ice-urls', value: (server.urls || []).join(', '),
    i18nPlaceholder: 'settings.iceUrlPlaceholder', i18nAria: 'settings.iceUrls' });
  const user = h('input', { class: 'input', type: 'text', testid: 'settings-ice-username', value: server.username || '',
    autocomplete: 'off', i18nPlaceholder: 'settings.iceUsername', i18nAria: 'settings.iceUsername' });
  const cred = h('input', { class: 'input', type: 'password', testid: 'settings-ice-credential', value: server.credential || '',
    autocomplete: 'off', i18nPlaceholder: 'settings.iceCredential', i18nAria: 'settings.iceCredential' });
  const del = h('button', { type: 'button', class: 'icon-btn', testid: 'settings-ice-remove', i18nAria: 'settings.iceRemove', i18nTitle: 'settings.iceRemove',
    onclick: () => { row.remove(); rows.querySelector('input')?.focus(); } }, icon('trash'));
  const row = h('div', { class: 'ice-row', testid: 'settings-ice-row' }, urls, user, cred, del);
  row.read = () => ({ urls: urls.value.split(/[\s,]+/).filter(Boolean), username: user.value, credential: cred.value });
  return row;
}

export async function openSettings() {
  const st = store.state.settings;
  const devices = store.devices || (await act(cmd.listDevices())) || { cameras: [], microphones: [], speakers: [] };
  store.devices = devices;
  const name = h('input', { class: 'input', type: 'text', maxlength: 64, testid: 'settings-name', value: st.displayName, required: true });
  const server = h('input', { class: 'input mono', type: 'url', testid: 'settings-server', value: st.serverUrl || '',
    i18nPlaceholder: 'settings.serverPlaceholder' });
  const rows = h('div', { class: 'ice-rows' });
  for (const s of st.iceServers || []) rows.append(iceRow(s, rows));
  const addIce = h('button', { type: 'button', class: 'btn btn-sm', testid: 'settings-ice-add',
    onclick: () => { const r = iceRow({ urls: [] }, rows); rows.append(r); r.querySelector('input').focus(); } },
  icon('plus'), h('span', { i18n: 'settings.iceAdd' }));
  // Empty = the default folder, shown as the placeholder.
  const dir = h('input', { class: 'input mono', type: 'text', testid: 'settings-download-dir', value: st.downloadDir,
    placeholder: store.state.defaultDownloadDir || '' });
  const camera = deviceSelect('settings-camera', devices.cameras, st.camera);
  const mic = deviceSelect('settings-microphone', devices.microphones, st.microphone);
  const speaker = deviceSelect('settings-speaker', devices.speakers, st.speaker);
  const language = select('settings-language', [{ value: 'auto', labelKey: 'settings.langAuto' }, { value: 'en', label: 'English' },
    { value: 'ko', label: '한국어' }], st.language);
  const theme = select('settings-theme', [{ value: 'system', labelKey: 'settings.themeSystem' }, { value: 'dark', labelKey: 'settings.themeDark' },
    { value: 'light', labelKey: 'settings.themeLight' }], st.theme);
  const nearbyVisible = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id: 'set-nearby-visible',
    testid: 'setting-nearby-visible', checked: st.nearbyVisible !== false, 'aria-describedby': 'set-nearby-hint',
    onchange: async () => {
      nearbyVisible.disabled = true;
      const s = await act(cmd.setNearbyVisible(nearbyVisible.checked));
      nearbyVisible.disabled = false;
      if (s) applySettingsState(s); else nearbyVisible.checked = !nearbyVisible.checked;
    } });
  // Microphone processing: saved with the rest, used from the next call.
  const processing = ['echoCancellation', 'noiseSuppression', 'gainControl'].map((key) => {
    const id = `set-${key}`;
    const input = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id,
      testid: `setting-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, checked: st[key] !== false });
    const row = h('label', { class: 'switch-row', for: id }, input, h('span', { class: 'field-label', i18n: `settings.${key}` }));
    return { key, input, row };
  });
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true });

  const body = h('div', { class: 'settings-body' },
    h('fieldset', { class: 'group' }, h('legend', { i18n: 'settings.profile' }), field('settings.displayName', name)),
    h('fieldset', { class: 'group' }, h('legend', { i18n: 'settings.network' }),
      field('settings.server', server, 'settings.serverHint'),
      h('div', { class: 'field' }, h('span', { class: 'field-label', i18n: 'settings.iceServers' }),
        h('p', { class: 'field-hint', i18n: 'settings.iceHint' }), rows, addIce),
      h('div', { class: 'field' },
        h('label', { class: 'switch-row', for: 'set-nearby-visible' }, nearbyVisible,
          h('span', { class: 'field-label', i18n: 'settings.nearbyVisible' })),
        h('p', { class: 'field-hint', id: 'set-nearby-hint', i18n: 'settings.nearbyHint' }))),
    connectionSection(),
    h('fieldset', { class: 'group' }, h('legend', { i18n: 'settings.files' }), field('settings.downloadDir', dir)),
    h('fieldset', { class: 'group grid2' }, h('legend', { i18n: 'settings.devices' }),
      field('settings.camera', camera), field('settings.microphone', mic), field('settings.speaker', speaker),
      h('div', { class: 'field' }, h('span', { class: 'field-label', i18n: 'settings.processing' }),
        ...processing.map((p) => p.row), h('p', { class: 'field-hint', i18n: 'settings.processingHint' }))),
    h('fieldset', { class: 'group grid2' }, h('legend', { i18n: 'settings.appearance' }),
      field('settings.language', language), field('settings.theme', theme)),
    error);

  const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'settings-save', i18n: 'common.save' });
  const cancel = h('button', { type: 'button', class: 'btn', testid: 'settings-cancel', i18n: 'common.cancel', onclick: () => close() });
  const { dialog, close } = openDialog({ titleKey: 'settings.title', body, actions: [cancel, save], testid: 'settings-dialog', className: 'dialog-wide' });
  dialog.querySelector('form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const fail = (key, input) => { error.textContent = t(key); error.hidden = false; input.focus(); };
    if (!name.value.trim()) return fail('validate.nameEmpty', name);
    const url = server.value.trim();
    if (url && !/^wss?:\/\/[^\s/]+/i.test(url)) return fail('validate.serverUrl', server);
    const ice = [...rows.children].map((r) => r.read()).filter((s) => s.urls.length);
    const urls = ice.flatMap((s) => s.urls);
    if (urls.some((u) => !/^(stun|stuns|turn|turns):[^\s]+/i.test(u))) return fail('validate.iceUrl', rows.querySelector('input'));
    // The engine carries TURN over UDP, TCP and TLS, but not STUN over TLS or TURN
    // over DTLS: say so instead of saving a server it would skip.
    if (urls.some((u) => /^stuns:|^turns:.*[?&]transport=udp/i.test(u))) return fail('validate.iceTransport', rows.querySelector('input'));
    const next = {
      ...st,
      displayName: name.value.trim(), serverUrl: url || null, iceServers: ice, downloadDir: dir.value.trim(),
      camera: camera.value || null, microphone: mic.value || null, speaker: speaker.value || null,
      language: language.value, theme: theme.value, nearbyVisible: nearbyVisible.checked,
      ...Object.fromEntries(processing.map((p) => [p.key, p.input.checked])),
    };
    save.disabled = true;
    const s = await act(cmd.updateSettings(next));
    save.disabled = false;
    if (!s) return;
    applySettingsState(s);
    close();
  });
  name.focus();
}
