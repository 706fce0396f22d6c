// Call statistics overlay: resolution, fps, bitrate, RTT, loss, candidate type,
// plus a live line graph of the last 60 s of bitrate and RTT.
import { h, setText } from './dom.js';
import { t } from './i18n.js';
import { bitrate } from './format.js';

const WINDOW_MS = 60_000;

function row(labelKey) {
  const v = h('dd', {});
  return { v, els: [h('dt', { i18n: labelKey }), v] };
}

export class StatsOverlay {
  constructor() {
    this.rows = {
      res: row('stats.resolution'), fps: row('stats.fps'), bitrate: row('stats.bitrate'),
      sending: row('stats.sending'),
      rtt: row('stats.rtt'), loss: row('stats.loss'), cand: row('stats.candidate'),
      route: row('stats.route'),
    };
    this.rows.route.v.dataset.testid = 'stats-route';
    this.rows.sending.v.dataset.testid = 'stats-sending';
    this.canvas = h('canvas', { class: 'stats-graph', width: 240, height: 72, role: 'img', testid: 'stats-graph', i18nAria: 'stats.graph' });
    const legend = h('div', { class: 'stats-legend', 'aria-hidden': 'true' },
      h('span', { class: 'lg lg-bitrate' }, h('span', { i18n: 'stats.bitrate' })), h('span', { class: 'lg lg-rtt' }, h('span', { i18n: 'stats.rtt' })));
    this.el = h('section', { class: 'stats', testid: 'stats-overlay', i18nAria: 'stats.title', hidden: true },
      h('dl', { class: 'stats-grid' }, Object.values(this.rows).map((r) => r.els)), this.canvas, legend);
  }

  /** s: store; renderFps: frames/s actually drawn by the remote VideoView. */
  update(s, renderFps) {
    this.el.hidden = !s.showStats;
    if (!s.showStats) return;
    const st = s.stats;
    const r = this.rows;
    setText(r.res.v, st && st.width ? `${st.width}×${st.height}` : '–');
    setText(r.fps.v, st ? t('stats.fpsValue', { fps: Math.round(st.fps), drawn: renderFps }) : '–');
    setText(r.bitrate.v, st ? bitrate(st.bitrateBps) : '–');
    setText(r.sending.v, !st || st.sentBitrateBps == null ? '–' : st.estimateBps == null
      ? bitrate(st.sentBitrateBps)
      : t('stats.sendingValue', { sent: bitrate(st.sentBitrateBps), target: bitrate(st.videoTargetBps + st.screenTargetBps), estimate: bitrate(st.estimateBps) }));
    setText(r.rtt.v, st && st.rttMs != null ? `${Math.round(st.rttMs)} ms` : '–');
    setText(r.loss.v, st ? `${(+st.lossPct).toFixed(1)} %` : '–');
    setText(r.cand.v, st && st.candidate ? t(`stats.cand.${st.candidate}`) : '–');
    this.el.dataset.candidate = (st && st.candidate) || '';
    setText(r.route.v, st && st.localAddress && st.remoteAddress ? `${st.localAddress} → ${st.remoteAddress}` : '–');
    this.drawGraph(s.statsHistory);
  }

  drawGraph(hist) {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const cssW = c.clientWidth || 240, cssH = c.clientHeight || 72;
    if (c.width !== Math.round(cssW * dpr)) { c.width = Math.round(cssW * dpr); c.height = Math.round(cssH * dpr); }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cssW, cssH);
    const css = getComputedStyle(this.el);
    g.strokeStyle = css.getPropertyValue('--stats-grid').trim() || 'rgba(255,255,255,.15)';
    g.lineWidth = 1;
    for (let i = 1; i < 4; i++) {
      const y = Math.round((cssH * i) / 4) + 0.5;
      g.beginPath(); g.moveTo(0, y); g.lineTo(cssW, y); g.stroke();
    }
    if (hist.length < 2) return;
    const now = Date.now();
    const x = (tm) => cssW - ((now - tm) / WINDOW_MS) * cssW;
    const line = (key, color) => {
      const vals = hist.map((p) => p[key]).filter((v) => v != null);
      if (vals.length < 2) return;
      const max = Math.max(...vals) * 1.15 || 1;
      g.strokeStyle = color;
      g.lineWidth = 1.75;
      g.lineJoin = 'round';
      g.beginPath();
      let started = false;
      for (const p of hist) {
        if (p[key] == null) continue;
        const px = x(p.t), py = cssH - 2 - (p[key] / max) * (cssH - 6);
        if (!started) { g.moveTo(px, py); started = true; } else g.lineTo(px, py);
      }
      g.stroke();
    };
    line('bitrate', css.getPropertyValue('--graph-bitrate').trim() || '#4aa3ff');
    line('rtt', css.getPropertyValue('--graph-rtt').trim() || '#ffb347');
  }
}
