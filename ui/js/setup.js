// First start (State.me == null): choose a display name → setup_profile.
import { h } from './dom.js';
import { t } from './i18n.js';
import { cmd } from './api.js';
import { act } from './toast.js';
import { setState } from './store.js';

export function mountSetup() {
  const input = h('input', { class: 'input input-lg', id: 'setup-name', type: 'text', maxlength: 64, autocomplete: 'nickname',
    required: true, testid: 'setup-name', i18nPlaceholder: 'setup.placeholder' });
  const error = h('p', { class: 'field-error', id: 'setup-error', role: 'alert', hidden: true });
  input.setAttribute('aria-describedby', 'setup-error setup-hint');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-lg', testid: 'setup-submit', i18n: 'setup.submit' });
  const form = h('form', { class: 'setup-card', novalidate: true },
    h('div', { class: 'brand-mark', 'aria-hidden': 'true' }, 'P'),
    h('h1', { class: 'setup-title', i18n: 'setup.title' }),
    h('p', { class: 'setup-lead', i18n: 'setup.lead' }),
    h('label', { class: 'field', for: 'setup-name' }, h('span', { class: 'field-label', i18n: 'setup.nameLabel' })),
    input, error,
    h('p', { class: 'field-hint', id: 'setup-hint', i18n: 'setup.hint' }),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!name) {
      error.textContent = t('validate.nameEmpty');
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    error.hidden = true;
    input.removeAttribute('aria-invalid');
    submit.disabled = true;
    const s = await act(cmd.setupProfile(name));
    submit.disabled = false;
    if (s) setState(s);
  });
  const el = h('section', { class: 'setup-screen', testid: 'setup-screen', 'aria-labelledby': 'setup-title' }, form);
  form.querySelector('h1').id = 'setup-title';
  let shown = false;
  return {
    el,
    update(store) {
      const visible = !!store.state && !store.state.me;
      el.hidden = !visible;
      if (visible && !shown) setTimeout(() => input.focus(), 0);
      shown = visible;
    },
  };
}
