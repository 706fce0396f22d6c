//! A known picture for screen-share tests: colour bars, a gradient, a fine
//! checkerboard and lines of 1-pixel and 2-pixel text, written as PPM (which
//! ImageMagick's `display` shows), plus its BT.601 luma for comparisons.
#![allow(dead_code)]

/// Width of the card, pixels.
pub const W: usize = 640;
/// Height of the card, pixels.
pub const H: usize = 400;
/// First row of the text band.
pub const TEXT_TOP: usize = 240;

/// 5×7 glyphs, one byte per row, bit 4 = leftmost column.
fn glyph(c: char) -> [u8; 7] {
    match c {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        _ => [0; 7],
    }
}

fn text(rgb: &mut [u8], x0: usize, y0: usize, scale: usize, s: &str) {
    for (i, c) in s.chars().enumerate() {
        let g = glyph(c);
        for (row, bits) in g.iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let x = x0 + (i * 6 + col) * scale + dx;
                        let y = y0 + row * scale + dy;
                        if x < W && y < H {
                            rgb[(y * W + x) * 3..][..3].copy_from_slice(&[0, 0, 0]);
                        }
                    }
                }
            }
        }
    }
}

/// The card as packed RGB, `W × H × 3` bytes.
pub fn rgb() -> Vec<u8> {
    const BARS: [[u8; 3]; 8] = [
        [235, 235, 235],
        [235, 235, 16],
        [16, 235, 235],
        [16, 235, 16],
        [235, 16, 235],
        [235, 16, 16],
        [16, 16, 235],
        [16, 16, 16],
    ];
    let mut rgb = vec![255u8; W * H * 3];
    for y in 0..TEXT_TOP {
        for x in 0..W {
            let px = match y {
                0..120 => BARS[x * 8 / W],
                120..200 => {
                    let v = (x * 255 / (W - 1)) as u8;
                    [v, v, v]
                }
                _ => {
                    let v = if (x / 4 + y / 4) % 2 == 0 { 0 } else { 255 };
                    [v, v, v]
                }
            };
            rgb[(y * W + x) * 3..][..3].copy_from_slice(&px);
        }
    }
    let lines = [
        (1, "PARLEY SHARES TEXT 1:1 0123456789 PARLEY SHARES TEXT"),
        (1, "9876543210 TEXT SHARES PARLEY 1:1 2468 1357 SHARP TEXT"),
        (2, "PARLEY SHARES TEXT 1:1"),
        (2, "0123456789 9876543210"),
        (1, "SHARP PIXELS 1:1 EXACT 0123456789 PARLEY SHARES TEXT"),
        (3, "TEXT 1:1 PARLEY"),
    ];
    let mut y = TEXT_TOP + 8;
    for (scale, s) in lines {
        text(&mut rgb, 8, y, scale, s);
        y += 7 * scale + 10;
    }
    rgb
}

/// The card as a binary PPM (P6) file.
pub fn ppm() -> Vec<u8> {
    let mut out = format!("P6\n{W} {H}\n255\n").into_bytes();
    out.extend_from_slice(&rgb());
    out
}

/// BT.601 limited-range luma of the card, `W × H` bytes (what an I420 capture of
/// it should hold).
pub fn luma() -> Vec<u8> {
    rgb()
        .chunks_exact(3)
        .map(|p| {
            let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
            (16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0).round() as u8
        })
        .collect()
}

/// PSNR (dB) of the rows `rows` of the card's luma against the same region of a
/// `width`-wide luma plane where the card's top-left corner sits at `(x0, y0)`.
pub fn region_psnr(
    card: &[u8],
    plane: &[u8],
    width: usize,
    x0: usize,
    y0: usize,
    rows: std::ops::Range<usize>,
) -> f64 {
    let mut sse = 0.0;
    let mut n = 0.0;
    for y in rows {
        for x in 0..W {
            let a = f64::from(card[y * W + x]);
            let b = f64::from(plane[(y0 + y) * width + x0 + x]);
            sse += (a - b) * (a - b);
            n += 1.0;
        }
    }
    if sse == 0.0 {
        return 100.0;
    }
    10.0 * (255.0 * 255.0 / (sse / n)).log10()
}
