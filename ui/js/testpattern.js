// Moving I420 test pattern for the mock backend, in the channel message format
// of docs/ui-api.md: 16-byte header (u32 w, u32 h, u64 µs, little endian) + Y, U, V.

function rgbToYuv(r, g, b) {
  return [
    Math.round(16 + 65.481 * r + 128.553 * g + 24.966 * b),
    Math.round(128 - 37.797 * r - 74.203 * g + 112.0 * b),
    Math.round(128 + 112.0 * r - 93.786 * g - 18.214 * b),
  ];
}

const BARS = [[0.75, 0.75, 0.75], [0.75, 0.75, 0], [0, 0.75, 0.75], [0, 0.75, 0],
  [0.75, 0, 0.75], [0.75, 0, 0], [0, 0, 0.75]].map(([r, g, b]) => rgbToYuv(r, g, b));

export class TestPattern {
  constructor(width, height, tint = 0) {
    this.w = width;
    this.h = height;
    this.cw = width >> 1;
    this.ch = height >> 1;
    this.tint = tint;
    this.size = 16 + width * height + 2 * this.cw * this.ch;
    this.base = this.makeBase();
    this.n = 0;
  }

  makeBase() {
    const { w, h, cw, ch } = this;
    const buf = new Uint8Array(this.size);
    const Y = buf.subarray(16, 16 + w * h);
    const U = buf.subarray(16 + w * h, 16 + w * h + cw * ch);
    const V = buf.subarray(16 + w * h + cw * ch);
    const barsH = Math.round(h * 0.68);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let yuv;
        if (y < barsH) yuv = BARS[Math.min(6, Math.floor((x * 7) / w))];
        else {
          const g = x / (w - 1);
          yuv = rgbToYuv(g * (1 - this.tint), g * 0.9, g * (0.6 + 0.4 * this.tint));
        }
        Y[y * w + x] = yuv[0];
        if (!(x & 1) && !(y & 1) && (y >> 1) < ch && (x >> 1) < cw) {
          U[(y >> 1) * cw + (x >> 1)] = yuv[1];
          V[(y >> 1) * cw + (x >> 1)] = yuv[2];
        }
      }
    }
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, w, true);
    dv.setUint32(4, h, true);
    return buf;
  }

  /** Next frame as a fresh ArrayBuffer: bars, a gradient, a bouncing box. */
  next() {
    const { w, h, cw } = this;
    const out = this.base.slice();
    const dv = new DataView(out.buffer);
    dv.setBigUint64(8, BigInt(Math.round(performance.now() * 1000)), true);
    const Y = out.subarray(16, 16 + w * h);
    const U = out.subarray(16 + w * h, 16 + w * h + cw * this.ch);
    const V = out.subarray(16 + w * h + cw * this.ch);
    const box = Math.round(h / 5) & ~1;
    const t = this.n++;
    const span = (w - box), vspan = (h - box);
    const bx = (Math.abs(((t * 4) % (2 * span)) - span)) & ~1;
    const by = (Math.abs(((t * 3) % (2 * vspan)) - vspan)) & ~1;
    const [yy, uu, vv] = rgbToYuv(1, 1, 1);
    for (let y = by; y < by + box; y++) Y.fill(yy, y * w + bx, y * w + bx + box);
    for (let y = by >> 1; y < (by + box) >> 1; y++) {
      U.fill(uu, y * cw + (bx >> 1), y * cw + ((bx + box) >> 1));
      V.fill(vv, y * cw + (bx >> 1), y * cw + ((bx + box) >> 1));
    }
    // A sweeping dark line across the gradient shows motion even in stills.
    const lineX = (t * 6) % w;
    for (let y = Math.round(h * 0.68); y < h; y++) Y[y * w + lineX] = 16;
    return out.buffer;
  }
}

/** RGBA pixels → a frame buffer in the channel format (BT.601 limited range). */
function rgbaToFrame(rgba, w, h) {
  const cw = w >> 1, ch = h >> 1;
  const buf = new Uint8Array(16 + w * h + 2 * cw * ch);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, w, true);
  dv.setUint32(4, h, true);
  const Y = buf.subarray(16, 16 + w * h), U = buf.subarray(16 + w * h, 16 + w * h + cw * ch), V = buf.subarray(16 + w * h + cw * ch);
  for (let i = 0, p = 0; i < w * h; i++, p += 4) Y[i] = rgbToYuv(rgba[p] / 255, rgba[p + 1] / 255, rgba[p + 2] / 255)[0];
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      const p = ((2 * y) * w + 2 * x) * 4;
      const [, u, v] = rgbToYuv(rgba[p] / 255, rgba[p + 1] / 255, rgba[p + 2] / 255);
      U[y * cw + x] = u;
      V[y * cw + x] = v;
    }
  }
  return buf;
}

/**
 * A fake shared desktop for the mock backend: a window of small, sharp text (to
 * check the 1:1 view) drawn once on a canvas, plus a moving "mouse pointer" block.
 */
export class ScreenPattern {
  constructor(width, height, title = 'Shared screen') {
    this.w = width & ~1;
    this.h = height & ~1;
    const c = document.createElement('canvas');
    c.width = this.w;
    c.height = this.h;
    const g = c.getContext('2d');
    const { w, h } = this;
    g.fillStyle = '#2b3a55';
    g.fillRect(0, 0, w, h);
    g.fillStyle = '#f8f9fa';
    g.fillRect(40, 40, w - 80, h - 80);
    g.fillStyle = '#dee2e6';
    g.fillRect(40, 40, w - 80, 36);
    g.fillStyle = '#212529';
    g.font = 'bold 16px sans-serif';
    g.fillText(title, 56, 64);
    g.font = '12px monospace';
    for (let y = 100, n = 1; y < h - 56; y += 16, n++) {
      g.fillStyle = n % 7 === 0 ? '#c92a2a' : '#343a40';
      g.fillText(`${String(n).padStart(3, ' ')}  The quick brown fox jumps over the lazy dog — 1:1 pixel text check ${'▮'.repeat(n % 5)}`, 56, y);
    }
    this.base = rgbaToFrame(g.getImageData(0, 0, w, h).data, w, h);
    this.n = 0;
  }

  next() {
    const { w, h } = this;
    const out = this.base.slice();
    new DataView(out.buffer).setBigUint64(8, BigInt(Math.round(performance.now() * 1000)), true);
    const Y = out.subarray(16, 16 + w * h);
    const t = this.n++;
    const x = 100 + Math.round((w - 240) * (0.5 + 0.5 * Math.sin(t / 9))), y = 120 + Math.round((h - 280) * (0.5 + 0.5 * Math.sin(t / 13)));
    for (let r = 0; r < 18; r++) Y.fill(16, (y + r) * w + x, (y + r) * w + x + Math.max(2, 12 - (r >> 1)));
    return out.buffer;
  }
}
