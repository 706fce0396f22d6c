// The participant grid of a group call: one tile per member (its camera, name,
// muted microphone, camera-off and ringing state; the active speaker ringed) and
// ours, laid out as large as the stage allows. Each tile has its own video channel
// (attach_member_video), attached while the tile exists.
import { h, setText } from './dom.js';
import { t } from './i18n.js';
import { icon } from './icons.js';
import { cmd, newChannel } from './api.js';
import { VideoView } from './video.js';

/** Tile aspect ratio (width / height). */
const ASPECT = 16 / 9;
/** Space between tiles, CSS px. */
const GAP = 8;

/** The column count that makes `n` tiles of ASPECT largest in a `w`×`hgt` box. */
export function gridColumns(n, w, hgt) {
  let best = 1, bestWidth = -1;
  for (let cols = 1; cols <= Math.max(1, n); cols++) {
    const rows = Math.ceil(n / cols);
    const width = Math.min((w - GAP * (cols - 1)) / cols, ((hgt - GAP * (rows - 1)) / rows) * ASPECT);
    if (width > bestWidth + 0.5) { best = cols; bestWidth = width; }
  }
  return best;
}

function tileLabel() {
  const mic = h('span', { class: 'tile-mic', testid: 'member-muted', hidden: true }, icon('micOff'));
  const name = h('span', { class: 'tile-label-name', testid: 'member-name' });
  return { mic, name, el: h('div', { class: 'tile-label' }, mic, name) };
}

class MemberTile {
  constructor(id, forceCpu) {
    this.id = id;
    this.view = new VideoView({ testid: 'member-video', labelKey: 'call.remoteVideo', forceCpu });
    this.label = tileLabel();
    this.el = h('div', { class: 'grid-tile', testid: 'member-tile', 'data-peer-id': id }, this.view.el, this.label.el);
    this.gone = false;
    newChannel((m) => this.view.push(m))
      .then((ch) => (this.gone ? null : cmd.attachMemberVideo(id, 'camera', ch)))
      .catch((e) => console.warn('member video:', (e && e.message) || e));
  }

  update(m, name, speaking) {
    setText(this.label.name, name);
    this.view.setPlaceholder(name, m.id);
    this.el.dataset.state = m.state;
    this.el.dataset.speaking = String(speaking);
    this.el.classList.toggle('speaking', speaking);
    this.label.mic.hidden = !m.mutedAudio;
    const waiting = m.state === 'ringing' || m.state === 'connecting';
    const caption = m.state === 'ringing' ? t('call.memberRinging') : waiting ? t('call.connecting')
      : m.mutedVideo ? t('call.remoteCameraOff', { name }) : '';
    this.view.setOff(waiting || m.mutedVideo, caption);
  }

  destroy() {
    this.gone = true;
    cmd.detachMemberVideo(this.id, 'camera').catch(() => {});
    this.view.destroy();
    this.el.remove();
  }
}

/** The grid; `localView` (our preview) moves into our own tile while it shows. */
export function mountGrid({ localView, forceCpu = false }) {
  const self = tileLabel();
  const selfTile = h('div', { class: 'grid-tile self', testid: 'self-tile' }, self.el);
  const el = h('div', { class: 'call-grid', testid: 'call-grid', hidden: true }, selfTile);
  const tiles = new Map();
  let home = null;

  function layout() {
    const n = tiles.size + 1;
    const cols = gridColumns(n, el.clientWidth, el.clientHeight);
    el.style.setProperty('--cols', String(cols));
    el.style.setProperty('--rows', String(Math.ceil(n / cols)));
    el.dataset.tiles = String(n);
  }
  new ResizeObserver(layout).observe(el);

  return {
    el,
    /** Shows call `c`'s members (or hides the grid: `on` false). */
    update(s, c, on) {
      el.hidden = !on;
      if (on && localView.el.parentNode !== selfTile) {
        home = localView.el.parentNode;
        selfTile.prepend(localView.el);
      } else if (!on && home && localView.el.parentNode === selfTile) {
        home.prepend(localView.el);
      }
      const members = on ? c.members : [];
      const ids = new Set(members.map((m) => m.id));
      for (const [id, tile] of tiles) if (!ids.has(id)) { tile.destroy(); tiles.delete(id); }
      for (const m of members) {
        let tile = tiles.get(m.id);
        if (!tile) { tile = new MemberTile(m.id, forceCpu); tiles.set(m.id, tile); el.append(tile.el); }
        const name = (c.memberNames && c.memberNames[m.id]) || m.id.slice(0, 8);
        tile.update(m, name, c.activeSpeaker === m.id);
      }
      if (on) {
        const me = s.state.me;
        setText(self.name, me ? t('call.you', { name: me.name }) : '');
        self.mic.hidden = !c.muted.audio;
        layout();
      }
    },
    /** Per tile, for parleyTest.grid(): peer, state, speaking, frames drawn / received, size. */
    info() {
      return [...tiles.values()].map((x) => ({ peer: x.id, state: x.el.dataset.state, speaking: x.el.dataset.speaking === 'true',
        frames: x.view.framesDrawn, received: x.view.framesReceived, size: x.view.frameSize }));
    },
  };
}
