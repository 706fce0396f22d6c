//! Small image helpers for screenshot checks: PNG → luma, masked box downscaling,
//! mean absolute difference and normalised correlation.
#![allow(dead_code)]

/// A rectangle in pixels (may be fractional).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// True when the point lies inside (left/top edges included).
    pub fn contains(&self, px: f64, py: f64) -> bool {
        (self.x..self.x + self.w).contains(&px) && (self.y..self.y + self.h).contains(&py)
    }
}

/// An 8-bit luma picture (BT.601 limited range, like the decoder's Y plane).
#[derive(Debug, Clone)]
pub struct Luma {
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
    /// Row-major samples.
    pub px: Vec<f32>,
}

/// Decodes a PNG (grey, RGB, with or without alpha, any bit depth) into luma.
pub fn png_luma(bytes: &[u8]) -> Result<Luma, String> {
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes));
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().map_err(|e| format!("png: {e}"))?;
    let mut buf = vec![0u8; reader.output_buffer_size().ok_or("png: too large")?];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("png: {e}"))?;
    let (w, h) = (info.width, info.height);
    let channels = info.color_type.samples();
    let mut px = Vec::with_capacity((w * h) as usize);
    for row in 0..h as usize {
        let line = &buf[row * info.line_size..];
        for col in 0..w as usize {
            let p = &line[col * channels..];
            let (r, g, b) = match channels {
                1 | 2 => (p[0], p[0], p[0]),
                _ => (p[0], p[1], p[2]),
            };
            px.push(16.0 + (65.481 * r as f32 + 128.553 * g as f32 + 24.966 * b as f32) / 255.0);
        }
    }
    Ok(Luma { w, h, px })
}

/// Mean absolute difference of two equally sized pictures (luma levels); `None`
/// when the sizes differ.
pub fn mean_abs_diff(a: &Luma, b: &Luma) -> Option<f64> {
    if a.w != b.w || a.h != b.h || a.px.is_empty() {
        return None;
    }
    let sum: f64 =
        a.px.iter()
            .zip(&b.px)
            .map(|(x, y)| (x - y).abs() as f64)
            .sum();
    Some(sum / a.px.len() as f64)
}

/// Box-averages `area` of `pic` into a `gw × gh` grid, ignoring pixels inside any
/// `mask` rectangle. A cell with less than half its pixels usable is `None`.
pub fn downscale_masked(
    pic: &Luma,
    area: Rect,
    mask: &[Rect],
    gw: usize,
    gh: usize,
) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(gw * gh);
    for gy in 0..gh {
        for gx in 0..gw {
            let x0 = area.x + area.w * gx as f64 / gw as f64;
            let x1 = area.x + area.w * (gx + 1) as f64 / gw as f64;
            let y0 = area.y + area.h * gy as f64 / gh as f64;
            let y1 = area.y + area.h * (gy + 1) as f64 / gh as f64;
            let (mut sum, mut n, mut total) = (0.0, 0usize, 0usize);
            let (ys, ye) = (y0.round().max(0.0) as u32, (y1.round() as u32).min(pic.h));
            let (xs, xe) = (x0.round().max(0.0) as u32, (x1.round() as u32).min(pic.w));
            for y in ys..ye {
                for x in xs..xe {
                    total += 1;
                    let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
                    if mask.iter().any(|m| m.contains(cx, cy)) {
                        continue;
                    }
                    sum += pic.px[(y * pic.w + x) as usize] as f64;
                    n += 1;
                }
            }
            out.push(if total > 0 && n * 2 >= total {
                Some(sum / n as f64)
            } else {
                None
            });
        }
    }
    out
}

/// Box-averages a whole 8-bit plane (`w × h`) into a `gw × gh` grid.
pub fn downscale_plane(plane: &[u8], w: usize, h: usize, gw: usize, gh: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(gw * gh);
    for gy in 0..gh {
        for gx in 0..gw {
            let (x0, x1) = (w * gx / gw, w * (gx + 1) / gw);
            let (y0, y1) = (h * gy / gh, h * (gy + 1) / gh);
            let mut sum = 0u64;
            for y in y0..y1 {
                for x in x0..x1 {
                    sum += plane[y * w + x] as u64;
                }
            }
            out.push(sum as f64 / ((x1 - x0) * (y1 - y0)).max(1) as f64);
        }
    }
    out
}

/// Pearson correlation of `a` and `b` over the cells where `a` is known; 0 when
/// either side is flat or too few cells are usable.
pub fn correlation(a: &[Option<f64>], b: &[f64]) -> f64 {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter_map(|(x, y)| x.map(|x| (x, *y)))
        .collect();
    if pairs.len() < a.len() / 2 || pairs.len() < 4 {
        return 0.0;
    }
    let n = pairs.len() as f64;
    let (ma, mb) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa <= f64::EPSILON || sbb <= f64::EPSILON {
        return 0.0;
    }
    sab / (saa * sbb).sqrt()
}

/// The rectangle a `fw × fh` frame is drawn into inside a `cw × ch` canvas,
/// letterboxed and centred: the same arithmetic as `letterbox()` in ui/js/video.js.
pub fn letterbox(cw: f64, ch: f64, fw: f64, fh: f64) -> Rect {
    let scale = (cw / fw).min(ch / fh);
    let (w, h) = ((fw * scale).round(), (fh * scale).round());
    Rect {
        x: ((cw - w) / 2.0).floor(),
        y: ((ch - h) / 2.0).floor(),
        w,
        h,
    }
}
