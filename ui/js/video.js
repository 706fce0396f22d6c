// VideoView: draws I420 frames (docs/ui-api.md "Video frames") into a canvas.
// WebGL2 with three R8 textures and a BT.601 limited-range shader; a 2D-canvas CPU
// conversion when WebGL2 is unavailable. Only the latest frame is drawn, once per
// animation frame. An empty message shows the placeholder (avatar initial).
import { h, initial, hue } from './dom.js';

const HEADER_BYTES = 16;

const VS = `#version 300 es
out vec2 uv;
void main() {
  vec2 p = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));
  uv = vec2(p.x, 1.0 - p.y);
  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}`;

const FS = `#version 300 es
precision mediump float;
in vec2 uv;
uniform sampler2D ty, tu, tv;
out vec4 color;
void main() {
  float y = 1.164383 * (texture(ty, uv).r - 0.062745);
  float u = texture(tu, uv).r - 0.501961;
  float v = texture(tv, uv).r - 0.501961;
  color = vec4(clamp(vec3(y + 1.596027 * v,
                          y - 0.391762 * u - 0.812968 * v,
                          y + 2.017232 * u), 0.0, 1.0), 1.0);
}`;

/** Parses one channel message → { width, height, tsUs, y, u, v, cw, ch } or null (empty / invalid). */
export function parseFrame(msg) {
  let buf;
  if (msg instanceof ArrayBuffer) buf = new Uint8Array(msg);
  else if (ArrayBuffer.isView(msg)) buf = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
  else if (Array.isArray(msg)) buf = Uint8Array.from(msg);
  else return null;
  if (buf.byteLength < HEADER_BYTES) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, HEADER_BYTES);
  const width = dv.getUint32(0, true), height = dv.getUint32(4, true);
  const tsUs = Number(dv.getBigUint64(8, true));
  if (!width || !height) return null;
  const ySize = width * height;
  // The contract says (w/2)·(h/2); accept rounded-up chroma too for odd sizes.
  let cw = width >> 1, ch = height >> 1;
  const upW = (width + 1) >> 1, upH = (height + 1) >> 1;
  if (buf.byteLength - HEADER_BYTES >= ySize + 2 * upW * upH) { cw = upW; ch = upH; }
  const cSize = cw * ch;
  if (buf.byteLength - HEADER_BYTES < ySize + 2 * cSize) return null;
  const o = buf.byteOffset + HEADER_BYTES;
  return {
    width, height, tsUs, cw, ch,
    y: new Uint8Array(buf.buffer, o, ySize),
    u: new Uint8Array(buf.buffer, o + ySize, cSize),
    v: new Uint8Array(buf.buffer, o + ySize + cSize, cSize),
  };
}

function letterbox(cw, ch, fw, fh) {
  const scale = Math.min(cw / fw, ch / fh);
  const w = Math.round(fw * scale), hgt = Math.round(fh * scale);
  return { x: Math.floor((cw - w) / 2), y: Math.floor((ch - hgt) / 2), w, h: hgt };
}

export class VideoView {
  /** opts: { testid, labelKey, mirror, forceCpu } */
  constructor({ testid, labelKey, mirror = false, forceCpu = false } = {}) {
    this.canvas = h('canvas', { class: 'video-canvas', testid, role: 'img', i18nAria: labelKey });
    this.avatar = h('div', { class: 'avatar avatar-xl' });
    this.caption = h('p', { class: 'video-caption', hidden: true });
    this.placeholder = h('div', { class: 'video-placeholder' }, this.avatar, this.caption);
    /** The sender turned its camera off: the placeholder stays over the (black) frames. */
    this.off = false;
    this.el = h('div', { class: `video-view${mirror ? ' mirror' : ''}` }, this.canvas, this.placeholder);
    this.latest = null;
    this.current = null;
    this.drawTimes = [];
    this.framesReceived = 0;
    this.framesDrawn = 0;
    this.raf = 0;
    /** Natural size: the canvas gets exactly the frame's pixels (1:1 view); CSS sizes the box. */
    this.natural = false;
    /** Called with frameSize ({ width, height } or null) whenever the frame size changes. */
    this.onsize = null;
    this.mode = forceCpu ? null : this.initGl();
    if (!this.mode) this.initCpu();
    this.el.dataset.renderer = this.mode;
    this.canvas.dataset.renderer = this.mode;
    this.showPlaceholder(true);
    this.resizeObs = new ResizeObserver(() => this.resize());
    this.resizeObs.observe(this.el);
  }

