//! Video: I420 frames, self-paced sources, the H.264 codec and a Y4M sink.

mod camera;
mod clock_stamp;
mod h264;
mod pattern;
mod scale;
mod y4m_io;

pub use camera::{list_cameras, rgb_to_i420, CameraInfo, CameraSource, DEFAULT_CAMERA_MODE};
pub use clock_stamp::{read_stamp, stamp, unix_ms, ClockStampSource, STAMP_BLOCK};
pub use h264::{nal_types, ContentHint, H264Decoder, H264Encoder};
pub use pattern::TestPatternSource;
pub use scale::{half_size, scale};
pub use y4m_io::{read_y4m_all, Y4mFileSource, Y4mRecorder};

use super::MediaError;

/// One 8-bit 4:2:0 picture, planar, tightly packed (no stride padding).
///
/// `data` holds the Y plane (`width × height` bytes), then U, then V (each
/// `⌈width/2⌉ × ⌈height/2⌉` bytes; `(width/2) × (height/2)` for the even
/// dimensions every codec here requires). Values are BT.601 limited range
/// (Y 16–235, U/V 16–240), the convention of cameras, Y4M files and H.264.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct I420Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Y plane, then U, then V, tightly packed.
    pub data: Vec<u8>,
    /// Capture time in monotonic microseconds ([`crate::media::monotonic_us`]).
    pub capture_us: u64,
}

impl I420Frame {
    /// Bytes of a tight I420 picture of `width × height` pixels.
    pub fn byte_len(width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
    }

    /// Wraps `data` (layout as in the type docs) as a frame.
    ///
    /// # Errors
    /// [`MediaError::Invalid`] if `data.len()` is not [`I420Frame::byte_len`].
    pub fn from_data(
        width: u32,
        height: u32,
        data: Vec<u8>,
        capture_us: u64,
    ) -> Result<Self, MediaError> {
        let want = Self::byte_len(width, height);
        if data.len() != want {
            return Err(MediaError::Invalid(format!(
                "I420 {width}x{height} needs {want} bytes, got {}",
                data.len()
            )));
        }
        Ok(Self {
            width,
            height,
            data,
            capture_us,
        })
    }

    /// A black picture (Y 16, U and V 128) of `width × height` pixels, stamped now.
    pub fn new_black(width: u32, height: u32) -> Self {
        let y_len = width as usize * height as usize;
        let mut data = vec![128u8; Self::byte_len(width, height)];
        data[..y_len].fill(16);
        Self {
            width,
            height,
            data,
            capture_us: super::monotonic_us(),
        }
    }

    /// Width of the U and V planes in pixels (`⌈width/2⌉`).
    pub fn chroma_width(&self) -> usize {
        (self.width as usize).div_ceil(2)
    }

    /// Height of the U and V planes in pixels (`⌈height/2⌉`).
    pub fn chroma_height(&self) -> usize {
        (self.height as usize).div_ceil(2)
    }

    fn y_len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    fn c_len(&self) -> usize {
        self.chroma_width() * self.chroma_height()
    }

    /// The luma plane: `height` rows of `width` bytes.
    pub fn y(&self) -> &[u8] {
        &self.data[..self.y_len()]
    }

    /// The U (Cb) plane: [`chroma_height`](Self::chroma_height) rows of
    /// [`chroma_width`](Self::chroma_width) bytes.
    pub fn u(&self) -> &[u8] {
        let (y, c) = (self.y_len(), self.c_len());
        &self.data[y..y + c]
    }

    /// The V (Cr) plane, shaped like [`u`](Self::u).
    pub fn v(&self) -> &[u8] {
        let (y, c) = (self.y_len(), self.c_len());
        &self.data[y + c..y + 2 * c]
    }

    /// The three planes, mutable: `(Y, U, V)`.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let (y, c) = (self.y_len(), self.c_len());
        let (luma, chroma) = self.data.split_at_mut(y);
        let (u, v) = chroma.split_at_mut(c);
        (luma, u, &mut v[..c])
    }

    /// The three planes as the `yuv` crate's destination image (strides: the
    /// width for Y, half of it for U and V), for its SIMD conversions.
    pub(crate) fn yuv_planar_mut(&mut self) -> yuv::YuvPlanarImageMut<'_, u8> {
        let (width, height) = (self.width, self.height);
        let (y, u, v) = self.planes_mut();
        yuv::YuvPlanarImageMut {
            y_plane: yuv::BufferStoreMut::Borrowed(y),
            y_stride: width,
            u_plane: yuv::BufferStoreMut::Borrowed(u),
            u_stride: width / 2,
            v_plane: yuv::BufferStoreMut::Borrowed(v),
            v_stride: width / 2,
            width,
            height,
        }
    }
}

/// A producer of video frames that paces itself.
///
/// [`next_frame`](VideoSource::next_frame) blocks until the next frame is due at
/// [`fps`](VideoSource::fps) (absolute deadlines, so no drift accumulates), then
/// returns it stamped with its capture time.
pub trait VideoSource: Send {
    /// Frame width in pixels.
    fn width(&self) -> u32;
    /// Frame height in pixels.
    fn height(&self) -> u32;
    /// Nominal frame rate in frames per second (Hz).
    fn fps(&self) -> f64;
    /// Blocks until the next frame is due and returns it.
    ///
    /// # Errors
    /// [`MediaError::EndOfStream`] when a finite source is done; device, I/O or
    /// format errors otherwise.
    fn next_frame(&mut self) -> Result<I420Frame, MediaError>;
}

/// Luma PSNR of `b` against `a` in dB; 100.0 when identical, 0.0 when the
/// dimensions differ.
pub fn psnr_y(a: &I420Frame, b: &I420Frame) -> f64 {
    if a.width != b.width || a.height != b.height || a.y().is_empty() {
        return 0.0;
    }
    let sse: u64 = a
        .y()
        .iter()
        .zip(b.y())
        .map(|(&p, &q)| {
            let d = i64::from(p) - i64::from(q);
            (d * d) as u64
        })
        .sum();
    if sse == 0 {
        return 100.0;
    }
    let mse = sse as f64 / a.y().len() as f64;
    (10.0 * (255.0 * 255.0 / mse).log10()).min(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_and_black() {
        let mut f = I420Frame::new_black(4, 2);
        assert_eq!(f.data.len(), 8 + 2 + 2);
        assert_eq!(f.y(), &[16; 8]);
        assert_eq!(f.u(), &[128; 2]);
        f.planes_mut().2[1] = 7;
        assert_eq!(f.v(), &[128, 7]);
        assert_eq!(psnr_y(&f, &f.clone()), 100.0);
        let mut g = f.clone();
        g.planes_mut().0[0] = 17;
        let p = psnr_y(&f, &g);
        assert!(p > 50.0 && p < 100.0, "{p}");
        assert!(I420Frame::from_data(4, 2, vec![0; 11], 0).is_err());
    }
}
