// Chat panel for one contact: history, live messages, delivered state, composer.
// Used in the contact panel and beside the video in a call.
import { h, setText, syncList } from './dom.js';
import { t } from './i18n.js';
import { icon } from './icons.js';
import { timeOfDay } from './format.js';
import { sendChat } from './actions.js';
import { contactName } from './store.js';

let uid = 0;

function createMsg() {
  const text = h('div', { class: 'msg-text' });
  const time = h('span', { class: 'msg-time' });
  const tick = h('span', { class: 'msg-tick' });
  const el = h('li', { class: 'msg', testid: 'chat-message' }, h('div', { class: 'msg-bubble' }, text, h('div', { class: 'msg-meta' }, time, tick)));
  el.parts = { text, time, tick };
  return el;
}

function updateMsg(el, m) {
  const p = el.parts;
  el.dataset.direction = m.direction;
  el.dataset.delivered = String(!!m.delivered);
  el.dataset.id = m.id;
  el.className = `msg msg-${m.direction}`;
  setText(p.text, m.text);
  setText(p.time, timeOfDay(m.sentAtMs));
  if (m.direction === 'sent') {
    const key = m.delivered ? 'chat.delivered' : 'chat.sending';
    if (p.tick.dataset.state !== key) {
      p.tick.replaceChildren(icon(m.delivered ? 'checks' : 'check'));
      p.tick.dataset.state = key;
    }
    p.tick.setAttribute('aria-label', t(key));
    p.tick.title = t(key);
    p.tick.setAttribute('role', 'img');
    p.tick.hidden = false;
  } else p.tick.hidden = true;
}

export class ChatPanel {
  constructor({ compact = false } = {}) {
    const id = `chat-input-${++uid}`;
    this.peer = null;
    this.list = h('ol', { class: 'msg-list', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', i18nAria: 'chat.history' });
    this.empty = h('p', { class: 'chat-empty' });
    this.input = h('textarea', { class: 'input chat-input', id, rows: 1, maxlength: 4000, testid: 'chat-input', i18nPlaceholder: 'chat.placeholder',
      i18nAria: 'chat.inputLabel' });
    this.send = h('button', { type: 'submit', class: 'btn btn-primary icon-only', testid: 'chat-send', i18nAria: 'chat.send', i18nTitle: 'chat.send' }, icon('send'));
    this.form = h('form', { class: 'chat-compose' }, this.input, this.send);
    this.scroller = h('div', { class: 'msg-scroll' }, this.list, this.empty);
    this.el = h('section', { class: `chat${compact ? ' chat-compact' : ''}`, testid: 'chat', i18nAria: 'chat.title' }, this.scroller, this.form);
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.submit(); }
    });
    this.input.addEventListener('input', () => this.autosize());
    this.lastCount = 0;
  }

  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 140)}px`;
  }

  async submit() {
    const text = this.input.value.trim();
    if (!text || !this.peer || this.busy) return;
    this.busy = true;
    const ok = await sendChat(this.peer, text);
    this.busy = false;
    if (ok) { this.input.value = ''; this.autosize(); }
    this.input.focus();
  }

  setPeer(peer) {
    if (peer === this.peer) return;
    this.peer = peer;
    this.list.replaceChildren();
    this.lastCount = 0;
    this.input.value = '';
  }

  update(store) {
    if (!this.peer) return;
    const msgs = store.chats.get(this.peer) || [];
    const nearBottom = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 80;
    syncList(this.list, msgs, (m) => m.id, createMsg, updateMsg);
    this.empty.hidden = msgs.length > 0;
    setText(this.empty, t('chat.empty', { name: contactName(this.peer) }));
    if (msgs.length !== this.lastCount && (nearBottom || this.lastCount === 0 || msgs[msgs.length - 1].direction === 'sent')) {
      this.scroller.scrollTop = this.scroller.scrollHeight;
    }
    this.lastCount = msgs.length;
  }
}