  setPlaceholder(name, id) {
    this.avatar.textContent = initial(name);
    this.avatar.style.setProperty('--hue', hue(id || name));
  }

  /** Camera off at the sender: show the placeholder with `caption` instead of the
   *  frames (which keep arriving, black); `on = false` shows the frames again. */
  setOff(on, caption = '') {
    this.caption.textContent = caption;
    this.caption.hidden = !on;
    if (this.off === on) return;
    this.off = on;
    this.placeholder.dataset.off = String(on);
    this.showPlaceholder(on || !this.current);
  }

  /** Feed one channel message (ArrayBuffer). */
  push(msg) {
    const f = parseFrame(msg);
    if (!f) { this.clear(); return; }
    this.framesReceived++;
    this.latest = f;
    this.schedule();
  }

  clear() {
    const had = !!this.current;
    this.latest = null;
    this.current = null;
    this.showPlaceholder(true);
    if (had && this.onsize) this.onsize(null);
  }

  /** Natural-size mode on/off (see `natural`). */
  setNatural(on) {
    if (this.natural === on) return;
    this.natural = on;
    this.resize();
  }

  /** Frames drawn during the last second. */
  fps() {
    const cutoff = performance.now() - 1000;
    while (this.drawTimes.length && this.drawTimes[0] < cutoff) this.drawTimes.shift();
    return this.drawTimes.length;
  }

  get frameSize() { return this.current ? { width: this.current.width, height: this.current.height } : null; }

