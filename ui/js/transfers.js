// Transfer list for one contact: offers (accept / decline), progress with speed
// and time left, cancel, "Open" and "Show in folder", failure reasons, and the
// finished transfers of earlier sessions (the profile's history) with their time.
// A dropped folder is one row (filesTotal set): one question, the folder's
// progress in files and bytes, and the file moving now.
import { h, setText, syncList } from './dom.js';
import { t } from './i18n.js';
import { cmd } from './api.js';
import { act } from './toast.js';
import { icon } from './icons.js';
import { bytes, speed, duration, when } from './format.js';
import { contactName, upsertTransfer, store } from './store.js';

// Shows what a button did before the backend's event says so, but only if the
// row is still in a state the button acted on: the command's reply and the
// transfer's events travel apart, and a 5 MB file can finish before the reply
// to "accept" arrives (its row was then reopened as active for good).
function patch(id, changes, from) {
  const x = store.transfers.get(id);
  if (x && from.includes(x.state)) upsertTransfer({ ...x, ...changes });
}

function createItem() {
  const kind = h('span', { class: 'xfer-icon' });
  const name = h('span', { class: 'xfer-name' });
  const sub = h('span', { class: 'xfer-sub' });
  const bar = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100' }, h('div', { class: 'progress-fill' }));
  const detail = h('div', { class: 'xfer-detail', 'aria-live': 'off' });
  const error = h('div', { class: 'xfer-error', role: 'alert', testid: 'transfer-error' });
  const accept = h('button', { type: 'button', class: 'btn btn-sm btn-primary', testid: 'transfer-accept', i18n: 'transfer.accept',
    onclick: async () => { const id = el.dataset.key; if ((await act(cmd.acceptTransfer(id))) !== undefined) patch(id, { state: 'active' }, ['offered']); } });
  const decline = h('button', { type: 'button', class: 'btn btn-sm', testid: 'transfer-decline', i18n: 'transfer.decline',
    onclick: async () => { const id = el.dataset.key; if ((await act(cmd.declineTransfer(id))) !== undefined) patch(id, { state: 'declined' }, ['offered']); } });
  const cancel = h('button', { type: 'button', class: 'btn btn-sm', testid: 'transfer-cancel', i18n: 'common.cancel',
    onclick: async () => { const id = el.dataset.key; if ((await act(cmd.cancelTransfer(id))) !== undefined) patch(id, { state: 'cancelled' }, ['offered', 'active', 'waiting']); } });
  const reveal = h('button', { type: 'button', class: 'btn btn-sm', testid: 'transfer-show', onclick: () => act(cmd.showInFolder(el.dataset.path)) },
    icon('folder'), h('span', { i18n: 'transfer.showInFolder' }));
  const open = h('button', { type: 'button', class: 'btn btn-sm', testid: 'transfer-open', i18n: 'transfer.open',
    onclick: () => act(cmd.openTransfer(el.dataset.key)) });
  const el = h('li', { class: 'xfer', testid: 'transfer' },
    h('div', { class: 'xfer-head' }, kind, h('div', { class: 'xfer-titles' }, name, sub)),
    bar, detail, error, h('div', { class: 'xfer-actions' }, accept, decline, cancel, open, reveal));
  el.parts = { kind, name, sub, bar, detail, error, accept, decline, cancel, open, reveal };
  return el;
}

