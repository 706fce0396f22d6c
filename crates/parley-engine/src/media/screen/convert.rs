//! RGBA → I420 (SIMD, through the `yuv` crate) and thumbnail scaling.

use yuv::{rgba_to_yuv420, YuvConversionMode, YuvRange, YuvStandardMatrix};

use super::RgbaImage;
use crate::media::video::I420Frame;
use crate::media::MediaError;

/// Converts `image` to a `width × height` I420 frame (BT.601 limited range, the
/// convention of [`I420Frame`]). A larger image is cropped at the right and bottom,
/// a smaller one padded with black. `width` and `height` must be even.
///
/// # Errors
/// [`MediaError::Invalid`] for odd or zero target dimensions or a buffer that is
/// not `width × height × 4` bytes of the image's size.
pub fn rgba_to_i420(
    image: &RgbaImage,
    width: u32,
    height: u32,
    capture_us: u64,
) -> Result<I420Frame, MediaError> {
    if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 {
        return Err(MediaError::Invalid(format!(
            "I420 needs even non-zero dimensions, got {width}x{height}"
        )));
    }
    let src_len = image.width as usize * image.height as usize * 4;
    if image.data.len() != src_len {
        return Err(MediaError::Invalid(format!(
            "RGBA {}x{} needs {src_len} bytes, got {}",
            image.width,
            image.height,
            image.data.len()
        )));
    }
    let padded;
    let (rgba, stride) = if image.width >= width && image.height >= height {
        (&image.data[..], image.width * 4)
    } else {
        padded = pad(image, width, height);
        (&padded[..], width * 4)
    };
    let mut frame = I420Frame::new_black(width, height);
    frame.capture_us = capture_us;
    let mut planar = frame.yuv_planar_mut();
    rgba_to_yuv420(
        &mut planar,
        rgba,
        stride,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
        YuvConversionMode::Balanced,
    )
    .map_err(|e| MediaError::Invalid(format!("RGBA to I420: {e}")))?;
    Ok(frame)
}

/// `image` placed at the top left of a black `width × height` RGBA canvas.
fn pad(image: &RgbaImage, width: u32, height: u32) -> Vec<u8> {
    let mut out = vec![0u8; width as usize * height as usize * 4];
    for px in out.chunks_exact_mut(4) {
        px[3] = 255;
    }
    let row = image.width.min(width) as usize * 4;
    for y in 0..image.height.min(height) as usize {
        let src = y * image.width as usize * 4;
        let dst = y * width as usize * 4;
        out[dst..dst + row].copy_from_slice(&image.data[src..src + row]);
    }
    out
}

/// `image` scaled down (box filter) to at most `max_width` pixels wide, aspect
/// kept; returned unchanged when already that small.
pub fn scale_rgba(image: &RgbaImage, max_width: u32) -> RgbaImage {
    if image.width <= max_width || image.width == 0 || max_width == 0 {
        return image.clone();
    }
    let w = max_width;
    let h = ((u64::from(image.height) * u64::from(w)) / u64::from(image.width)).max(1) as u32;
    let mut data = vec![0u8; w as usize * h as usize * 4];
    for ty in 0..h {
        let y0 = ty * image.height / h;
        let y1 = ((ty + 1) * image.height / h).max(y0 + 1);
        for tx in 0..w {
            let x0 = tx * image.width / w;
            let x1 = ((tx + 1) * image.width / w).max(x0 + 1);
            let mut sum = [0u32; 4];
            for y in y0..y1 {
                for x in x0..x1 {
                    let i = (y as usize * image.width as usize + x as usize) * 4;
                    for (c, s) in sum.iter_mut().enumerate() {
                        *s += u32::from(image.data[i + c]);
                    }
                }
            }
            let n = (y1 - y0) * (x1 - x0);
            let o = (ty as usize * w as usize + tx as usize) * 4;
            for c in 0..4 {
                data[o + c] = (sum[c] / n) as u8;
            }
        }
    }
    RgbaImage {
        width: w,
        height: h,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(w: u32, h: u32, rgb: [u8; 3]) -> RgbaImage {
        let data = (0..w * h)
            .flat_map(|_| [rgb[0], rgb[1], rgb[2], 255])
            .collect();
        RgbaImage {
            width: w,
            height: h,
            data,
        }
    }

    #[test]
    fn white_and_black_map_to_limited_range() {
        let f = rgba_to_i420(&solid(8, 4, [255, 255, 255]), 8, 4, 0).unwrap();
        assert!(
            f.y().iter().all(|&y| (234..=236).contains(&y)),
            "{:?}",
            f.y()
        );
        let f = rgba_to_i420(&solid(8, 4, [0, 0, 0]), 8, 4, 0).unwrap();
        assert!(f.y().iter().all(|&y| (15..=17).contains(&y)));
        assert!(f.u().iter().all(|&u| (127..=129).contains(&u)));
    }

    #[test]
    fn odd_sizes_are_cropped_and_small_ones_padded() {
        let f = rgba_to_i420(&solid(9, 5, [255, 255, 255]), 8, 4, 7).unwrap();
        assert_eq!((f.width, f.height, f.capture_us), (8, 4, 7));
        let f = rgba_to_i420(&solid(4, 2, [255, 255, 255]), 8, 4, 0).unwrap();
        assert!(f.y()[0] > 200, "the image is at the top left");
        assert!(f.y()[8 * 4 - 1] < 20, "the rest is black");
        assert!(rgba_to_i420(&solid(4, 2, [0; 3]), 7, 4, 0).is_err());
        let bad = RgbaImage {
            width: 4,
            height: 4,
            data: vec![0; 3],
        };
        assert!(rgba_to_i420(&bad, 4, 4, 0).is_err());
    }

    #[test]
    fn thumbnails_keep_aspect_and_average() {
        let mut img = solid(40, 20, [0, 0, 0]);
        for px in img.data.chunks_exact_mut(8) {
            px[..3].copy_from_slice(&[200, 200, 200]);
        }
        let t = scale_rgba(&img, 10);
        assert_eq!((t.width, t.height), (10, 5));
        assert!(t.data.chunks_exact(4).all(|p| (99..=101).contains(&p[0])));
        assert_eq!(scale_rgba(&img, 100), img);
    }
}