  schedule() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      if (!this.latest) return;
      const prev = this.current;
      this.current = this.latest;
      this.latest = null;
      if (!prev || prev.width !== this.current.width || prev.height !== this.current.height) {
        if (this.natural) this.resize();
        if (this.onsize) this.onsize(this.frameSize);
      }
      this.upload(this.current);
      this.draw();
      this.framesDrawn++;
      this.drawTimes.push(performance.now());
      if (!this.off) this.showPlaceholder(false);
    });
  }

  showPlaceholder(on) {
    if (this.placeholder.hidden === !on) return;
    this.placeholder.hidden = !on;
    this.canvas.classList.toggle('blank', on);
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const nat = this.natural && this.current;
    const w = nat ? this.current.width : Math.max(1, Math.round(this.el.clientWidth * dpr));
    const hh = nat ? this.current.height : Math.max(1, Math.round(this.el.clientHeight * dpr));
    if (this.canvas.width !== w || this.canvas.height !== hh) {
      this.canvas.width = w;
      this.canvas.height = hh;
      if (this.current) this.draw();
    }
  }

  initGl() {
    const gl = this.canvas.getContext('webgl2', { alpha: false, antialias: false, depth: false, preserveDrawingBuffer: false });
    if (!gl) return null;
    const sh = (type, src) => {
      const s = gl.createShader(type);
      gl.shaderSource(s, src);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
      return s;
    };
    try {
      const p = gl.createProgram();
      gl.attachShader(p, sh(gl.VERTEX_SHADER, VS));
      gl.attachShader(p, sh(gl.FRAGMENT_SHADER, FS));
      gl.linkProgram(p);
      if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
      gl.useProgram(p);
      this.tex = ['ty', 'tu', 'tv'].map((name, i) => {
        const tex = gl.createTexture();
        gl.activeTexture(gl.TEXTURE0 + i);
        gl.bindTexture(gl.TEXTURE_2D, tex);
        for (const [k, v] of [[gl.TEXTURE_MIN_FILTER, gl.LINEAR], [gl.TEXTURE_MAG_FILTER, gl.LINEAR],
          [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE], [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE]]) gl.texParameteri(gl.TEXTURE_2D, k, v);
        gl.uniform1i(gl.getUniformLocation(p, name), i);
        return tex;
      });
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
      gl.bindVertexArray(gl.createVertexArray());
    } catch (e) {
      console.warn('WebGL2 video renderer unavailable, using 2D canvas:', e);
      return null;
    }
    this.gl = gl;
    this.texSize = null;
    this.canvas.addEventListener('webglcontextlost', (e) => {
      e.preventDefault();
      if (this.destroyed) return;
      // Switch to the CPU path on a fresh canvas; the lost one cannot get a 2D context.
      const fresh = h('canvas', { class: this.canvas.className, testid: this.canvas.dataset.testid, role: 'img' });
      fresh.setAttribute('aria-label', this.canvas.getAttribute('aria-label') || '');
      this.canvas.replaceWith(fresh);
      this.canvas = fresh;
      this.gl = null;
      this.initCpu();
      this.resize();
    });
    return 'webgl2';
  }

  initCpu() {
    this.mode = 'canvas2d';
    this.ctx = this.canvas.getContext('2d', { alpha: false });
    this.scratch = document.createElement('canvas');
    this.scratchCtx = this.scratch.getContext('2d');
    this.el && (this.el.dataset.renderer = this.mode);
    this.canvas.dataset.renderer = this.mode;
    return this.mode;
  }

  upload(f) {
    if (this.gl) {
      const gl = this.gl;
      const sizeKey = `${f.width}x${f.height}:${f.cw}x${f.ch}`;
      const planes = [[f.y, f.width, f.height], [f.u, f.cw, f.ch], [f.v, f.cw, f.ch]];
      planes.forEach(([data, w, hh], i) => {
        gl.activeTexture(gl.TEXTURE0 + i);
        gl.bindTexture(gl.TEXTURE_2D, this.tex[i]);
        if (this.texSize !== sizeKey) gl.texImage2D(gl.TEXTURE_2D, 0, gl.R8, w, hh, 0, gl.RED, gl.UNSIGNED_BYTE, data);
        else gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, w, hh, gl.RED, gl.UNSIGNED_BYTE, data);
      });
      this.texSize = sizeKey;
      return;
    }
    // CPU: I420 → RGBA into the scratch canvas at the frame's own size.
    if (this.scratch.width !== f.width || this.scratch.height !== f.height || !this.img) {
      this.scratch.width = f.width;
      this.scratch.height = f.height;
      this.img = this.scratchCtx.createImageData(f.width, f.height);
    }
    const out = this.img.data;
    const { width: w, height: hh, y, u, v, cw } = f;
    for (let row = 0; row < hh; row++) {
      const crow = (row >> 1) * cw;
      let o = row * w * 4;
      for (let col = 0; col < w; col++) {
        const Y = 1.164383 * (y[row * w + col] - 16);
        const ci = crow + (col >> 1);
        const U = u[ci] - 128, V = v[ci] - 128;
        out[o++] = Y + 1.596027 * V;
        out[o++] = Y - 0.391762 * U - 0.812968 * V;
        out[o++] = Y + 2.017232 * U;
        out[o++] = 255;
      }
    }
    this.scratchCtx.putImageData(this.img, 0, 0);
  }

  draw() {
    const f = this.current;
    if (!f) return;
    const { width: cw, height: ch } = this.canvas;
    const r = letterbox(cw, ch, f.width, f.height);
    if (this.gl) {
      const gl = this.gl;
      gl.viewport(0, 0, cw, ch);
      gl.clearColor(0, 0, 0, 1);
      gl.clear(gl.COLOR_BUFFER_BIT);
      gl.viewport(r.x, ch - r.y - r.h, r.w, r.h);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    } else {
      this.ctx.fillStyle = '#000';
      this.ctx.fillRect(0, 0, cw, ch);
      this.ctx.imageSmoothingQuality = 'medium';
      this.ctx.drawImage(this.scratch, r.x, r.y, r.w, r.h);
    }
  }

  destroy() {
    if (this.raf) cancelAnimationFrame(this.raf);
    // Give the WebGL context back now, not at garbage collection: WebKit keeps
    // only so many alive and drops the oldest (a live tile's) beyond that.
    const lose = this.gl && this.gl.getExtension('WEBGL_lose_context');
    this.destroyed = true;
    if (lose) lose.loseContext();
    this.gl = null;
    this.resizeObs.disconnect();
    this.el.remove();
  }
}