function updateItem(el, x) {
  const p = el.parts;
  el.dataset.state = x.state;
  el.dataset.name = x.name;
  el.dataset.direction = x.direction;
  el.dataset.path = x.path || '';
  const folder = x.filesTotal != null;
  el.dataset.kind = folder ? 'folder' : 'file';
  el.className = `xfer xfer-${x.state}`;
  const kind = folder ? 'folder' : x.direction === 'sending' ? 'upload' : 'download';
  if (p.kind.dataset.dir !== kind) {
    p.kind.replaceChildren(icon(kind));
    p.kind.dataset.dir = kind;
  }
  setText(p.name, x.name);
  p.name.title = x.name;
  const who = contactName(x.peer);
  const size = folder ? t('transfer.folderSize', { n: x.filesTotal, size: bytes(x.bytesTotal) }) : bytes(x.bytesTotal);
  setText(p.sub, `${t(x.direction === 'sending' ? 'transfer.to' : 'transfer.from', { name: who })} · ${size}`);
  const pct = x.bytesTotal > 0 ? Math.min(100, (x.bytesDone / x.bytesTotal) * 100) : x.state === 'completed' ? 100 : 0;
  p.bar.firstChild.style.width = `${pct.toFixed(1)}%`;
  p.bar.setAttribute('aria-valuenow', pct.toFixed(0));
  p.bar.setAttribute('aria-label', t('transfer.progressLabel', { name: x.name }));
  p.bar.hidden = x.state === 'offered' && x.direction === 'receiving';
  let detail;
  if (x.state === 'active') {
    const left = x.bytesPerSec > 0 ? duration((x.bytesTotal - x.bytesDone) / x.bytesPerSec) : '–';
    detail = t('transfer.activeDetail', { done: bytes(x.bytesDone), total: bytes(x.bytesTotal), speed: speed(x.bytesPerSec), left });
    if (folder) {
      detail = `${t('transfer.filesDone', { done: x.filesDone, total: x.filesTotal })} · ${detail}`;
      if (x.current) detail += ` · ${x.current}`;
    }
  } else if (x.state === 'offered') {
    const offeredIn = folder ? 'transfer.offeredFolderIn' : 'transfer.offeredIn';
    detail = t(x.direction === 'receiving' ? offeredIn : 'transfer.offeredOut', { name: who });
  } else {
    detail = t(`transfer.state.${x.state}`);
    if (folder && x.state !== 'completed') detail += ` · ${t('transfer.filesDone', { done: x.filesDone, total: x.filesTotal })}`;
    if (x.finishedAtMs) detail += ` · ${when(x.finishedAtMs)}`;
  }
  setText(p.detail, detail);
  p.error.hidden = x.state !== 'failed' && !(x.state === 'waiting' && x.error);
  setText(p.error, x.state === 'failed' ? t('transfer.failedWhy', { why: x.error || t('transfer.unknownError') })
    : x.state === 'waiting' && x.error ? t('transfer.waitingWhy', { why: x.error }) : '');
  const offerIn = x.state === 'offered' && x.direction === 'receiving';
  p.accept.hidden = !offerIn;
  p.decline.hidden = !offerIn;
  p.cancel.hidden = !(x.state === 'active' || ((x.state === 'offered' || x.state === 'waiting') && x.direction === 'sending'));
  p.reveal.hidden = !(x.state === 'completed' && x.direction === 'receiving' && x.path);
  p.open.hidden = p.reveal.hidden;
  p.open.setAttribute('aria-label', t('transfer.openLabel', { name: x.name }));
  p.cancel.setAttribute('aria-label', t('transfer.cancelLabel', { name: x.name }));
  p.accept.setAttribute('aria-label', t('transfer.acceptLabel', { name: x.name }));
  p.decline.setAttribute('aria-label', t('transfer.declineLabel', { name: x.name }));
}

export class TransferList {
  constructor() {
    this.peers = new Set();
    this.list = h('ul', { class: 'xfer-list', testid: 'transfer-list' });
    this.count = h('span', { class: 'count' });
    this.el = h('section', { class: 'transfers', i18nAria: 'transfer.title' },
      h('h3', { class: 'section-title' }, h('span', { i18n: 'transfer.title' }), this.count), this.list);
  }

  /** The transfers shown: with `peer`, or with any of several (a group call's members). */
  setPeer(peer) { this.peers = new Set(Array.isArray(peer) ? peer : [peer]); }

  update(s) {
    // Newest first, in arrival order: rows never jump while their state changes.
    const xs = [...s.transfers.values()].filter((x) => this.peers.has(x.peer)).reverse();
    syncList(this.list, xs, (x) => x.transferId, createItem, updateItem);
    this.el.hidden = xs.length === 0;
    setText(this.count, xs.length ? String(xs.length) : '');
  }
}
