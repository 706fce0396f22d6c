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
