// Modal dialogs on <dialog>: focus is trapped, Escape cancels, focus returns.
import { h, translate } from './dom.js';
import { t } from './i18n.js';

/** Opens a <dialog> with the given content; returns { dialog, close }. */
export function openDialog({ titleKey, titleText, body, actions, testid, className = '', onClose }) {
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  const title = h('h2', { class: 'dialog-title', id: titleId, i18n: titleKey }, titleText || '');
  const dialog = h('dialog', { class: `dialog ${className}`, testid, 'aria-labelledby': titleId },
    h('form', { method: 'dialog', class: 'dialog-form' }, title, body, h('div', { class: 'dialog-actions' }, actions)));
  const opener = document.activeElement;
  const close = (value) => { if (dialog.open) dialog.close(value); };
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (onClose) onClose(dialog.returnValue);
    if (opener && opener.isConnected && opener.focus) opener.focus();
  });
  document.body.append(dialog);
  translate(dialog);
  dialog.showModal();
  return { dialog, close };
}

/** confirm → Promise<boolean> */
export function confirmDialog({ titleKey, message, confirmKey, danger = false }) {
  return new Promise((resolve) => {
    let ok = false;
    const yes = h('button', { type: 'button', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, testid: 'confirm-ok', i18n: confirmKey,
      onclick: () => { ok = true; close(); } });
    const no = h('button', { type: 'button', class: 'btn', testid: 'confirm-cancel', i18n: 'common.cancel', onclick: () => close() });
    const { close } = openDialog({ titleKey, body: h('p', { class: 'dialog-text' }, message), actions: [no, yes], testid: 'confirm-dialog',
      onClose: () => resolve(ok) });
    no.focus();
  });
}

/** prompt → Promise<string|null> */
export function promptDialog({ titleKey, labelKey, value = '', confirmKey = 'common.save', testid = 'prompt-dialog', maxLength = 64 }) {
  return new Promise((resolve) => {
    let result = null;
    const input = h('input', { class: 'input', type: 'text', value, maxlength: maxLength, required: true, testid: `${testid}-input` });
    const submit = () => {
      const v = input.value.trim();
      if (!v) { input.setCustomValidity(t('validate.nameEmpty')); input.reportValidity(); return; }
      result = v; close();
    };
    input.addEventListener('input', () => input.setCustomValidity(''));
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); submit(); } });
    const ok = h('button', { type: 'button', class: 'btn btn-primary', testid: `${testid}-submit`, i18n: confirmKey, onclick: submit });
    const no = h('button', { type: 'button', class: 'btn', i18n: 'common.cancel', onclick: () => close() });
    const { close } = openDialog({ titleKey, testid,
      body: h('label', { class: 'field' }, h('span', { class: 'field-label', i18n: labelKey }), input),
      actions: [no, ok], onClose: () => resolve(result) });
    input.focus();
    input.select();
  });
}
