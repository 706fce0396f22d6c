// Incoming-call overlay: caller, Accept / Decline, ringtone until answered or gone.
import { h, setText, initial, hue } from './dom.js';
import { t } from './i18n.js';
import { icon } from './icons.js';
import { cmd } from './api.js';
import { act } from './toast.js';
import { store, changed, applyCallReply } from './store.js';

export function mountIncoming() {
  const avatar = h('div', { class: 'avatar avatar-xl ringing', 'aria-hidden': 'true' });
  const title = h('h2', { class: 'incoming-name', id: 'incoming-title', testid: 'incoming-name' });
  const sub = h('p', { class: 'incoming-sub', id: 'incoming-sub', i18n: 'incoming.sub' });
  const stranger = h('p', { class: 'incoming-stranger', testid: 'incoming-stranger', i18n: 'incoming.stranger', hidden: true });
  // A group call: who is in it already.
  const members = h('p', { class: 'incoming-members', testid: 'incoming-members', hidden: true });
  const accept = h('button', { type: 'button', class: 'btn btn-accept btn-lg', testid: 'accept-call',
    onclick: () => answer(true) }, icon('phone'), h('span', { i18n: 'incoming.accept' }));
  const decline = h('button', { type: 'button', class: 'btn btn-danger btn-lg', testid: 'decline-call',
    onclick: () => answer(false) }, icon('phone', 'hangup-rot'), h('span', { i18n: 'incoming.decline' }));
  const card = h('div', { class: 'incoming-card', role: 'alertdialog', 'aria-modal': 'true', 'aria-labelledby': 'incoming-title',
    'aria-describedby': 'incoming-sub', tabindex: '-1' },
  avatar, title, sub, members, stranger, h('div', { class: 'incoming-actions' }, decline, accept));
  const el = h('div', { class: 'overlay incoming', testid: 'incoming-call', hidden: true }, card);
  let busy = false;

  async function answer(yes) {
    const call = store.incoming;
    if (!call || busy) return;
    busy = true;
    const res = await act(yes ? cmd.acceptCall(call.callId) : cmd.declineCall(call.callId));
    busy = false;
    if (res === undefined) return; // error shown; keep the overlay while the call still rings
    store.incoming = null;
    if (yes && res && store.state) applyCallReply(res);
    if (!yes && store.state && store.state.call && store.state.call.callId === call.callId) store.state.call = null;
    changed();
  }

  card.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); answer(false); }
    if (e.key === 'Tab') { // keep focus inside the two buttons
      e.preventDefault();
      (document.activeElement === accept ? decline : accept).focus();
    }
  });

  let shownFor = null;
  return {
    el,
    update(s) {
      const c = s.incoming;
      el.hidden = !c;
      if (!c) { shownFor = null; return; }
      setText(title, t('incoming.title', { name: c.peerName }));
      stranger.hidden = c.peerIsContact !== false;
      const others = (c.members || []).filter((m) => m.id !== c.peer);
      members.hidden = !others.length;
      setText(members, others.length ? t('incoming.members', { names: others.map((m) => (c.memberNames && c.memberNames[m.id]) || m.id.slice(0, 8)).join(', ') }) : '');
      setText(avatar, initial(c.peerName));
      avatar.style.setProperty('--hue', hue(c.peer));
      accept.setAttribute('aria-label', t('incoming.acceptLabel', { name: c.peerName }));
      decline.setAttribute('aria-label', t('incoming.declineLabel', { name: c.peerName }));
      if (shownFor !== c.callId) { shownFor = c.callId; card.focus(); }
    },
  };
}
